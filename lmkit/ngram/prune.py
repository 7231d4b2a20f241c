"""Entropy-based pruning of backoff models (Stolcke 1998, "Entropy-based pruning of backoff
language models"), as SRILM's ``ngram -prune``.

Each n-gram (order >= 2) is scored by the relative entropy its removal alone would cause;
n-grams whose removal raises perplexity by less than ``threshold`` (relative), or all but
the ``target_size`` most valuable ones, are dropped together; contexts and suffixes of kept
n-grams are kept; then every backoff weight is recomputed so the model sums to one again.
"""
from __future__ import annotations

import logging

import numpy as np

from ..errors import ConfigError
from ..text import BOS_ID
from .model import NgramModel

log = logging.getLogger(__name__)


def _group_sum(ctx: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(ctx, weights=values, minlength=n)


def entropy_deltas(model: NgramModel) -> list[np.ndarray]:
    """Per order k >= 2 (list index k-1; index 0 is empty): the relative entropy (nats)
    that removing each n-gram alone adds, D = -P(h) [p(w|h) (ln p'(w|h) - ln p(w|h))
    + (ln a'(h) - ln a(h)) (1 - sum_seen p(.|h))], with p'(w|h) = a'(h) p(w|h')."""
    if not model.is_probability:
        raise ConfigError("entropy pruning needs a probability model, not stupid backoff")
    if not model.is_backoff_model:
        raise ConfigError("entropy pruning needs a backoff model; additive ('add') smoothing "
                          "falls back to the uniform distribution (use 'add-backoff')")
    suffix = model.suffix_ids()
    N = model.order
    p = [10.0 ** m.astype(np.float64) for m in model.log_probs]
    p[0][BOS_ID] = 1.0
    # P(h) of every n-gram as a history: chain of its own probabilities
    hist = [p[0].copy()]
    for k in range(2, N):
        hist.append(hist[k - 2][model.ctx[k - 1]] * p[k - 1])
    deltas = [np.zeros(0)]
    for k in range(2, N + 1):
        ctx, sfx = model.ctx[k - 1], suffix[k - 1]
        n_ctx = model.sizes[k - 2]
        pk = p[k - 1]
        p_low = model.lower_order_probs(k, sfx, p)
        seen = _group_sum(ctx, pk, n_ctx)
        seen_low = _group_sum(ctx, p_low, n_ctx)
        alpha = 10.0 ** model.log_backoffs[k - 2].astype(np.float64)
        num = 1.0 - seen[ctx] + pk
        den = 1.0 - seen_low[ctx] + p_low
        alpha_new = np.maximum(num, 1e-300) / np.maximum(den, 1e-300)
        ph = hist[k - 2][ctx]
        d = -ph * (pk * (np.log(p_low) + np.log(alpha_new) - np.log(pk))
                   + (np.log(alpha_new) - np.log(alpha[ctx])) * (1.0 - seen[ctx]))
        deltas.append(np.maximum(d, 0.0))
    return deltas


def prune_model(model: NgramModel, threshold: float | None = None,
                target_size: int | None = None) -> NgramModel:
    """A smaller model: drop n-grams by relative entropy and renormalise the backoffs.

    ``threshold``: drop n-grams whose removal increases perplexity by less than this
    relative amount (SRILM's ``-prune``, e.g. 1e-8). ``target_size``: keep this many n-grams
    of order >= 2 at most (the ones whose removal would cost most).
    """
    if (threshold is None) == (target_size is None):
        raise ConfigError("give exactly one of threshold= or target_size=")
    if threshold is not None and threshold < 0:
        raise ConfigError(f"threshold must be >= 0, got {threshold}")
    N = model.order
    if N < 2:
        return model
    deltas = entropy_deltas(model)
    rel = [np.expm1(d) for d in deltas]  # relative perplexity increase of each removal
    if target_size is not None:
        if target_size < 0:
            raise ConfigError(f"target_size must be >= 0, got {target_size}")
        allv = np.concatenate(rel[1:])
        if target_size >= len(allv):
            threshold = -1.0
        else:
            threshold = float(np.partition(allv, len(allv) - target_size - 1)[len(allv) - target_size - 1]) \
                if target_size > 0 else np.inf
    keep = [np.ones(model.sizes[0], bool)] + [r > threshold for r in rel[1:]]
    suffix = model.suffix_ids()
    for k in range(N, 2, -1):  # contexts and suffixes of kept n-grams stay
        kk = keep[k - 1]
        keep[k - 2][model.ctx[k - 1][kk]] = True
        keep[k - 2][suffix[k - 1][kk]] = True
    pruned = model.subset(keep)
    pruned.renormalize_backoffs()
    pruned.meta["entropy_pruned"] = {"threshold": threshold, "sizes_before": model.sizes}
    log.info("entropy pruning: %s -> %s n-grams", model.sizes, pruned.sizes)
    return pruned
