"""Counting n-gram language models: smoothing, backoff, ARPA files, scoring.

The names below load their modules on first use, so that ``lmkit.ngram.binfile`` and
``lmkit.ngram.quick`` (binary files read and scored with numpy alone) can be imported without
numba."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "LanguageModel": "..lm", "Perplexity": "..lm",
    "NgramCounts": ".counts", "adjusted_counts": ".counts", "count_ngrams": ".counts",
    "SMOOTHINGS": ".estimators", "estimate": ".estimators", "kenlm_discounts": ".estimators",
    "best_mix_weights": ".mix", "mix_models": ".mix",
    "NgramModel": ".model",
    "entropy_deltas": ".prune", "prune_model": ".prune",
    "FullScoreReturn": ".state", "State": ".state",
}

__all__ = ["NgramModel", "State", "FullScoreReturn", "Perplexity", "LanguageModel", "NgramCounts",
           "count_ngrams", "adjusted_counts", "estimate", "kenlm_discounts", "SMOOTHINGS", "prune_model",
           "entropy_deltas", "best_mix_weights", "mix_models"]

if TYPE_CHECKING:
    from ..lm import LanguageModel, Perplexity
    from .counts import NgramCounts, adjusted_counts, count_ngrams
    from .estimators import SMOOTHINGS, estimate, kenlm_discounts
    from .mix import best_mix_weights, mix_models
    from .model import NgramModel
    from .prune import entropy_deltas, prune_model
    from .state import FullScoreReturn, State


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lmkit.ngram' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
