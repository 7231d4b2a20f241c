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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..checks import Range
from ..errors import ConfigError
from ..text import BOS_ID
from .counts import NgramCounts, adjusted_counts

log = logging.getLogger(__name__)

#: lmplz's --discount_fallback defaults: D1, D2, D3+ used when the count-of-counts fail.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)

#: name -> description of every registered smoothing (filled by :func:`smoothing`).
SMOOTHINGS: dict[str, str] = {}


@dataclass
class Estimate:
    """Per order k (index k-1): log10 p(w | context) of each n-gram, and log10 backoff of
    each n-gram as a context (0 where it is not one; none for the highest order)."""
    logprob: list[np.ndarray]
    backoff: list[np.ndarray]
    discounts: np.ndarray | None = None   # [order, 4]: D0 (=0), D1, D2, D3+ where relevant
    is_probability: bool = True
    keep: list[np.ndarray] | None = None  # per order, n-grams that survive count pruning
    #: what an n-gram that is not listed gets: "backoff" (backoff weight x lower order) or
    #: "uniform" (the longest context's weight x 1/V: additive smoothing)
    fallback: str = "backoff"
    #: log10 weight of a backoff step whose context was never seen (0; stupid backoff: log10 0.4)
    unseen_context_backoff: float = 0.0


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
    p_lower = np.zeros(0)
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


@dataclass(frozen=True)
class Options:
    """What the estimators may be asked: ``discount`` (the fixed D of ``abs``/``kn``, or k of
    ``add``/``add-backoff``), ``interpolate`` (False: the backoff variants of ``mkn``, ``kn``,
    ``abs``), ``stupid_alpha`` (stupid backoff's factor) and ``keep`` (count-pruning masks)."""
    keep: list
    discount: float | None = None
    interpolate: bool = True
    stupid_alpha: float = 0.4


Estimator = Callable[[NgramCounts, Options], Estimate]
_REGISTRY: dict[str, tuple[str, Estimator]] = {}


def smoothing(name: str, description: str) -> Callable[[Estimator], Estimator]:
    """Register an estimator under ``name``; :data:`SMOOTHINGS` and the CLI choices follow."""
    def register(fn: Estimator) -> Estimator:
        _REGISTRY[name] = (description, fn)
        SMOOTHINGS[name] = description
        return fn
    return register


def estimate(counts: NgramCounts, smoothing: str = "mkn", *, discount: float | None = None,
             interpolate: bool = True, stupid_alpha: float = 0.4, prune=None) -> Estimate:
    """Probabilities and backoff weights of every counted n-gram under ``smoothing``.

    ``discount``: the fixed D of ``abs``/``kn`` (default: n1 / (n1 + 2 n2) per order), or k
    of ``add`` (default 1, Laplace). ``interpolate=False`` gives the backoff variants of
    ``mkn``, ``kn`` and ``abs``. ``prune``: count thresholds per order (see
    :func:`prune_masks`); discounts still come from the unpruned counts, as in lmplz.
    """
    if smoothing not in _REGISTRY:
        raise ConfigError(f"smoothing {smoothing!r} is unknown; choose one of {', '.join(SMOOTHINGS)}")
    if discount is not None:
        Range(0, 1e6).check("discount", discount)
        if smoothing in ("kn", "abs") and discount > 1:
            raise ConfigError(f"the discount of {smoothing} must be in [0, 1] (a count of 1 loses at most "
                              f"all of itself), got {discount}")
        if smoothing not in ("kn", "abs", "add", "add-backoff"):
            raise ConfigError(f"discount applies to kn, abs, add and add-backoff, not {smoothing}")
    if not (np.isfinite(stupid_alpha) and 0 < stupid_alpha <= 1):
        raise ConfigError(f"stupid_alpha must be in (0, 1], got {stupid_alpha}")
    if prune is not None and len(prune) > counts.order:
        raise ConfigError(f"prune gives {len(prune)} thresholds for an order-{counts.order} model")
    keep = prune_masks(counts, prune)
    est = _REGISTRY[smoothing][1](counts, Options(keep, discount, interpolate, stupid_alpha))
    est.keep = keep
    # <s> is never predicted: lmplz writes its log10 probability as 0.
    est.logprob[0] = est.logprob[0].copy()
    if est.is_probability:
        est.logprob[0][BOS_ID] = 0.0
    return est


def _raw_counts(counts: NgramCounts) -> list[np.ndarray]:
    """Raw counts as float64 per order, <s> never counted as a predicted unigram."""
    raw = [oc.count.astype(np.float64) for oc in counts.orders]
    raw[0][BOS_ID] = 0.0
    return raw


