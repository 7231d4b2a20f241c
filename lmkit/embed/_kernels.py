"""numba kernels of word2vec: skip-gram and CBOW with hierarchical softmax and/or negative
sampling, trained lock-free (Hogwild) by several threads on shared float32 matrices.

Plain arrays only. Randomness is the word2vec C tool's linear congruential generator, seeded
per job, so a single worker is bit-for-bit reproducible.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._numfmt import put_bytes

MAX_EXP = 6.0
TABLE_SIZE = 1024
_LCG_MUL = np.uint64(25214903917)
_LCG_ADD = np.uint64(11)


def sigmoid_tables() -> tuple[np.ndarray, np.ndarray]:
    """sigma(x) and -log(sigma(x)) on TABLE_SIZE points over [-MAX_EXP, MAX_EXP] (float32)."""
    x = (np.arange(TABLE_SIZE, dtype=np.float64) + 0.5) / TABLE_SIZE * 2 * MAX_EXP - MAX_EXP
    sig = 1.0 / (1.0 + np.exp(-x))
    return sig.astype(np.float32), (-np.log(sig)).astype(np.float32)


@njit(cache=True, inline="always")
def _next(state):
    return state * _LCG_MUL + _LCG_ADD


@njit(cache=True, inline="always")
def _uniform(state):
    """A float in [0, 1) from the generator's upper bits."""
    return np.float32((state >> np.uint64(40)) & np.uint64(0xFFFFFF)) / np.float32(16777216.0)


@njit(cache=True, inline="always")
def _table_index(f):
    return int((f + MAX_EXP) * (TABLE_SIZE / (2 * MAX_EXP)))


@njit(cache=True, inline="always")
def _neg_log_sigmoid(f, logsig):
    """-log sigma(f) (table inside [-MAX_EXP, MAX_EXP], asymptotes outside)."""
    if f >= MAX_EXP:
        return np.float32(0.0)
    if f <= -MAX_EXP:
        return -f
    return logsig[_table_index(f)]


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _dot_row(v, mat, r, dim):
    """v . mat[r] without making a view of the row (a view would touch the matrix's shared
    reference count, an atomic every thread fights over)."""
    s = np.float32(0.0)
    for d in range(dim):
        s += v[d] * mat[r, d]
    return s


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _learn_row(v, mat, r, g, neu1e, dim):
    """neu1e += g * mat[r] (the gradient for v from the old row), then mat[r] += g * v."""
    for i in range(dim):
        o = mat[r, i]
        neu1e[i] += g * o
        mat[r, i] = o + g * v[i]


@njit(cache=True, nogil=True)
def _sync_rows(mat, first, private, base):
    """Publish a thread's private copy (rows ``private:private + len(base)`` of ``mat``) of the
    shared rows from ``first`` on: add its changes since the last sync (copy - base) to the
    shared rows, then take the shared values (which hold the other threads' changes too) as
    the new copy and base."""
    for r in range(base.shape[0]):
        for i in range(base.shape[1]):
            v = mat[first + r, i] + (mat[private + r, i] - base[r, i])
            mat[first + r, i] = v
            mat[private + r, i] = v
            base[r, i] = v


