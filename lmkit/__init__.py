"""lmkit: language modeling toolkit — one shared text layer, counting n-gram LMs,
word2vec embeddings and attentional encoder-decoder translation, in numpy and numba.

The families load on first use (``lmkit.NgramModel`` imports the n-gram family then), so
``import lmkit`` and the command line start quickly.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import ConfigError, CorpusError, LmkitError, ModelFormatError

__version__ = "0.1.0"

_LAZY = {
    "Corpus": "lmkit.text", "EncodedCorpus": "lmkit.text", "Tokenizer": "lmkit.text",
    "Vocabulary": "lmkit.text", "encode_corpus": "lmkit.text",
    "NgramModel": "lmkit.ngram",
    "KeyedVectors": "lmkit.embed", "Word2Vec": "lmkit.embed",
    "Seq2Seq": "lmkit.translate", "Translator": "lmkit.translate", "corpus_bleu": "lmkit.translate",
}

__all__ = ["__version__", "LmkitError", "ConfigError", "CorpusError", "ModelFormatError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lmkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
