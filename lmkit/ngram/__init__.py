"""Counting n-gram language models: smoothing, backoff, ARPA files, scoring."""
from .counts import NgramCounts, adjusted_counts, count_ngrams
from .estimators import SMOOTHINGS, estimate, kenlm_discounts
from .model import NgramModel, Perplexity

__all__ = ["NgramModel", "Perplexity", "NgramCounts", "count_ngrams", "adjusted_counts",
           "estimate", "kenlm_discounts", "SMOOTHINGS"]