@njit(cache=True, nogil=True, fastmath=True)
def _learn(l1, target_word, syn1, syn1neg, hot, neu1e, alpha, use_hs, negative,
           points, codes, code_lens, neg_prob, neg_alias, sig, logsig, state):
    """One prediction of ``target_word`` from hidden vector ``l1``: accumulates the gradient
    for l1 in neu1e, updates the output vectors. Returns (loss, new rng state).

    ``hot`` = (n, syn1 first, syn1 copy, syn1neg first, syn1neg copy): the n rows from
    ``first`` on are read and written at ``copy`` on instead, a thread's private rows in
    the same matrix (n = 0: none)."""
    dim = l1.shape[0]
    loss = np.float32(0.0)
    n_hot = hot[0]
    if use_hs:
        first1, shift1 = hot[1], hot[2] - hot[1]
        for d in range(code_lens[target_word]):
            node = points[target_word, d]
            if node >= first1 and node < first1 + n_hot:   # an index, not a view: one array
                node += shift1
            f = _dot_row(l1, syn1, node, dim)
            code = codes[target_word, d]
            # label 1 - code: code 0 means "sigma(f) should be 1"
            loss += _neg_log_sigmoid(f if code == 0 else -f, logsig)
            if f <= -MAX_EXP or f >= MAX_EXP:
                continue
            g = (np.float32(1 - code) - sig[_table_index(f)]) * alpha
            _learn_row(l1, syn1, node, g, neu1e, dim)
    if negative > 0:
        V = neg_prob.shape[0]
        firstneg, shiftneg = hot[3], hot[4] - hot[3]
        for d in range(negative + 1):
            if d == 0:
                target = target_word
                label = np.float32(1.0)
            else:
                state = _next(state)
                k = np.int64((state >> np.uint64(16)) % np.uint64(V))
                state = _next(state)
                target = k if _uniform(state) < neg_prob[k] else neg_alias[k]
                if target == target_word:
                    continue
                label = np.float32(0.0)
            if target >= firstneg and target < firstneg + n_hot:
                target += shiftneg
            f = _dot_row(l1, syn1neg, target, dim)
            loss += _neg_log_sigmoid(f if label > 0 else -f, logsig)
            if f > MAX_EXP:
                g = (label - np.float32(1.0)) * alpha
            elif f < -MAX_EXP:
                g = label * alpha
            else:
                g = (label - sig[_table_index(f)]) * alpha
            _learn_row(l1, syn1neg, target, g, neu1e, dim)
    return loss, state


@njit(cache=True, nogil=True, fastmath=True)
def train_job(corpus, weights, tables, settings, job, hot):
    """Train on sentences [sent_lo, sent_hi) of the encoded corpus.

    Arguments come grouped (numba tuples of arrays and numbers):
    ``corpus`` = (ids int32, offsets int64); ``weights`` = (syn0, syn1, syn1neg) float32;
    ``tables`` = (keep_prob, points, codes, code_lens, neg_prob, neg_alias, sig, logsig);
    ``settings`` = (window, negative, use_hs, cbow, max_sentence, sync_words);
    ``job`` = (sent_lo, sent_hi, first_word, alpha_start, alpha_end, seed).

    Ids below ``first_word`` (the vocabulary's specials, e.g. <unk>) are dropped, as are
    sub-sampled words (kept with probability ``keep_prob[w]``); the learning rate falls
    linearly from alpha_start to alpha_end over the job's words. Sentences longer than
    ``max_sentence`` are cut into pieces. Returns (loss sum, predictions made, raw words).

    ``hot`` (several threads; see _learn): the output rows every thread writes all the time
    (the Huffman nodes nearest the root, which every prediction passes, and the most frequent
    words' negative-sampling rows) are updated in this thread's private copy, kept in spare
    rows at the end of syn1 / syn1neg, and published every ``sync_words`` corpus words, so
    that the cores do not fight over those cache lines. (0, 0, 0, 0, 0): every update goes
    straight to the shared rows.
    """
    ids, offsets = corpus
    syn0, syn1, syn1neg = weights
    keep_prob, points, codes, code_lens, neg_prob, neg_alias, sig, logsig = tables
    window, negative, use_hs, cbow, max_sentence, sync_words = settings
    sent_lo, sent_hi, first_word, alpha_start, alpha_end, seed = job
    dim = syn0.shape[1]
    n_hot = hot[0]
    base1 = syn1[hot[1]:hot[1] + n_hot].copy() if use_hs else syn1[:0].copy()
    syn1[hot[2]:hot[2] + base1.shape[0]] = base1
    baseneg = syn1neg[hot[3]:hot[3] + n_hot].copy() if negative > 0 else syn1neg[:0].copy()
    syn1neg[hot[4]:hot[4] + baseneg.shape[0]] = baseneg
    since_sync = 0
    neu1 = np.empty(dim, dtype=np.float32)
    neu1e = np.empty(dim, dtype=np.float32)
    l1 = np.empty(dim, dtype=np.float32)
    buf = np.empty(max_sentence, dtype=np.int32)
    state = np.uint64(seed) * np.uint64(2862933555777941757) + np.uint64(3037000493)
    total = offsets[sent_hi] - offsets[sent_lo]
    done = 0
    loss = 0.0
    predictions = 0
    for s in range(sent_lo, sent_hi):
        start, end = offsets[s], offsets[s + 1]
        piece = start
        while piece < end:
            stop = min(end, piece + max_sentence)
            n = 0
            for i in range(piece, stop):
                w = ids[i]
                if w < first_word:
                    continue
                kp = keep_prob[w]
                if kp < 1.0:
                    state = _next(state)
                    if _uniform(state) >= kp:
                        continue
                buf[n] = w
                n += 1
            alpha = np.float32(alpha_start + (alpha_end - alpha_start) * (done / max(total, 1)))
            done += stop - piece
            since_sync += stop - piece
            piece = stop
            for pos in range(n):
                state = _next(state)
                b = np.int64((state >> np.uint64(16)) % np.uint64(window))
                lo = max(0, pos - window + b)
                hi = min(n, pos + window - b + 1)
                word = buf[pos]
                if cbow:
                    count = 0
                    for i in range(dim):
                        neu1[i] = 0.0
                    for c in range(lo, hi):
                        if c != pos:
                            w = buf[c]
                            for i in range(dim):
                                neu1[i] += syn0[w, i]
                            count += 1
                    if count == 0:
                        continue
                    inv = np.float32(1.0) / count
                    for i in range(dim):
                        neu1[i] *= inv
                        neu1e[i] = 0.0
                    l, state = _learn(neu1, word, syn1, syn1neg, hot, neu1e, alpha, use_hs, negative,
                                      points, codes, code_lens, neg_prob, neg_alias, sig, logsig, state)
                    loss += l
                    predictions += 1
                    for c in range(lo, hi):
                        if c != pos:
                            w = buf[c]
                            for i in range(dim):
                                syn0[w, i] += neu1e[i]
                else:
                    for c in range(lo, hi):
                        if c == pos:
                            continue
                        w = buf[c]
                        for i in range(dim):   # a copy of the row: no view (see _dot_row)
                            l1[i] = syn0[w, i]
                            neu1e[i] = 0.0
                        l, state = _learn(l1, word, syn1, syn1neg, hot, neu1e, alpha, use_hs, negative,
                                          points, codes, code_lens, neg_prob, neg_alias, sig, logsig, state)
                        loss += l
                        predictions += 1
                        for i in range(dim):
                            syn0[w, i] += neu1e[i]
            if since_sync >= sync_words:
                _sync_rows(syn1, hot[1], hot[2], base1)
                _sync_rows(syn1neg, hot[3], hot[4], baseneg)
                since_sync = 0
    _sync_rows(syn1, hot[1], hot[2], base1)
    _sync_rows(syn1neg, hot[3], hot[4], baseneg)
    return loss, predictions, total


