"""The two layouts the scoring kernels read (:class:`Tables`).

*Probing* (like KenLM's probing binary): per order k >= 2 a linear-probing hash table of
1.5 slots per n-gram, each slot 16 bytes: the key ``context's slot * V + word`` and the
n-gram's float32 probability and backoff, so a lookup reads one cache line. An n-gram's id is
its slot, and that is how the order above names it as a context. Unigrams are plain float32
arrays indexed by word id. About 24 bytes an n-gram, KenLM's probing figure.

*Trie* (like KenLM's trie): per order, fixed-width bit-packed records in (context, word) order
(the order the model's arrays already have, so an n-gram's children are contiguous and sorted
by word): the word id (``ceil(log2 V)`` bits, not stored for unigrams), a pointer to its first
child in the order above (``ceil(log2 (n_{k+1} + 1))`` bits; a sentinel record closes the last
range), and the n-gram's probability and backoff: float32 bits (31 for the probability, whose
sign bit is implied, as KenLM's trie does; 32 for the backoff) or quantised codes. Lookups
binary-search a parent's children. Quantisation (KenLM's ``-q/-b``; Federico and Bertoldi 2006): per order,
2**bits bins holding equal numbers of the sorted values, each bin's value the mean of its
members, every value coded as its nearest bin; exact 0 and -inf backoffs (and -inf
probabilities) keep codes of their own. Unigrams stay float32.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _kernels as K
from ._kernels import (
    F_BASE,
    F_BO_BITS,
    F_LP_BITS,
    F_PTR,
    F_RECORD,
    F_WORD,
)
from .binfile import RAW, float_bits_for, float_codes, floats_from_codes, probing_caps, trie_fields


class Tables(NamedTuple):
    """What the scoring kernels read of a model (passed to them field by field, in this order).

    Probing (``trie_bits`` None): order k's table is slots ``table_start[k] .. table_start[k]
    + table_cap[k] - 1`` of ``slots`` (int64, ``SLOT_WORDS`` words a slot; ``slot_vals`` is the
    same memory as float32, see :func:`~lmkit.ngram._kernels.probe_slot`); ``logprob`` and
    ``backoff`` are the unigrams'. Trie (``slots`` empty): bit-packed records per order, an
    n-gram's children contiguous and sorted by word (:func:`~lmkit.ngram._kernels.trie_child`);
    ``trie_fields[k]`` holds order k's ``F_*`` entries; order k's n-gram ``i`` has log10
    probability and backoff in its record (``trie_fields[k, F_LP_BITS] > 0``: float32 bits, or
    codes indexing ``centers``), else (version 3 files) at ``logprob[gram_start[k] + i]`` and
    ``backoff[gram_start[k] + i]``. ``suffix_closed``: what the model's builder established (see
    :func:`~lmkit.ngram._kernels.score_tokens`); False is always exact, only slower.
    """
    slots: np.ndarray                  # int64 [SLOT_WORDS * all slots]
    slot_vals: np.ndarray              # float32 view of ``slots``
    table_start: np.ndarray            # int64 [N + 1]
    table_cap: np.ndarray              # int64 [N + 1]
    logprob: np.ndarray                # float32 [n-grams of the float orders]
    backoff: np.ndarray                # float32, same places (orders 1..N-1)
    gram_start: np.ndarray             # int64 [N + 1]
    trie_bits: np.ndarray | None       # uint64 [words]: every order's records, and a spare word
    trie_fields: np.ndarray | None     # int64 [N + 1, F_COUNT]
    centers: np.ndarray | None         # float32: each quantised order's bins
    #: every listed n-gram's suffix is listed (blanks count): lookups may stop at the first miss
    suffix_closed: bool = False

    @property
    def layout(self) -> str:
        return "probing" if self.trie_bits is None else "trie"


def probing_tables(ctx: list[np.ndarray], word: list[np.ndarray], logprob: list[np.ndarray],
                   backoff: list[np.ndarray], vocab_size: int, suffix_closed: bool = False) -> Tables:
    """Tables in the probing layout from a model's per-order arrays."""
    N = len(word)
    sizes = [len(w) for w in word]
    start, cap = probing_caps(sizes)
    slots = np.zeros(K.SLOT_WORDS * int(cap.sum()), np.int64)
    slots[::K.SLOT_WORDS] = -1
    slot_vals = slots.view(np.float32)
    slot_of = np.arange(vocab_size, dtype=np.int64)          # a unigram's id is its word id
    for k in range(2, N + 1):
        keys = slot_of[ctx[k - 1]] * np.int64(vocab_size) + word[k - 1]
        bo = backoff[k - 1] if k < N else np.zeros(0, np.float32)
        slot_of = K.fill_slots(keys, np.asarray(logprob[k - 1], np.float32), np.asarray(bo, np.float32), slots,
                               slot_vals, start[k], cap[k])
    return probing_over(slots, start, cap, np.asarray(logprob[0], np.float32),
                        np.asarray(backoff[0] if N > 1 else np.zeros(0), np.float32), N, suffix_closed)


