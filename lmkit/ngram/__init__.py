"""Counting n-gram language models: smoothing, backoff, ARPA files, scoring."""
from ..lm import LanguageModel, Perplexity
from .counts import NgramCounts, adjusted_counts, count_ngrams
from .estimators import SMOOTHINGS, estimate, kenlm_discounts
from .mix import best_mix_weights, mix_models
from .model import NgramModel
from .prune import entropy_deltas, prune_model
from .state import FullScoreReturn, State

__all__ = ["NgramModel", "State", "FullScoreReturn", "Perplexity", "LanguageModel", "NgramCounts",
           "count_ngrams", "adjusted_counts", "estimate", "kenlm_discounts", "SMOOTHINGS", "prune_model",
           "entropy_deltas", "best_mix_weights", "mix_models"]