@njit(cache=True, nogil=True, inline="always")
def _sift_down(heap_v, heap_i, size, v, idx):
    """Place (v, idx) at the root of a min-heap of ``size`` entries and restore the order."""
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap_v[child + 1] < heap_v[child]:
            child += 1
        if heap_v[child] >= v:
            break
        heap_v[pos] = heap_v[child]
        heap_i[pos] = heap_i[child]
        pos = child
    heap_v[pos] = v
    heap_i[pos] = idx


@njit(cache=True, nogil=True)
def _heap_push(hv, hi, size, v, idx):
    """Offer (v, idx) to a min-heap of the best ``len(hv)`` holding ``size`` entries; returns
    the new size."""
    if size < hv.shape[0]:
        pos = size
        while pos > 0:
            parent = (pos - 1) // 2
            if hv[parent] <= v:
                break
            hv[pos] = hv[parent]
            hi[pos] = hi[parent]
            pos = parent
        hv[pos] = v
        hi[pos] = idx
        return size + 1
    if v > hv[0]:
        _sift_down(hv, hi, size, v, idx)
    return size


@njit(cache=True, nogil=True)
def top_k_push(scores, col_offset, exclude, heap_v, heap_i, sizes):
    """Feed one block of scores (``[rows, cols]``, columns ``col_offset..``) into per-row
    min-heaps of the k best so far (``heap_v``/``heap_i`` ``[rows, k]``, ``sizes[rows]``),
    skipping column ``exclude[r]`` in row r (-1: none) and NaN scores. Blocks fed in column
    order give the same result as one pass over the whole row."""
    rows, cols = scores.shape
    k = heap_v.shape[1]
    for r in range(rows):
        size = sizes[r]
        ex = exclude[r]
        hv = heap_v[r]
        hi = heap_i[r]
        for c in range(cols):
            col = col_offset + c
            if col == ex:
                continue
            v = scores[r, c]
            if v != v:
                continue
            if size < k or v > hv[0]:      # the common case (not better than the k-th) stays in this loop
                size = _heap_push(hv, hi, size, v, col)
        sizes[r] = size


