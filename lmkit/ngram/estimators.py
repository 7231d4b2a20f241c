"""Smoothing: from raw n-gram counts to conditional probabilities and backoff weights.

Every estimator yields, per order k, a "seen" part ``alpha_k`` for each counted n-gram and a
weight for each context; then one of the assemblies makes the model:

- interpolated: p_k(w|c) = alpha_k(c w) + gamma(c) p_{k-1}(w|c'), and the ARPA backoff of c
  is gamma(c) (what KenLM's lmplz writes);
- backoff (Katz style): p_k(w|c) = alpha_k(c w) for seen n-grams and the backoff weight of c
  renormalises the lower order over the unseen words.

Both sum to one over the vocabulary (``</s>`` included, ``<s>`` excluded) for every context.
Stupid backoff (Brants et al. 2007) gives scores, not probabilities.

The work is cut into steps that see one order at a time and only what a context's own
n-grams hold (:class:`OrderInput`), plus a few global numbers (count-of-counts, the unigram
distribution, each n-gram's lower-order probability at its suffix): :func:`estimate` runs
them over all n-grams; the distributed estimator runs the very same steps on partitions
that hold whole contexts, so both give the same bits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..checks import Range
from ..errors import ConfigError
from ..text import BOS_ID

if TYPE_CHECKING:
    from .counts import NgramCounts

log = logging.getLogger(__name__)

#: lmplz's --discount_fallback defaults: D1, D2, D3+ used when the count-of-counts fail.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
#: count-of-counts kept per order: t[r] exactly for r < COC_TOP, t[COC_TOP] for r >= COC_TOP
COC_TOP = 8

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


@dataclass(frozen=True)
class Options:
    """What the estimators may be asked: ``discount`` (the fixed D of ``abs``/``kn``, or k of
    ``add``/``add-backoff``), ``interpolate`` (False: the backoff variants of ``mkn``, ``kn``,
    ``abs``), ``stupid_alpha`` (stupid backoff's factor) and ``keep`` (count-pruning masks)."""
    keep: list
    discount: float | None = None
    interpolate: bool = True
    stupid_alpha: float = 0.4


@dataclass
class OrderInput:
    """One order's n-grams as an estimation step sees them: all of them, or a partition that
    holds whole contexts, in (context, word) order (``[n]`` arrays)."""
    k: int
    count: np.ndarray        # int64 raw counts
    kn: np.ndarray | None    # int64 Kneser-Ney adjusted counts (None when the smoothing does not use them)
    ctx: np.ndarray          # int64 context index in [0, n_ctx); unigrams: all 0
    n_ctx: int


def count_of_counts(counts: np.ndarray, upto: int = COC_TOP) -> np.ndarray:
    """t[r] = number of n-grams with count r for r < ``upto``; t[upto] those with more (int64)."""
    return np.bincount(np.minimum(counts, upto), minlength=upto + 1).astype(np.int64)


def kenlm_discounts(adj: list[np.ndarray], fallback=FALLBACK_DISCOUNTS) -> np.ndarray:
    """Modified Kneser-Ney discounts D1, D2, D3+ per order (``[order, 4]``, column 0 is 0)
    from each order's adjusted counts; see :func:`kenlm_discounts_from`."""
    return kenlm_discounts_from([count_of_counts(a) for a in adj], fallback)


def kenlm_discounts_from(coc: list[np.ndarray], fallback=FALLBACK_DISCOUNTS) -> np.ndarray:
    """Modified Kneser-Ney discounts per order from its count-of-counts ``t`` (Chen & Goodman
    eq. 26), in float32 like lmplz; an order whose counts make them undefined or out of range
    falls back to ``fallback`` with a warning."""
    out = np.zeros((len(coc), 4), dtype=np.float64)
    f32 = np.float32
    for i, t in enumerate(coc):
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


def _fixed_discounts(coc: list[np.ndarray], discount: float | None) -> np.ndarray:
    """One D per order: ``discount``, or n1 / (n1 + 2 n2) of that order's counts."""
    D = np.zeros((len(coc), 4))
    for i, t in enumerate(coc):
        if discount is not None:
            D[i, 1:] = discount
            continue
        D[i, 1:] = t[1] / (t[1] + 2.0 * t[2]) if t[1] > 0 else 0.5
    return D


def _good_turing_ratios(coc: np.ndarray, order: int, k_max: int = 5) -> np.ndarray:
    """Katz's discount ratio d_r for r = 0..k_max (1 above) from an order's count-of-counts:
    r*/r rescaled so that only counts up to k_max are discounted (Katz 1987). Falls back to
    no discount where the count-of-counts cannot support it."""
    n = np.asarray(coc, dtype=np.float64)
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


def _group_sum(ctx: np.ndarray, values: np.ndarray, n_ctx: int) -> np.ndarray:
    """Per context, the sum of its n-grams' values, added in array order (the same bits
    wherever a context's n-grams are summed in the same order)."""
    return np.bincount(ctx, weights=values, minlength=n_ctx)


def _raw(o: OrderInput) -> np.ndarray:
    """Raw counts, ``<s>`` never counted as a predicted unigram (int64)."""
    if o.k > 1:
        return o.count
    out = o.count.copy()
    out[BOS_ID] = 0
    return out


# ---------------------------------------------------------------------- smoothings
class Smoothing:
    """One smoothing method, as the steps that both estimators run.

    ``constants`` turns every order's count-of-counts (of :meth:`discounted` counts) into
    what ``seen`` needs per order; ``seen`` gives each n-gram's alpha and each context's
    gamma (None where the assembly needs none) from one order's :class:`OrderInput`.
    """
    name = ""
    description = ""
    uses_kn = False        # discounts Kneser-Ney adjusted counts
    prunable = True        # count pruning applies (not to additive smoothing)

    def check(self, opts: Options) -> None:
        """Reject options this smoothing cannot honour (a ConfigError)."""

    def assembly(self, opts: Options) -> str:
        """'interpolate', 'backoff' (Katz), 'scores' (stupid backoff) or 'uniform' (additive)."""
        return "interpolate"

    def discounted(self, o: OrderInput) -> np.ndarray:
        """The counts whose count-of-counts :meth:`constants` reads (int64)."""
        return o.kn if self.uses_kn and o.kn is not None else _raw(o)

    def constants(self, coc: list[np.ndarray], opts: Options) -> list:
        return [None] * len(coc)

    def discounts(self, consts: list) -> np.ndarray | None:
        return None

    def seen(self, o: OrderInput, const, V: int, opts: Options) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def unigram(self, alpha: np.ndarray, gamma: np.ndarray | None, V: int) -> np.ndarray:
        """The unigram distribution a backoff assembly starts from (<s> gets 0)."""
        out = alpha.copy()
        out[BOS_ID] = 0.0
        return out


_REGISTRY: dict[str, Smoothing] = {}


def smoothing(cls: type[Smoothing]) -> type[Smoothing]:
    """Register a :class:`Smoothing` under its ``name``; :data:`SMOOTHINGS` and the CLI
    choices follow."""
    _REGISTRY[cls.name] = cls()
    SMOOTHINGS[cls.name] = cls.description
    return cls


def get_smoothing(name: str) -> Smoothing:
    if name not in _REGISTRY:
        raise ConfigError(f"smoothing {name!r} is unknown; choose one of {', '.join(SMOOTHINGS)}")
    return _REGISTRY[name]


class _Discounted(Smoothing):
    """Discounted counts (one D per order and count bucket 1, 2, 3+), interpolated with the
    uniform distribution at the bottom, or assembled Katz-style (``interpolate=False``)."""

    def assembly(self, opts: Options) -> str:
        return "interpolate" if opts.interpolate else "backoff"

    def constants(self, coc: list[np.ndarray], opts: Options) -> list:
        return list(_fixed_discounts(coc, opts.discount))

    def discounts(self, consts: list) -> np.ndarray | None:
        return np.asarray(consts)

    def seen(self, o, const, V, opts):
        c = self.discounted(o)
        a = c.astype(np.float64)
        d = const[np.minimum(c, 3)]
        denom = _group_sum(o.ctx, a, o.n_ctx)
        mass = _group_sum(o.ctx, d * (a > 0), o.n_ctx)
        safe = np.where(denom > 0, denom, 1.0)
        return np.where(a > 0, (a - d) / safe[o.ctx], 0.0), np.where(denom > 0, mass / safe, 1.0)

    def unigram(self, alpha, gamma, V):
        assert gamma is not None
        out = alpha + gamma[0] * (1.0 / V)
        out[BOS_ID] = 0.0
        return out


@smoothing
class _ModifiedKneserNey(_Discounted):
    name = "mkn"
    description = "modified Kneser-Ney (Chen & Goodman; exactly as KenLM's lmplz), interpolated"
    uses_kn = True

    def constants(self, coc, opts):
        return list(kenlm_discounts_from(coc))


@smoothing
class _KneserNey(_Discounted):
    name = "kn"
    description = "Kneser-Ney with one discount per order, interpolated"
    uses_kn = True


@smoothing
class _AbsoluteDiscounting(_Discounted):
    name = "abs"
    description = "absolute discounting, interpolated"


@smoothing
class _WittenBell(Smoothing):
    name = "wb"
    description = "Witten-Bell, interpolated"

    def seen(self, o, const, V, opts):
        a = _raw(o).astype(np.float64)
        total = _group_sum(o.ctx, a, o.n_ctx)
        types = _group_sum(o.ctx, (a > 0).astype(np.float64), o.n_ctx)
        denom = np.where(total + types > 0, total + types, 1.0)
        return a / denom[o.ctx], np.where(total > 0, types / denom, 1.0)


@smoothing
class _Katz(Smoothing):
    name = "katz"
    description = "Katz backoff with Good-Turing discounting"

    def assembly(self, opts):
        return "backoff"

    def constants(self, coc, opts):
        return [_good_turing_ratios(t, k) for k, t in enumerate(coc, start=1)]

    def seen(self, o, const, V, opts):
        a = _raw(o).astype(np.float64)
        total = _group_sum(o.ctx, a, o.n_ctx)
        safe = np.where(total > 0, total, 1.0)
        al = const[np.minimum(o.count, len(const) - 1)] * a / safe[o.ctx]
        if o.k > 1:
            # a context whose followers are all too frequent to be discounted would leave
            # nothing for unseen words: give it one pseudo-count of unseen mass instead
            full = _group_sum(o.ctx, al, o.n_ctx) > 1.0 - 1e-9
            al = np.where(full[o.ctx], a / (safe[o.ctx] + 1.0), al)
        return al, None

    def unigram(self, alpha, gamma, V):
        out = alpha + (1.0 - alpha.sum()) * (1.0 / V)
        out[BOS_ID] = 0.0
        return out


def _additive_alpha(o: OrderInput, k_add: float, V: int, seen_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """(c(h w) + k) / (c(h) + k V) of every counted n-gram (``seen_only``: 0 where c = 0
    above the unigrams), and c(h) per context."""
    a = _raw(o).astype(np.float64)
    total = _group_sum(o.ctx, a, o.n_ctx)
    safe = np.where(total + k_add * V > 0, total + k_add * V, 1.0)
    return (a + k_add) / safe[o.ctx] * (a > 0 if (o.k > 1 and seen_only) else 1.0), total


@smoothing
class _Additive(Smoothing):
    """Textbook Lidstone/Laplace: every word after context h gets (c(h w) + k) / (c(h) + k V),
    unseen contexts the uniform 1/V. Listed n-grams carry their own value; a context's
    backoff weight is k / (c(h) + k V) relative to 1/V, the share of each unseen word, and
    scoring falls back to it times the uniform distribution (not to a lower order)."""
    name = "add"
    description = ("additive (Laplace k=1, Lidstone k=--discount): (c(h w) + k) / (c(h) + k V) "
                   "for every word after the whole context; native .lmk files only")

    prunable = False

    def check(self, opts):
        if opts.discount is not None and opts.discount <= 0:
            raise ConfigError("additive smoothing needs k > 0 (--discount); k = 0 is 'mle'")

    def assembly(self, opts):
        return "uniform"

    def seen(self, o, const, V, opts):
        k_add = 1.0 if opts.discount is None else opts.discount
        alpha, total = _additive_alpha(o, k_add, V, seen_only=False)
        return alpha, k_add * V / (total + k_add * V)


@smoothing
class _AdditiveBackoff(Smoothing):
    name = "add-backoff"
    description = ("additive (k=--discount, default 1) for seen n-grams, Katz-style backoff "
                   "renormalisation for unseen ones")
    k_default = 1.0

    def assembly(self, opts):
        return "backoff"

    def seen(self, o, const, V, opts):
        k_add = self.k_default if opts.discount is None else opts.discount
        return _additive_alpha(o, k_add, V, seen_only=True)[0], None


@smoothing
class _MaximumLikelihood(_AdditiveBackoff):
    name = "mle"
    description = "maximum likelihood with backoff (unseen events get probability 0)"
    k_default = 0.0


@smoothing
class _StupidBackoff(Smoothing):
    """Relative frequencies; every backoff step, whether or not the longer context was ever
    seen, multiplies by ``stupid_alpha`` (0.4)."""
    name = "stupid"
    description = "stupid backoff (Brants et al. 2007): scores, NOT probabilities"

    def assembly(self, opts):
        return "scores"

    def seen(self, o, const, V, opts):
        a = _raw(o).astype(np.float64)
        total = _group_sum(o.ctx, a, o.n_ctx)
        return a / np.where(total > 0, total, 1.0)[o.ctx], None


# ---------------------------------------------------------------------- assembly steps
def interpolate_unigrams(alpha: np.ndarray, gamma: np.ndarray, V: int) -> np.ndarray:
    """p_1 = alpha_1 + gamma(empty context) / V (the uniform distribution at the bottom)."""
    return alpha + gamma[0] * (1.0 / V)


def interpolate_order(alpha: np.ndarray, gamma: np.ndarray, ctx: np.ndarray, keep: np.ndarray,
                      lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p_k = alpha_k + gamma[ctx] * p_{k-1}(suffix) (``lower``: p_{k-1} at each n-gram's
    suffix). The seen mass of pruned n-grams moves to their context's gamma (as lmplz
    --prune does), so the pruned model still sums to one. Returns (p_k, gamma)."""
    pruned = ~keep
    if pruned.any():
        gamma = gamma + _group_sum(ctx[pruned], alpha[pruned], len(gamma))
    return alpha + gamma[ctx] * lower, gamma


def context_backoffs(gamma: np.ndarray, ctx: np.ndarray, n_ctx: int) -> np.ndarray:
    """log10 backoff of each context (an n-gram one order down): log10 gamma where some
    n-gram extends it, else 0."""
    has_ext = np.bincount(ctx, minlength=n_ctx) > 0
    with np.errstate(divide="ignore"):
        return np.where(has_ext, np.log10(np.where(has_ext, gamma, 1.0)), 0.0)


def backoff_order(alpha: np.ndarray, ctx: np.ndarray, n_ctx: int, keep: np.ndarray,
                  lower: np.ndarray) -> np.ndarray:
    """Katz assembly of one order: p_k = alpha_k for seen n-grams, and (returned) the log10
    backoff weight of each context, giving the unseen words the lower order's shape with the
    left-over mass (``lower``: p_{k-1} at each n-gram's suffix)."""
    kept = keep
    seen = _group_sum(ctx[kept], alpha[kept], n_ctx)
    seen_lower = _group_sum(ctx[kept], lower[kept], n_ctx)
    has_ext = np.bincount(ctx[kept], minlength=n_ctx) > 0
    left = np.clip(1.0 - seen, 0.0, None)
    left_lower = 1.0 - seen_lower
    with np.errstate(divide="ignore", invalid="ignore"):
        bow = np.where(left_lower > 1e-12, left / np.where(left_lower > 1e-12, left_lower, 1.0), 0.0)
        return np.where(has_ext, np.log10(np.where(has_ext, bow, 1.0)), 0.0)


def log10(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(p)


def _uniform_size(counts: NgramCounts) -> int:
    """Words a model predicts: the vocabulary less <s> (<unk> and </s> included)."""
    return counts.vocab_size - 1


def prune_masks(counts: NgramCounts, prune) -> list[np.ndarray]:
    """Which n-grams survive count pruning: order k keeps raw counts above ``prune[k-1]``
    (lmplz's ``--prune``: thresholds per order, the unigram one 0, never decreasing; the last
    one repeats for higher orders). Prefixes and suffixes of a kept n-gram are kept too."""
    t = prune_thresholds(prune, counts.order)
    return [np.ones(len(o), bool) if k == 0 or t is None else o.count > t[k]
            for k, o in enumerate(counts.orders)]


def prune_thresholds(prune, order: int) -> list[int] | None:
    """``prune`` checked and repeated to one threshold per order (None: no pruning)."""
    if not prune:
        return None
    t = list(prune) + [prune[-1]] * max(0, order - len(prune))
    if any(x < 0 for x in t):
        raise ConfigError(f"prune thresholds must be >= 0, got {list(prune)}")
    if t[0] != 0:
        raise ConfigError("the unigram prune threshold must be 0 (unigrams are never pruned)")
    if any(b < a for a, b in zip(t, t[1:])):
        raise ConfigError(f"prune thresholds must not decrease with the order, got {list(prune)}")
    return t


def check_pruning(sm: Smoothing, prunes: bool) -> None:
    """A ConfigError when ``prunes`` (some n-gram above the unigrams would be dropped) and
    ``sm`` cannot be pruned."""
    if prunes and not sm.prunable:
        raise ConfigError(f"count pruning does not apply to {sm.name} smoothing (every n-gram of "
                          "the context is part of its distribution)")


def check_options(counts_order: int, smoothing: str, discount: float | None, stupid_alpha: float,
                  prune) -> Smoothing:
    """The smoothing asked for, once its options are checked (ConfigError otherwise)."""
    sm = get_smoothing(smoothing)
    if discount is not None:
        Range(0, 1e6).check("discount", discount)
        if smoothing in ("kn", "abs") and discount > 1:
            raise ConfigError(f"the discount of {smoothing} must be in [0, 1] (a count of 1 loses at most "
                              f"all of itself), got {discount}")
        if smoothing not in ("kn", "abs", "add", "add-backoff"):
            raise ConfigError(f"discount applies to kn, abs, add and add-backoff, not {smoothing}")
    if not (np.isfinite(stupid_alpha) and 0 < stupid_alpha <= 1):
        raise ConfigError(f"stupid_alpha must be in (0, 1], got {stupid_alpha}")
    if prune is not None and len(prune) > counts_order:
        raise ConfigError(f"prune gives {len(prune)} thresholds for an order-{counts_order} model")
    return sm


def estimate(counts: NgramCounts, smoothing: str = "mkn", *, discount: float | None = None,
             interpolate: bool = True, stupid_alpha: float = 0.4, prune=None) -> Estimate:
    """Probabilities and backoff weights of every counted n-gram under ``smoothing``.

    ``discount``: the fixed D of ``abs``/``kn`` (default: n1 / (n1 + 2 n2) per order), or k
    of ``add`` (default 1, Laplace). ``interpolate=False`` gives the backoff variants of
    ``mkn``, ``kn`` and ``abs``. ``prune``: count thresholds per order (see
    :func:`prune_masks`); discounts still come from the unpruned counts, as in lmplz.
    """
    sm = check_options(counts.order, smoothing, discount, stupid_alpha, prune)
    keep = prune_masks(counts, prune)
    opts = Options(keep, discount, interpolate, stupid_alpha)
    sm.check(opts)
    check_pruning(sm, any(not m.all() for m in keep[1:]))
    from .counts import adjusted_counts  # numba: not imported with the smoothings' names
    kn = adjusted_counts(counts) if sm.uses_kn else None
    inputs = []
    for k, oc in enumerate(counts.orders, start=1):
        ctx, n_ctx = (np.zeros(len(oc), np.int64), 1) if k == 1 else (oc.ctx, len(counts.orders[k - 2]))
        inputs.append(OrderInput(k, oc.count, None if kn is None else kn[k - 1], ctx, n_ctx))
    consts = sm.constants([count_of_counts(sm.discounted(o)) for o in inputs], opts)
    V = _uniform_size(counts)
    seen = [sm.seen(o, c, V, opts) for o, c in zip(inputs, consts)]
    est = _assemble(sm, counts, seen, opts, V)
    est.discounts = sm.discounts(consts)
    est.keep = keep
    # <s> is never predicted: lmplz writes its log10 probability as 0.
    est.logprob[0] = est.logprob[0].copy()
    if est.is_probability:
        est.logprob[0][BOS_ID] = 0.0
    return est


def _assemble(sm: Smoothing, counts: NgramCounts, seen: list, opts: Options, V: int) -> Estimate:
    """Every order's log10 probabilities and backoffs from the per-order alphas and gammas."""
    how = sm.assembly(opts)
    alpha = [a for a, _ in seen]
    N = counts.order
    if how == "scores":
        step = float(np.log10(opts.stupid_alpha))
        backoff = [np.full(len(counts.orders[k - 1]), step) for k in range(1, N)] + [np.zeros(0)]
        return Estimate([log10(a) for a in alpha], backoff, is_probability=False, unseen_context_backoff=step)
    if how == "uniform":
        backoff = [np.log10(seen[k][1]) for k in range(1, N)] + [np.zeros(0)]
        return Estimate([log10(a) for a in alpha], backoff, fallback="uniform")
    if how == "interpolate":
        p = interpolate_unigrams(alpha[0], seen[0][1], V)
    else:
        p = sm.unigram(alpha[0], seen[0][1], V)
    logprob, backoff = [log10(p)], []
    for k in range(2, N + 1):
        oc = counts.orders[k - 1]
        n_ctx = len(counts.orders[k - 2])
        lower = p[oc.suffix]
        if how == "interpolate":
            p, gamma = interpolate_order(alpha[k - 1], seen[k - 1][1], oc.ctx, opts.keep[k - 1], lower)
            backoff.append(context_backoffs(gamma, oc.ctx, n_ctx))
        else:
            backoff.append(backoff_order(alpha[k - 1], oc.ctx, n_ctx, opts.keep[k - 1], lower))
            p = alpha[k - 1]
        logprob.append(log10(p))
    backoff.append(np.zeros(0))
    return Estimate(logprob, backoff)