def probing_over(slots: np.ndarray, start: np.ndarray, cap: np.ndarray, logprob: np.ndarray, backoff: np.ndarray,
                 order: int, suffix_closed: bool = False) -> Tables:
    """Probing tables over existing arrays (a mapped file's)."""
    return Tables(slots, slots.view(np.float32), start, cap, logprob, backoff, np.zeros(order + 1, np.int64),
                  None, None, None, suffix_closed)


def probing_arrays(t: Tables, sizes: list[int], vocab_size: int) -> tuple[list, list, list, list]:
    """The model's per-order (ctx, word, logprob, backoff) arrays, sorted by (ctx, word),
    recovered from probing tables: each order's occupied slots decoded and sorted."""
    N = len(sizes)
    V = np.int64(vocab_size)
    ctx, word = [np.zeros(sizes[0], np.int64)], [np.arange(sizes[0], dtype=np.int32)]
    lp = [np.array(t.logprob, np.float32)]
    bo = [np.array(t.backoff, np.float32) if N > 1 else np.zeros(0, np.float32)]
    position = np.arange(vocab_size, dtype=np.int64)          # slot -> sorted position, order below
    for k in range(2, N + 1):
        lo, cap = int(t.table_start[k]), int(t.table_cap[k])
        keys = t.slots[K.SLOT_WORDS * lo:K.SLOT_WORDS * (lo + cap):K.SLOT_WORDS]
        used = np.flatnonzero(keys >= 0)
        c, w = position[keys[used] // V], keys[used] % V
        by_key = np.argsort(c * V + w, kind="stable")
        used, c, w = used[by_key], c[by_key], w[by_key]
        values = np.asarray(t.slot_vals[2 * K.SLOT_WORDS * lo:2 * K.SLOT_WORDS * (lo + cap)]).reshape(cap, 4)
        ctx.append(c)
        word.append(w.astype(np.int32))
        lp.append(values[used, 2].copy())
        bo.append(values[used, 3].copy() if k < N else np.zeros(0, np.float32))
        position = np.full(cap, -1, np.int64)
        position[used] = np.arange(len(used))
    return ctx, word, lp, bo


def quantize(values: np.ndarray, bits: int, exact: tuple[float, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(centers float32 [2**bits], codes int64 [len(values)]): ``exact`` values get the first
    codes (those that occur); the others, sorted, are cut into equal-count bins, each bin's
    value the mean of its members, and every value is coded as its nearest bin."""
    values = np.asarray(values, np.float64)
    special = [x for x in exact if np.any(values == x)]
    n_bins = (1 << bits) - len(special)
    if n_bins < 1:
        raise ValueError(f"{bits} bits leave no bins")
    is_special = np.isin(values, special)
    rest = np.sort(values[~is_special])
    ends = (len(rest) * np.arange(1, n_bins + 1, dtype=np.int64)) // n_bins   # bin j: ends[j-1] .. ends[j]
    bins = np.searchsorted(ends, np.arange(len(rest)), side="right")
    means = _bin_means(rest, bins, n_bins)
    codes = _nearest(means, values) + len(special)
    for c, x in enumerate(special):
        codes[values == x] = c
    return np.concatenate([np.asarray(special, np.float64), means]).astype(np.float32), codes


def _bin_means(values: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
    """Mean of each bin's values (sorted bins); an empty bin repeats its nearest filled one."""
    counts = np.bincount(bins, minlength=n_bins)
    means = np.bincount(bins, weights=values, minlength=n_bins) / np.maximum(counts, 1)
    filled = np.flatnonzero(counts)
    if len(filled) == 0:
        return np.zeros(n_bins)
    return means[filled[np.clip(np.searchsorted(filled, np.arange(n_bins)), 0, len(filled) - 1)]]


def _nearest(centers: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the nearest of the sorted ``centers`` to each value (the lower on a tie)."""
    right = np.clip(np.searchsorted(centers, values), 0, len(centers) - 1)
    left = np.clip(right - 1, 0, len(centers) - 1)
    return np.where(np.abs(values - centers[left]) <= np.abs(centers[right] - values), left, right)


def trie_tables(ctx: list[np.ndarray], word: list[np.ndarray], logprob: list[np.ndarray],
                backoff: list[np.ndarray], vocab_size: int, quantize_bits: int | None = None,
                backoff_bits: int | None = None, suffix_closed: bool = False) -> Tables:
    """Tables in the trie layout from a model's per-order arrays (sorted by (ctx, word)):
    orders >= 2 keep their values in their records, as float32 bits (see
    :func:`~lmkit.ngram.binfile.float_bits_for`) or, with ``quantize_bits``, as probability
    codes of that many bits and backoff codes of ``backoff_bits`` (default the same)."""
    N = len(word)
    sizes = [len(w) for w in word]
    float_bits = None if quantize_bits is not None else float_bits_for(logprob)
    fields, n_words, n_centers = trie_fields(sizes, vocab_size, quantize_bits, backoff_bits, float_bits)
    bits = np.zeros(n_words, np.uint64)
    centers = np.zeros(n_centers, np.float32)
    for k in range(1, N + 1):
        f = fields[k]
        if k > 1:
            K.write_field(bits, f[F_BASE], f[F_RECORD], 0, f[F_WORD], word[k - 1])
        if k < N:
            ptr = np.searchsorted(ctx[k], np.arange(sizes[k - 1] + 1, dtype=np.int64))
            K.write_field(bits, f[F_BASE], f[F_RECORD], f[F_WORD], f[F_PTR], ptr)
        # values kept exactly, with codes of their own: -inf probabilities, 0 and -inf backoffs
        # (mle's, where a context's words take all the mass)
        for column, values, exact in ((F_LP_BITS, logprob[k - 1], (-np.inf,)),
                                      (F_BO_BITS, backoff[k - 1], (0.0, -np.inf))):
            if f[column] and f[column + 2] == RAW:
                K.write_field(bits, f[F_BASE], f[F_RECORD], _offset(f, column), f[column],
                              float_codes(values, int(f[column])))
            elif f[column]:
                c, codes = quantize(values, int(f[column]), exact)
                centers[f[column + 2]:f[column + 2] + len(c)] = c
                K.write_field(bits, f[F_BASE], f[F_RECORD], _offset(f, column), f[column], codes)
    gram_start = np.zeros(N + 1, np.int64)
    gram_start[1:] = np.cumsum([0] + sizes[:-1])
    empty = np.zeros(0, np.int64)
    return Tables(empty, empty.view(np.float32), np.zeros(N + 1, np.int64), np.zeros(N + 1, np.int64),
                  np.asarray(logprob[0], np.float32),
                  np.asarray(backoff[0] if N > 1 else np.zeros(0), np.float32),
                  gram_start, bits, fields, centers, suffix_closed)


def _offset(f: np.ndarray, column: int) -> int:
    return int(sum(f[c] for c in range(F_WORD, column)))


def trie_arrays(t: Tables, sizes: list[int]) -> tuple[list, list, list, list]:
    """The model's per-order (ctx, word, logprob, backoff) arrays unpacked from a trie."""
    N = len(sizes)
    ctx, word, lp, bo = [np.zeros(sizes[0], np.int64)], [np.arange(sizes[0], dtype=np.int32)], [], []
    for k in range(1, N + 1):
        n = sizes[k - 1]
        if k > 1:
            ptr = child_pointers(t, k - 1, sizes[k - 2])
            ctx.append(np.repeat(np.arange(sizes[k - 2], dtype=np.int64), np.diff(ptr)))
            word.append(trie_field(t, k, F_WORD, n).astype(np.int32))
        lp.append(trie_values(t, k, n, F_LP_BITS))
        bo.append(trie_values(t, k, n, F_BO_BITS) if k < N else np.zeros(0, np.float32))
    return ctx, word, lp, bo


def trie_field(t: Tables, k: int, column: int, n: int) -> np.ndarray:
    """Field ``column`` (F_WORD .. F_BO_BITS) of order k's first ``n`` records (int64 [n])."""
    assert t.trie_bits is not None and t.trie_fields is not None, "not a trie"
    f = t.trie_fields[k]
    return K.read_field(t.trie_bits, f[F_BASE], f[F_RECORD], _offset(f, column), f[column], n)


def child_pointers(t: Tables, k: int, n: int) -> np.ndarray:
    """Order k's child pointers (int64 [n + 1]) into order k + 1."""
    return trie_field(t, k, F_PTR, n + 1)


def trie_values(t: Tables, k: int, n: int, column: int) -> np.ndarray:
    """The probabilities (``column`` F_LP_BITS) or backoffs (F_BO_BITS) of order k's first
    ``n`` n-grams (float32 [n])."""
    assert t.trie_fields is not None and t.centers is not None, "not a trie"
    f = t.trie_fields[k]
    if f[column] == 0:
        lo = int(t.gram_start[k])
        return np.array((t.logprob if column == F_LP_BITS else t.backoff)[lo:lo + n], np.float32)
    codes = trie_field(t, k, column, n)
    if f[column + 2] != RAW:
        return t.centers[f[column + 2] + codes]
    return floats_from_codes(codes, int(f[column]))