@njit(cache=True, nogil=True)
def top_k_pop(heap_v, heap_i, sizes):
    """Empty the heaps best first: indices ``[rows, k]`` (-1 past a row's size) and scores."""
    rows, k = heap_v.shape
    out_i = np.full((rows, k), -1, dtype=np.int64)
    out_v = np.full((rows, k), -np.inf, dtype=heap_v.dtype)
    for r in range(rows):
        hv = heap_v[r]
        hi = heap_i[r]
        for j in range(sizes[r] - 1, -1, -1):
            out_i[r, j] = hi[0]
            out_v[r, j] = hv[0]
            _sift_down(hv, hi, j, hv[j], hi[j])
    return out_i, out_v


@njit(cache=True, nogil=True)
def scan_binary_entries(buf, start, n, dim):
    """Entries of a word2vec binary file held in ``buf`` (uint8) from byte ``start``: each
    is a word (leading newlines skipped), one space, ``4 * dim`` bytes of float32. Returns
    (word_start, word_end) int64 arrays and the number of entries found before the buffer
    ended (fewer than ``n``: truncated); a vector starts at ``word_end + 1``."""
    ws = np.empty(n, dtype=np.int64)
    we = np.empty(n, dtype=np.int64)
    pos = start
    size = len(buf)
    width = 4 * dim
    for i in range(n):
        while pos < size and buf[pos] == 10:
            pos += 1
        ws[i] = pos
        while pos < size and buf[pos] != 32:
            pos += 1
        if pos + 1 + width > size:
            return ws, we, i
        we[i] = pos
        pos += 1 + width
    return ws, we, n


@njit(cache=True, nogil=True)
def gather_rows(buf, starts, out):
    """Copy row i of ``out`` (uint8 ``[n, width]``: the bytes of little-endian float32
    vectors) from ``buf[starts[i]:starts[i] + width]``."""
    width = out.shape[1]
    for i in range(len(starts)):
        s = starts[i]
        out[i, :] = buf[s:s + width]


_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True, nogil=True)
def fnv1a(blob, lo, hi):
    """64-bit FNV-1a hash of ``blob[lo:hi]`` (uint8)."""
    h = _FNV_OFFSET
    for i in range(lo, hi):
        h = (h ^ np.uint64(blob[i])) * _FNV_PRIME
    return h


@njit(cache=True, nogil=True)
def _same_word(blob, lo, hi, query):
    if hi - lo != len(query):
        return False
    for j in range(len(query)):  # noqa: SIM110 (numba: no generators in nopython mode)
        if blob[lo + j] != query[j]:
            return False
    return True


@njit(cache=True, nogil=True)
def build_word_table(blob, offsets):
    """Open-addressing table (int64 [capacity], -1 empty) from the hash of each word
    ``blob[offsets[i]:offsets[i + 1]]`` to its row i. Returns (table, first duplicate row or -1)."""
    n = len(offsets) - 1
    cap = 16
    while cap < 2 * n:
        cap *= 2
    mask = np.uint64(cap - 1)
    table = np.full(cap, -1, dtype=np.int64)
    for i in range(n):
        lo, hi = offsets[i], offsets[i + 1]
        slot = fnv1a(blob, lo, hi) & mask
        while table[slot] != -1:
            r = table[slot]
            if _same_word(blob, offsets[r], offsets[r + 1], blob[lo:hi]):
                return table, i
            slot = (slot + np.uint64(1)) & mask
        table[slot] = i
    return table, -1


@njit(cache=True, nogil=True)
def join_words(buf, ws, we):
    """The bytes of words ``buf[ws[i]:we[i]]``, each followed by a newline (one decode and
    one split in Python instead of a million small ones)."""
    total = 0
    for i in range(len(ws)):
        total += we[i] - ws[i] + 1
    out = np.empty(total, dtype=np.uint8)
    p = 0
    for i in range(len(ws)):
        n = we[i] - ws[i]
        out[p:p + n] = buf[ws[i]:we[i]]
        out[p + n] = 10
        p += n + 1
    return out


