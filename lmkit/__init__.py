"""lmkit: language modeling toolkit — one shared text layer, counting n-gram LMs,
word2vec embeddings and attentional encoder-decoder translation, in numpy and numba."""
__version__ = "0.1.0"

from .errors import ConfigError, CorpusError, LmkitError, ModelFormatError
from .text import (Corpus, EncodedCorpus, Tokenizer, Vocabulary, encode_corpus)
from .ngram import NgramModel
from .embed import KeyedVectors, Word2Vec
from .translate import Seq2Seq, Translator, corpus_bleu

__all__ = ["__version__", "LmkitError", "ConfigError", "CorpusError", "ModelFormatError",
           "Corpus", "EncodedCorpus", "Tokenizer", "Vocabulary", "encode_corpus", "NgramModel",
           "Word2Vec", "KeyedVectors", "Seq2Seq", "Translator", "corpus_bleu"]
