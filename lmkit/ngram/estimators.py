"""Smoothing: from raw n-gram counts to conditional probabilities and backoff weights.

Every estimator yields, per order k, a "seen" part ``alpha_k`` for each counted n-gram and a
weight for each context; then one of two assemblies makes the model:

- interpolated: p_k(w|c) = alpha_k(c w) + gamma(c) p_{k-1}(w|c'), and the ARPA backoff of c
  is gamma(c) (what KenLM's lmplz writes);
- backoff (Katz style): p_k(w|c) = alpha_k(c w) for seen n-grams and the backoff weight of c
  renormalises the lower order over the unseen words.

Both sum to one over the vocabulary (``</s>`` included, ``<s>`` excluded) for every context.
Stupid backoff (Brants et al. 2007) gives scores, not probabilities.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..text import BOS_ID
from .counts import NgramCounts, adjusted_counts

log = logging.getLogger(__name__)

#: lmplz's --discount_fallback defaults: D1, D2, D3+ used when the count-of-counts fail.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)

SMOOTHINGS = {
    "mkn": "modified Kneser-Ney (Chen & Goodman; exactly as KenLM's lmplz), interpolated",
    "kn": "Kneser-Ney with one discount per order, interpolated",
    "abs": "absolute discounting, interpolated",
    "wb": "Witten-Bell, interpolated",
    "katz": "Katz backoff with Good-Turing discounting",
    "add": "additive (Laplace k=1, Lidstone k=--discount) with backoff renormalisation",
    "mle": "maximum likelihood with backoff (unseen events get probability 0)",
    "stupid": "stupid backoff (Brants et al. 2007): scores, NOT probabilities",
}


@dataclass
class Estimate:
    """Per order k (index k-1): log10 p(w | context) of each n-gram, and log10 backoff of
    each n-gram as a context (0 where it is not one; none for the highest order)."""
    logprob: list[np.ndarray]
    backoff: list[np.ndarray]
    discounts: np.ndarray | None = None   # [order, 4]: D0 (=0), D1, D2, D3+ where relevant
    is_probability: bool = True
    keep: list[np.ndarray] | None = None  # per order, n-grams that survive count pruning


def count_of_counts(adj: np.ndarray, upto: int = 4) -> np.ndarray:
    """t[r] = number of n-grams with count r, for r = 0..upto."""
    return np.bincount(np.minimum(adj, upto + 1), minlength=upto + 2)[: upto + 1]


def kenlm_discounts(adj: list[np.ndarray], fallback=FALLBACK_DISCOUNTS) -> np.ndarray:
    """Modified Kneser-Ney discounts D1, D2, D3+ per order from the count-of-counts of the
    adjusted counts (Chen & Goodman eq. 26), in float32 like lmplz; an order whose counts
    make them undefined or out of range falls back to ``fallback`` with a warning."""
    out = np.zeros((len(adj), 4), dtype=np.float64)
    f32 = np.float32
    for i, a in enumerate(adj):
        t = count_of_counts(a)
        ok = all(t[j] > 0 for j in (1, 2, 3))
        if ok:
            y = f32(f32(t[1]) / f32(t[1] + 2.0 * t[2]))
            d = [f32(j) - f32(j + 1) * y * f32(t[j + 1]) / f32(t[j]) for j in (1, 2, 3)]
            ok = all(0.0 <= d[j - 1] <= j for j in (1, 2, 3))
        if not ok:
            log.warning("order %d: count-of-counts %s give no valid Kneser-Ney discounts "
                        "(small or artificial data?); falling back to D = %s",
                        i + 1, t[1:5].tolist(), list(fallback))
            d = list(fallback)
        out[i, 1:] = d
    return out


def _group_sum(ctx: np.ndarray, values: np.ndarray, n_ctx: int) -> np.ndarray:
    return np.bincount(ctx, weights=values, minlength=n_ctx)


def _contexts(counts: NgramCounts, k: int) -> tuple[np.ndarray, int]:
    """Order k's context id per n-gram (all 0 for unigrams: one shared empty context) and
    the number of contexts."""
    oc = counts.orders[k - 1]
    if k == 1:
        return np.zeros(len(oc), np.int64), 1
    return oc.ctx, len(counts.orders[k - 2])


def _interpolate(counts: NgramCounts, alpha: list[np.ndarray], gamma: list[np.ndarray],
                 unigram_base: float, keep: list[np.ndarray]) -> Estimate:
    """p_k = alpha_k + gamma_k[ctx] * p_{k-1}[suffix]; backoff of a context = gamma.

    The seen mass of pruned n-grams moves to their context's gamma (as lmplz --prune does),
    so the pruned model still sums to one."""
    logprob, backoff = [], []
    gamma = list(gamma)
    for k in range(2, counts.order + 1):
        pruned = ~keep[k - 1]
        if pruned.any():
            oc = counts.orders[k - 1]
            gamma[k - 1] = gamma[k - 1] + _group_sum(oc.ctx[pruned], alpha[k - 1][pruned], len(gamma[k - 1]))
    p_lower = None
    for k in range(1, counts.order + 1):
        oc = counts.orders[k - 1]
        if k == 1:
            p = alpha[0] + gamma[0][0] * unigram_base
        else:
            p = alpha[k - 1] + gamma[k - 1][oc.ctx] * p_lower[oc.suffix]
        p_lower = p
        with np.errstate(divide="ignore"):
            logprob.append(np.log10(p))
    for k in range(1, counts.order):
        g = gamma[k]  # weights of order-k contexts, used by order k+1
        has_ext = np.bincount(counts.orders[k].ctx, minlength=len(counts.orders[k - 1])) > 0
        with np.errstate(divide="ignore"):
            backoff.append(np.where(has_ext, np.log10(np.where(has_ext, g, 1.0)), 0.0))
    backoff.append(np.zeros(0))
    return Estimate(logprob, backoff)


def _backoff(counts: NgramCounts, alpha: list[np.ndarray], unigram: np.ndarray,
             keep: list[np.ndarray]) -> Estimate:
    """Katz assembly: p_k = alpha_k for seen n-grams; the backoff weight of each context
    gives the unseen words the lower order's shape with the left-over mass."""
    logprob = []
    backoff = []
    p_lower = unigram
    with np.errstate(divide="ignore"):
        logprob.append(np.log10(unigram))
    for k in range(2, counts.order + 1):
        oc = counts.orders[k - 1]
        n_ctx = len(counts.orders[k - 2])
        kept = keep[k - 1]
        seen = _group_sum(oc.ctx[kept], alpha[k - 1][kept], n_ctx)
        seen_lower = _group_sum(oc.ctx[kept], p_lower[oc.suffix[kept]], n_ctx)
        has_ext = np.bincount(oc.ctx[kept], minlength=n_ctx) > 0
        left = np.clip(1.0 - seen, 0.0, None)
        left_lower = 1.0 - seen_lower
        with np.errstate(divide="ignore", invalid="ignore"):
            bow = np.where(left_lower > 1e-12, left / np.where(left_lower > 1e-12, left_lower, 1.0), 0.0)
            backoff.append(np.where(has_ext, np.log10(np.where(has_ext, bow, 1.0)), 0.0))
            p = alpha[k - 1].copy()
            logprob.append(np.log10(p))
        # p_k for all seen k-grams is what order k+1 backs off to for its suffixes
        p_lower = p
    backoff.append(np.zeros(0))
    return Estimate(logprob, backoff)