@njit(cache=True, nogil=True)
def alias_build(p):
    """Walker's alias table for scaled weights ``p`` (mean 1): (prob float64 [V], alias int32
    [V]). Under-full and over-full entries are kept on two stacks of ids (arrays, no Python
    lists: a vocabulary of millions costs 16 bytes a word)."""
    V = len(p)
    p = p.copy()
    prob = np.ones(V, dtype=np.float64)
    alias = np.arange(V).astype(np.int32)
    small = np.empty(V, dtype=np.int64)
    large = np.empty(V, dtype=np.int64)
    ns = nl = 0
    for i in range(V):
        if p[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        g = large[nl]
        prob[s] = p[s]
        alias[s] = g
        p[g] = p[g] + p[s] - 1.0
        if p[g] < 1.0:
            small[ns] = g
            ns += 1
        else:
            large[nl] = g
            nl += 1
    return prob, alias


@njit(cache=True, nogil=True)
def text_lines(word_blob, word_off, num_txt, num_len, dim):
    """Lines ``word v1 ... vdim\\n`` of a word2vec text file as bytes: row ``i``'s word is
    ``word_blob[word_off[i]:word_off[i + 1]]``, its numbers rows ``i * dim .. i * dim + dim - 1``
    of ``num_txt`` (uint8 ``[n * dim, W]``, lengths ``num_len``)."""
    n = len(word_off) - 1
    size = word_off[n] - word_off[0] + n * (dim + 1)
    for j in range(len(num_len)):
        size += num_len[j]
    out = np.empty(size, dtype=np.uint8)
    p = 0
    for i in range(n):
        p = put_bytes(out, p, word_blob, word_off[i], word_off[i + 1])
        for j in range(i * dim, (i + 1) * dim):
            out[p] = 32
            p = put_bytes(out, p + 1, num_txt[j], 0, num_len[j])
        out[p] = 10
        p += 1
    return out


@njit(cache=True, nogil=True, fastmath=True)
def int8_scores(codes, scales, offset_dot, inv_norms, query, lo, hi, out):
    """Scores of rows ``lo .. hi - 1`` of an int8 matrix (row i = offset + ``codes[i]`` x
    ``scales[i]``) against a float32 ``query``: ``out[i - lo] = (offset_dot + scales[i] x
    codes[i] . query) x inv_norms[i]``, where ``offset_dot`` is offset . query. Reads one byte
    per value and decodes nothing into memory."""
    dim = codes.shape[1]
    for i in range(lo, hi):
        acc = np.float32(0.0)
        for j in range(dim):
            acc += np.float32(codes[i, j]) * query[j]
        out[i - lo] = (offset_dot + scales[i] * acc) * inv_norms[i]


@njit(cache=True, nogil=True, fastmath=True)
def pq_scores(codes, tables, base, inv_norms, n, out):
    """Asymmetric distances of product-quantised rows: ``out[i] = (base + sum_m
    tables[m, codes[i, m]]) * inv_norms[i]`` for rows 0 .. n - 1, where ``tables[m, c]`` is the
    query's sub-vector m dotted with centroid c of sub-space m (float32 [M, 256])."""
    M = codes.shape[1]
    for i in range(n):
        acc = np.float32(0.0)
        for m in range(M):
            acc += tables[m, codes[i, m]]
        out[i] = (base + acc) * inv_norms[i]


@njit(cache=True, nogil=True, fastmath=True)
def pq_tables(books_t, q, out):
    """A query's distance tables: ``out[m, c] = codebook m's centroid c . q[m * sub:(m + 1) *
    sub]``, from the codebooks laid out as ``books_t`` [M, sub, 256] (the inner loop runs over
    the 256 centroids: SIMD); out float32 [M, 256]."""
    M, sub, C = books_t.shape
    for m in range(M):
        for c in range(C):
            out[m, c] = 0.0
        for s in range(sub):
            qs = q[m * sub + s]
            for c in range(C):
                out[m, c] += books_t[m, s, c] * qs


@njit(cache=True, nogil=True, fastmath=True)
def ivf_pq_scan(codes, lists, starts, cells, cell_base, tables, inv_norms, n, ids, scores):
    """:func:`pq_scores` over the probed IVF cells only. Codes are in list order: position p
    holds row ``lists[p]``, cell c positions ``starts[c]:starts[c + 1]``. For each probed cell
    ``cells[j]``, every row < n gets ``(cell_base[j] + sum_m tables[m, codes[p, m]]) *
    inv_norms[p]``, written to ``ids`` / ``scores`` in scan order; returns how many."""
    M = codes.shape[1]
    k = 0
    for j in range(cells.shape[0]):
        c = cells[j]
        b = cell_base[j]
        for p in range(starts[c], starts[c + 1]):
            i = lists[p]
            if i >= n:
                continue
            acc = np.float32(0.0)
            for m in range(M):
                acc += tables[m, codes[p, m]]
            ids[k] = i
            scores[k] = (b + acc) * inv_norms[p]
            k += 1
    return k


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def ivf_pq_search_many(codes, lists, starts, probes, cell_base, tables, inv_norms, n, exclude, heap_v, heap_i,
                       sizes):
    """Many queries through an IVF-PQ index at once, one query per thread at a time: query b
    scans cells ``probes[b]`` (codes in list order, as :func:`ivf_pq_scan`) with its tables
    ``tables[b]`` [M, 256] and ``cell_base[b]``, skipping rows >= n and row ``exclude[b]``,
    and keeps its best ``heap_v.shape[1]`` rows in the min-heap ``heap_v[b]``/``heap_i[b]``
    (``sizes[b]`` entries)."""
    B, P = probes.shape
    M = codes.shape[1]
    R = heap_v.shape[1]
    for b in prange(B):
        size = 0
        hv = heap_v[b]
        hi = heap_i[b]
        for j in range(P):
            c = probes[b, j]
            base = cell_base[b, j]
            for p in range(starts[c], starts[c + 1]):
                i = lists[p]
                if i >= n or i == exclude[b]:
                    continue
                acc = np.float32(0.0)
                for m in range(M):
                    acc += tables[b, m, codes[p, m]]
                v = (base + acc) * inv_norms[p]
                if size < R or v > hv[0]:
                    size = _heap_push(hv, hi, size, v, i)
        sizes[b] = size


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def int8_cosines(codes, scales, offset, ids, queries, out):
    """Cosine of query b with int8 row ``ids[b, j]`` (row = offset + codes * scale, decoded on
    the fly; ids < 0 give -inf): codes int8 [n, dim], scales [n], offset [dim], ids int64 [B, R],
    queries float32 [B, dim] (unit), out float32 [B, R]. Queries in parallel."""
    B, R = ids.shape
    dim = codes.shape[1]
    for b in prange(B):
        for j in range(R):
            i = ids[b, j]
            if i < 0:
                out[b, j] = -np.inf
                continue
            s = scales[i]
            dot = np.float32(0.0)
            sq = np.float32(0.0)
            for d in range(dim):
                v = offset[d] + s * codes[i, d]
                dot += v * queries[b, d]
                sq += v * v
            out[b, j] = dot / np.sqrt(sq) if sq > 0 else dot


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def pq_tables_many(books_t, queries, out):
    """:func:`pq_tables` for many queries [B, dim] -> out float32 [B, M, 256]."""
    M, sub, C = books_t.shape
    for b in prange(queries.shape[0]):
        for m in range(M):
            for c in range(C):
                out[b, m, c] = 0.0
            for s in range(sub):
                qs = queries[b, m * sub + s]
                for c in range(C):
                    out[b, m, c] += books_t[m, s, c] * qs


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def ivf_pq_sq_norms(codes, codebooks, bases, row_cell, out):
    """Squared length of every IVF-PQ code row decoded: ``bases[row_cell[i]]`` (offset + the
    cell's centroid, [nlist, dim]) plus its M codebook pieces ([M, 256, sub]); float32 ``out``."""
    n, M = codes.shape
    sub = codebooks.shape[2]
    for i in prange(n):
        c = row_cell[i]
        acc = 0.0
        for m in range(M):
            code = codes[i, m]
            for s in range(sub):
                v = bases[c, m * sub + s] + codebooks[m, code, s]
                acc += v * v
        out[i] = acc


@njit(cache=True, nogil=True)
def changed_rows(old, new):
    """Ids (int64, ascending) of the rows where float32 matrices ``old`` and ``new``
    (both (n, dim)) differ; a row's scan stops at its first difference."""
    n, dim = old.shape
    out = np.empty(n, np.int64)
    k = 0
    for r in range(n):
        for i in range(dim):
            if old[r, i] != new[r, i]:
                out[k] = r
                k += 1
                break
    return out[:k]