def _discounted(counts: NgramCounts, adj: list[np.ndarray], D: np.ndarray,
                opts: Options) -> Estimate:
    """Discounted counts (one D per order and count bucket 1, 2, 3+) assembled either
    interpolated (with the uniform distribution at the bottom) or Katz-style backoff."""
    alpha, gamma = [], []
    for k in range(1, counts.order + 1):
        a = adj[k - 1].astype(np.float64)
        ctx, n_ctx = _contexts(counts, k)
        d = D[k - 1][np.minimum(adj[k - 1], 3)]
        denom = _group_sum(ctx, a, n_ctx)
        mass = _group_sum(ctx, d * (a > 0), n_ctx)
        safe = np.where(denom > 0, denom, 1.0)
        alpha.append(np.where(a > 0, (a - d) / safe[ctx], 0.0))
        gamma.append(np.where(denom > 0, mass / safe, 1.0))
    uniform = 1.0 / _uniform_size(counts)
    if opts.interpolate:
        est = _interpolate(counts, alpha, gamma, uniform, opts.keep)
    else:
        unigram = alpha[0] + gamma[0][0] * uniform
        unigram[BOS_ID] = 0.0
        est = _backoff(counts, alpha, unigram, opts.keep)
    est.discounts = D
    return est


def _fixed_discounts(adj: list[np.ndarray], discount: float | None) -> np.ndarray:
    """One D per order: ``discount``, or n1 / (n1 + 2 n2) of that order's counts."""
    D = np.zeros((len(adj), 4))
    for i, a in enumerate(adj):
        if discount is not None:
            D[i, 1:] = discount
            continue
        t = count_of_counts(a)
        D[i, 1:] = t[1] / (t[1] + 2.0 * t[2]) if t[1] > 0 else 0.5
    return D


@smoothing("mkn", "modified Kneser-Ney (Chen & Goodman; exactly as KenLM's lmplz), interpolated")
def _modified_kneser_ney(counts: NgramCounts, opts: Options) -> Estimate:
    adj = adjusted_counts(counts)
    return _discounted(counts, adj, kenlm_discounts(adj), opts)


@smoothing("kn", "Kneser-Ney with one discount per order, interpolated")
def _kneser_ney(counts: NgramCounts, opts: Options) -> Estimate:
    adj = adjusted_counts(counts)
    return _discounted(counts, adj, _fixed_discounts(adj, opts.discount), opts)


@smoothing("abs", "absolute discounting, interpolated")
def _absolute_discounting(counts: NgramCounts, opts: Options) -> Estimate:
    adj = [oc.count.copy() for oc in counts.orders]
    adj[0][BOS_ID] = 0
    return _discounted(counts, adj, _fixed_discounts(adj, opts.discount), opts)


@smoothing("wb", "Witten-Bell, interpolated")
def _witten_bell(counts: NgramCounts, opts: Options) -> Estimate:
    raw = _raw_counts(counts)
    alpha, gamma = [], []
    for k in range(1, counts.order + 1):
        a = raw[k - 1]
        ctx, n_ctx = _contexts(counts, k)
        total = _group_sum(ctx, a, n_ctx)
        types = _group_sum(ctx, (a > 0).astype(np.float64), n_ctx)
        denom = np.where(total + types > 0, total + types, 1.0)
        alpha.append(a / denom[ctx])
        gamma.append(np.where(total > 0, types / denom, 1.0))
    return _interpolate(counts, alpha, gamma, 1.0 / _uniform_size(counts), opts.keep)


@smoothing("katz", "Katz backoff with Good-Turing discounting")
def _katz(counts: NgramCounts, opts: Options) -> Estimate:
    raw = _raw_counts(counts)
    alpha = []
    for k in range(1, counts.order + 1):
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
    unigram = alpha[0] + (1.0 - alpha[0].sum()) * (1.0 / _uniform_size(counts))
    unigram[BOS_ID] = 0.0
    return _backoff(counts, alpha, unigram, opts.keep)


def _additive_alpha(counts: NgramCounts, k_add: float, seen_only: bool) -> list[np.ndarray]:
    """(c(h w) + k) / (c(h) + k V) of every counted n-gram (``seen_only``: 0 where c = 0
    above the unigrams)."""
    raw = _raw_counts(counts)
    V = _uniform_size(counts)
    alpha = []
    for k in range(1, counts.order + 1):
        a = raw[k - 1]
        ctx, n_ctx = _contexts(counts, k)
        denom = _group_sum(ctx, a, n_ctx) + k_add * V
        safe = np.where(denom > 0, denom, 1.0)
        alpha.append((a + k_add) / safe[ctx] * (a > 0 if (k > 1 and seen_only) else 1.0))
    return alpha


