"""numba kernels of the n-gram family: plain arrays in and out, no objects.

N-gram ids are hierarchical: an order-k n-gram is the pair (id of its (k-1)-word prefix,
last word), packed as the int64 key ``prefix_id * V + word``. Unigram ids are word ids.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_EMPTY = np.int64(-1)
_MULT = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True)
def pad_sentences(ids, offsets, bos, eos):
    """Token stream with every sentence wrapped in <s> ... </s>; int32 [n_tokens + 2 S]."""
    n_sent = len(offsets) - 1
    out = np.empty(len(ids) + 2 * n_sent, dtype=np.int32)
    p = 0
    for s in range(n_sent):
        out[p] = bos
        p += 1
        for i in range(offsets[s], offsets[s + 1]):
            out[p] = ids[i]
            p += 1
        out[p] = eos
        p += 1
    return out


@njit(cache=True, nogil=True)
def extend_keys(prev_ids, tok, vocab_size, bos, eos):
    """Keys of the n-grams one word longer than those in ``prev_ids``.

    ``prev_ids[p]`` is the id of the (k-1)-gram ending at position p (-1 if none); the
    k-gram ending at p is (prev_ids[p-1], tok[p]). No n-gram crosses a sentence boundary.
    """
    n = len(tok)
    keys = np.full(n, -1, dtype=np.int64)
    for p in range(1, n):
        prev = prev_ids[p - 1]
        if prev >= 0 and tok[p] != bos and tok[p - 1] != eos:
            keys[p] = prev * vocab_size + tok[p]
    return keys


@njit(cache=True)
def _capacity(n):
    cap = 16
    while cap < 2 * n:
        cap *= 2
    return cap


@njit(cache=True, nogil=True)
def build_hash(keys):
    """Open-addressing table over distinct non-negative int64 keys: key -> position in ``keys``.

    Returns (table_keys int64[cap], table_vals int64[cap]); empty slots hold -1.
    """
    cap = _capacity(len(keys))
    shift = np.uint64(64 - int(np.log2(cap)))
    tk = np.full(cap, -1, dtype=np.int64)
    tv = np.full(cap, -1, dtype=np.int64)
    mask = cap - 1
    for i in range(len(keys)):
        k = keys[i]
        h = np.int64((np.uint64(k) * _MULT) >> shift)
        while tk[h] != -1 and tk[h] != k:
            h = (h + 1) & mask
        tk[h] = k
        tv[h] = i
    return tk, tv


@njit(cache=True, nogil=True, inline="always")
def _lookup(tk, tv, start, cap, key):
    if cap == 0:
        return -1
    shift = np.uint64(64 - int(np.log2(cap)))
    h = np.int64((np.uint64(key) * _MULT) >> shift)
    mask = cap - 1
    while True:
        k = tk[start + h]
        if k == key:
            return tv[start + h]
        if k == -1:
            return -1
        h = (h + 1) & mask


@njit(cache=True, nogil=True)
def lookup_many(tk, tv, keys):
    """Positions of ``keys`` in one hash table (-1 where absent)."""
    out = np.empty(len(keys), dtype=np.int64)
    cap = len(tk)
    for i in range(len(keys)):
        out[i] = _lookup(tk, tv, 0, cap, keys[i])
    return out


@njit(cache=True, nogil=True)
def score_tokens(ids, offsets, order, vocab_size, bos, eos,
                 table_keys, table_vals, table_start, table_cap,
                 logprob, backoff, gram_start, use_bos, use_eos,
                 unseen_context_backoff=0.0, uniform_fallback=np.nan):
    """Backoff scoring of every word of every sentence.

    The model's arrays are concatenated over orders 1..N: order k's hash table is
    ``table_keys[table_start[k]: table_start[k] + table_cap[k]]`` (k >= 2) and its n-gram
    values ``logprob/backoff[gram_start[k] + id]``. ``unseen_context_backoff``: log10 weight
    of a backoff step from a context the model does not list (0 for backoff models; stupid
    backoff's log10 0.4). ``uniform_fallback`` (log10 1/V, or NaN): when finite, an n-gram
    not listed with the whole available context gets that context's weight times the uniform
    distribution instead of backing off to lower orders (additive smoothing). Returns, per
    scored word (</s> included when ``use_eos``): log10 probability (float64), n-gram length
    used (int32).
    """
    uniform = not np.isnan(uniform_fallback)
    n_sent = len(offsets) - 1
    n_out = len(ids) + (n_sent if use_eos else 0)
    out_lp = np.empty(n_out, dtype=np.float64)
    out_len = np.empty(n_out, dtype=np.int32)
    ctx = np.full(order + 1, -1, dtype=np.int64)  # ctx[j]: id of the j-gram ending at the previous word
    new = np.full(order + 1, -1, dtype=np.int64)
    o = 0
    for s in range(n_sent):
        for j in range(order + 1):
            ctx[j] = -1
        history = 0   # words of context available (<s> included)
        if use_bos:
            ctx[1] = bos
            history = 1
        start, end = offsets[s], offsets[s + 1]
        last = end + 1 if use_eos else end
        for i in range(start, last):
            full = min(history, order - 1)   # context length the model could use
            w = eos if i == end else ids[i]
            # the longest n-gram (context, w) in the model; shorter ones are kept as the
            # next word's contexts
            new[1] = w
            found = 1
            for k in range(2, order + 1):
                c = ctx[k - 1]
                g = -1
                if c >= 0:
                    g = _lookup(table_keys, table_vals, table_start[k], table_cap[k], c * vocab_size + w)
                new[k] = g
                if g >= 0:
                    found = k
            if uniform and found <= full:
                lp = uniform_fallback
                c = ctx[full]
                if c >= 0:
                    lp += backoff[gram_start[full] + c]
            else:
                lp = np.float64(logprob[gram_start[found] + new[found]])
                # backoff weights of the contexts longer than the one used
                for j in range(found, full + 1):
                    c = ctx[j]
                    if c >= 0:
                        lp += backoff[gram_start[j] + c]
                    else:
                        lp += unseen_context_backoff
            out_lp[o] = lp
            out_len[o] = found
            o += 1
            for k in range(1, order):
                ctx[k] = new[k]
            history += 1
    return out_lp, out_len


@njit(cache=True, nogil=True)
def _row_less(a, i, b, j, width):
    for c in range(width):
        if a[i, c] != b[j, c]:
            return a[i, c] < b[j, c]
    return False


@njit(cache=True, nogil=True)
def prefix_ids(rows, lower):
    """For lexicographically sorted n-gram rows [n, k] and the sorted unique (k-1)-gram rows
    ``lower`` [m, k-1], the index in ``lower`` of each row's first k-1 words (-1 if absent)."""
    n, k = rows.shape
    out = np.full(n, -1, dtype=np.int64)
    j = 0
    m = lower.shape[0]
    for i in range(n):
        while j < m and _row_less(lower, j, rows, i, k - 1):
            j += 1
        if j < m:
            same = True
            for c in range(k - 1):
                if lower[j, c] != rows[i, c]:
                    same = False
                    break
            if same:
                out[i] = j
    return out
