"""Encoder-decoder translation with attention, in numpy: model, training, decoding, BLEU."""
from .bleu import (
           BLEUScore,
           CHRFScore,
           corpus_bleu,
           corpus_chrf,
           sentence_bleu,
           sentence_chrf,
           tokenize_13a,
)
from .data import (
           ParallelData,
           build_vocabs,
           encode_parallel,
           make_batches,
           pad_batch,
           read_parallel,
)
from .decode import beam_search, beam_search_batch, beam_search_nbest, greedy
from .model import Seq2Seq, Seq2SeqConfig
from .train import TrainConfig, Trainer, average_checkpoints
from .translator import Translation, Translator

__all__ = ["Seq2Seq", "Seq2SeqConfig", "Trainer", "TrainConfig", "Translator", "Translation",
           "corpus_bleu", "sentence_bleu", "corpus_chrf", "sentence_chrf", "BLEUScore", "CHRFScore",
           "tokenize_13a", "beam_search", "beam_search_batch", "beam_search_nbest", "greedy", "read_parallel",
           "build_vocabs", "encode_parallel", "make_batches", "pad_batch", "ParallelData",
           "average_checkpoints"]