@smoothing("add", "additive (Laplace k=1, Lidstone k=--discount): (c(h w) + k) / (c(h) + k V) "
           "for every word after the whole context; native .lmk files only")
def _additive(counts: NgramCounts, opts: Options) -> Estimate:
    """Textbook Lidstone/Laplace: every word after context h gets (c(h w) + k) / (c(h) + k V),
    unseen contexts the uniform 1/V. Listed n-grams carry their own value; a context's
    backoff weight is k / (c(h) + k V), the share of each unseen word, and scoring falls
    back to it times the uniform distribution (not to a lower order)."""
    if any(not m.all() for m in opts.keep[1:]):
        raise ConfigError("count pruning does not apply to additive smoothing (every n-gram of "
                          "the context is part of its distribution)")
    k_add = 1.0 if opts.discount is None else opts.discount
    if k_add <= 0:
        raise ConfigError("additive smoothing needs k > 0 (--discount); k = 0 is 'mle'")
    V = _uniform_size(counts)
    alpha = _additive_alpha(counts, k_add, seen_only=False)
    raw = _raw_counts(counts)
    with np.errstate(divide="ignore"):
        logprob = [np.log10(a) for a in alpha]
    backoff = []
    for k in range(1, counts.order):   # order-k n-grams as contexts of order k+1
        total = _group_sum(counts.orders[k].ctx, raw[k], len(counts.orders[k - 1]))
        # unseen share relative to the uniform 1/V: k V / (c(h) + k V)
        backoff.append(np.log10(k_add * V / (total + k_add * V)))
    backoff.append(np.zeros(0))
    return Estimate(logprob, backoff, fallback="uniform")


@smoothing("add-backoff", "additive (k=--discount, default 1) for seen n-grams, Katz-style "
           "backoff renormalisation for unseen ones")
def _additive_backoff(counts: NgramCounts, opts: Options) -> Estimate:
    k_add = 1.0 if opts.discount is None else opts.discount
    alpha = _additive_alpha(counts, k_add, seen_only=True)
    unigram = alpha[0].copy()
    unigram[BOS_ID] = 0.0
    return _backoff(counts, alpha, unigram, opts.keep)


@smoothing("mle", "maximum likelihood with backoff (unseen events get probability 0)")
def _maximum_likelihood(counts: NgramCounts, opts: Options) -> Estimate:
    alpha = _additive_alpha(counts, 0.0, seen_only=True)
    unigram = alpha[0].copy()
    unigram[BOS_ID] = 0.0
    return _backoff(counts, alpha, unigram, opts.keep)


@smoothing("stupid", "stupid backoff (Brants et al. 2007): scores, NOT probabilities")
def _stupid_backoff(counts: NgramCounts, opts: Options) -> Estimate:
    """Relative frequencies; every backoff step, whether or not the longer context was ever
    seen, multiplies by ``stupid_alpha`` (0.4)."""
    raw = _raw_counts(counts)
    step = float(np.log10(opts.stupid_alpha))
    logprob, backoff = [], []
    for k in range(1, counts.order + 1):
        ctx, n_ctx = _contexts(counts, k)
        total = _group_sum(ctx, raw[k - 1], n_ctx)
        with np.errstate(divide="ignore"):
            logprob.append(np.log10(raw[k - 1] / np.where(total > 0, total, 1.0)[ctx]))
        if k < counts.order:
            backoff.append(np.full(len(counts.orders[k - 1]), step))
    backoff.append(np.zeros(0))
    return Estimate(logprob, backoff, is_probability=False, unseen_context_backoff=step)


def _good_turing_ratios(counts: np.ndarray, order: int, k_max: int = 5) -> np.ndarray:
    """Katz's discount ratio d_r for r = 0..k_max (1 above): r*/r rescaled so that only
    counts up to k_max are discounted (Katz 1987). Falls back to no discount where the
    count-of-counts cannot support it."""
    n = np.bincount(np.minimum(counts, k_max + 2), minlength=k_max + 3).astype(np.float64)
    d = np.ones(k_max + 2)
    if n[1] == 0:
        return d
    common = (k_max + 1) * n[k_max + 1] / n[1]
    undiscounted = []
    for r in range(1, k_max + 1):
        if n[r] == 0 or n[r + 1] == 0:
            continue
        r_star = (r + 1) * n[r + 1] / n[r]
        dr = (r_star / r - common) / (1.0 - common)
        if 0.0 < dr <= 1.0:
            d[r] = dr
        else:
            undiscounted.append(f"{r} ({dr:.3g})")
    if undiscounted:   # one warning per order, not one per count
        log.warning("order %d: Good-Turing discounts out of (0, 1] for counts %s; leaving those counts "
                    "undiscounted", order, ", ".join(undiscounted))
    return d