def _uniform_size(counts: NgramCounts) -> int:
    """Words a model predicts: the vocabulary less <s> (<unk> and </s> included)."""
    return counts.vocab_size - 1


def prune_masks(counts: NgramCounts, prune) -> list[np.ndarray]:
    """Which n-grams survive count pruning: order k keeps raw counts above ``prune[k-1]``
    (lmplz's ``--prune``: thresholds per order, the unigram one 0, never decreasing; the last
    one repeats for higher orders). Prefixes and suffixes of a kept n-gram are kept too."""
    N = counts.order
    if not prune:
        return [np.ones(len(o), bool) for o in counts.orders]
    t = list(prune) + [prune[-1]] * max(0, N - len(prune))
    if any(x < 0 for x in t):
        raise ConfigError(f"prune thresholds must be >= 0, got {list(prune)}")
    if t[0] != 0:
        raise ConfigError("the unigram prune threshold must be 0 (unigrams are never pruned)")
    if any(b < a for a, b in zip(t, t[1:])):
        raise ConfigError(f"prune thresholds must not decrease with the order, got {list(prune)}")
    return [np.ones(len(o), bool) if k == 0 else o.count > t[k]
            for k, o in enumerate(counts.orders)]


def estimate(counts: NgramCounts, smoothing: str = "mkn", *, discount: float | None = None,
             interpolate: bool = True, stupid_alpha: float = 0.4, prune=None) -> Estimate:
    """Probabilities and backoff weights of every counted n-gram under ``smoothing``.

    ``discount``: the fixed D of ``abs``/``kn`` (default: n1 / (n1 + 2 n2) per order), or k
    of ``add`` (default 1, Laplace). ``interpolate=False`` gives the backoff variants of
    ``mkn``, ``kn`` and ``abs``. ``prune``: count thresholds per order (see
    :func:`prune_masks`); discounts still come from the unpruned counts, as in lmplz.
    """
    if smoothing not in SMOOTHINGS:
        raise ConfigError(f"smoothing {smoothing!r} is unknown; choose one of {', '.join(SMOOTHINGS)}")
    if discount is not None and discount < 0:
        raise ConfigError(f"discount must be >= 0, got {discount}")
    N = counts.order
    V = _uniform_size(counts)
    uniform = 1.0 / V
    raw = [oc.count.astype(np.float64) for oc in counts.orders]
    raw[0][BOS_ID] = 0.0
    keep = prune_masks(counts, prune)

    if smoothing in ("mkn", "kn", "abs"):
        if smoothing == "abs":
            adj = [oc.count.copy() for oc in counts.orders]
            adj[0][BOS_ID] = 0
        else:
            adj = adjusted_counts(counts)
        if smoothing == "mkn":
            D = kenlm_discounts(adj)
        else:
            D = np.zeros((N, 4))
            for i, a in enumerate(adj):
                if discount is not None:
                    d = discount
                else:
                    t = count_of_counts(a)
                    d = t[1] / (t[1] + 2.0 * t[2]) if t[1] > 0 and t[2] >= 0 and t[1] + t[2] > 0 else 0.5
                D[i, 1:] = d
        alpha, gamma = [], []
        for k in range(1, N + 1):
            oc = counts.orders[k - 1]
            a = adj[k - 1].astype(np.float64)
            ctx, n_ctx = _contexts(counts, k)
            bucket = np.minimum(adj[k - 1], 3)
            d = D[k - 1][bucket]
            denom = _group_sum(ctx, a, n_ctx)
            mass = _group_sum(ctx, d * (a > 0), n_ctx)
            safe = np.where(denom > 0, denom, 1.0)
            alpha.append(np.where(a > 0, (a - d) / safe[ctx], 0.0))
            gamma.append(np.where(denom > 0, mass / safe, 1.0))
        if interpolate:
            est = _interpolate(counts, alpha, gamma, uniform, keep)
        else:
            unigram = alpha[0] + gamma[0][0] * uniform
            unigram[BOS_ID] = 0.0
            est = _backoff(counts, alpha, unigram, keep)
        est.discounts = D
    elif smoothing == "wb":
        alpha, gamma = [], []
        for k in range(1, N + 1):
            oc = counts.orders[k - 1]
            a = raw[k - 1]
            ctx, n_ctx = _contexts(counts, k)
            total = _group_sum(ctx, a, n_ctx)
            types = _group_sum(ctx, (a > 0).astype(np.float64), n_ctx)
            denom = np.where(total + types > 0, total + types, 1.0)
            alpha.append(a / denom[ctx])
            gamma.append(np.where(total > 0, types / denom, 1.0))
        est = _interpolate(counts, alpha, gamma, uniform, keep)
    elif smoothing == "katz":
        alpha = []
        for k in range(1, N + 1):
            oc = counts.orders[k - 1]
            a = raw[k - 1]
            ctx, n_ctx = _contexts(counts, k)
            dr = _good_turing_ratios(oc.count if k > 1 else np.where(np.arange(len(a)) == BOS_ID, 0, oc.count), k)
            total = _group_sum(ctx, a, n_ctx)
            safe = np.where(total > 0, total, 1.0)
            al = dr[np.minimum(oc.count, len(dr) - 1)] * a / safe[ctx]
            if k > 1:
                # a context whose followers are all too frequent to be discounted would leave
                # nothing for unseen words: give it one pseudo-count of unseen mass instead
                seen = _group_sum(ctx, al, n_ctx)
                full = seen > 1.0 - 1e-9
                al = np.where(full[ctx], a / (safe[ctx] + 1.0), al)
            alpha.append(al)
        unigram = alpha[0] + (1.0 - alpha[0].sum()) * uniform
        unigram[BOS_ID] = 0.0
        est = _backoff(counts, alpha, unigram, keep)
    elif smoothing in ("add", "mle"):
        k_add = 0.0 if smoothing == "mle" else (1.0 if discount is None else discount)
        alpha = []
        for k in range(1, N + 1):
            oc = counts.orders[k - 1]
            a = raw[k - 1]
            ctx, n_ctx = _contexts(counts, k)
            total = _group_sum(ctx, a, n_ctx)
            denom = total + k_add * V
            safe = np.where(denom > 0, denom, 1.0)
            alpha.append((a + k_add) / safe[ctx] * (a > 0 if k > 1 else 1.0))
        unigram = alpha[0].copy()
        unigram[BOS_ID] = 0.0
        est = _backoff(counts, alpha, unigram, keep)
    else:  # stupid backoff
        logprob, backoff = [], []
        for k in range(1, N + 1):
            oc = counts.orders[k - 1]
            a = raw[k - 1]
            ctx, n_ctx = _contexts(counts, k)
            total = _group_sum(ctx, a, n_ctx)
            with np.errstate(divide="ignore"):
                logprob.append(np.log10(a / np.where(total > 0, total, 1.0)[ctx]))
            if k < N:
                backoff.append(np.full(len(oc), np.log10(stupid_alpha)))
        backoff.append(np.zeros(0))
        est = Estimate(logprob, backoff, is_probability=False)
    est.keep = keep
    # <s> is never predicted: lmplz writes its log10 probability as 0.
    est.logprob[0] = est.logprob[0].copy()
    est.logprob[0][BOS_ID] = 0.0 if est.is_probability else est.logprob[0][BOS_ID]
    return est


def _good_turing_ratios(counts: np.ndarray, order: int, k_max: int = 5) -> np.ndarray:
    """Katz's discount ratio d_r for r = 0..k_max (1 above): r*/r rescaled so that only
    counts up to k_max are discounted (Katz 1987). Falls back to no discount where the
    count-of-counts cannot support it."""
    n = np.bincount(np.minimum(counts, k_max + 2), minlength=k_max + 3).astype(np.float64)
    d = np.ones(k_max + 2)
    if n[1] == 0:
        return d
    common = (k_max + 1) * n[k_max + 1] / n[1]
    for r in range(1, k_max + 1):
        if n[r] == 0 or n[r + 1] == 0:
            continue
        r_star = (r + 1) * n[r + 1] / n[r]
        dr = (r_star / r - common) / (1.0 - common)
        if 0.0 < dr <= 1.0:
            d[r] = dr
        else:
            log.warning("order %d: Good-Turing discount for count %d is %.3g (out of (0, 1]); "
                        "leaving that count undiscounted", order, r, dr)
    return d
