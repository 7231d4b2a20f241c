"""Numba kernels of the translation family: IBM Model 1 estimation for lexical shortlists.

Sentences are flattened: ``src_flat[src_off[n]:src_off[n + 1]]`` is sentence n's source ids
(int32), likewise the target side. Word pairs live in one sorted array of keys
``s * n_tgt + t`` (int64); source id ``n_src`` is the NULL word every target may align to.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def sentence_pair_keys(src_flat, src_off, tgt_flat, tgt_off, lo, hi, null_id, n_tgt):
    """The keys of every (source word or NULL, target word) pair of sentences lo..hi-1, with
    repeats: int64 [sum over sentences of (|src| + 1) * |tgt|]."""
    total = 0
    for n in range(lo, hi):
        total += (src_off[n + 1] - src_off[n] + 1) * (tgt_off[n + 1] - tgt_off[n])
    keys = np.empty(total, np.int64)
    k = 0
    for n in range(lo, hi):
        for j in range(tgt_off[n], tgt_off[n + 1]):
            t = tgt_flat[j]
            keys[k] = np.int64(null_id) * n_tgt + t
            k += 1
            for i in range(src_off[n], src_off[n + 1]):
                keys[k] = np.int64(src_flat[i]) * n_tgt + t
                k += 1
    return keys


@njit(cache=True)
def ibm1_em(src_flat, src_off, tgt_flat, tgt_off, keys, null_id, n_tgt, iterations):
    """IBM Model 1 translation probabilities t(target | source) by EM (Brown et al. 1993),
    from uniform: float64 [len(keys)], aligned with ``keys`` (sorted, unique)."""
    n_pairs = keys.shape[0]
    prob = np.ones(n_pairs)
    counts = np.zeros(n_pairs)
    n_sent = src_off.shape[0] - 1
    idx = np.empty(0, np.int64)
    for _ in range(iterations):
        counts[:] = 0.0
        for n in range(n_sent):
            ns = src_off[n + 1] - src_off[n] + 1
            if idx.shape[0] < ns:
                idx = np.empty(2 * ns, np.int64)
            for j in range(tgt_off[n], tgt_off[n + 1]):
                t = tgt_flat[j]
                idx[0] = np.searchsorted(keys, np.int64(null_id) * n_tgt + t)
                for i in range(1, ns):
                    idx[i] = np.searchsorted(keys, np.int64(src_flat[src_off[n] + i - 1]) * n_tgt + t)
                denom = 0.0
                for i in range(ns):
                    denom += prob[idx[i]]
                for i in range(ns):
                    counts[idx[i]] += prob[idx[i]] / denom
        # normalise per source word: keys are sorted by source id first
        start = 0
        while start < n_pairs:
            s = keys[start] // n_tgt
            end = start
            total = 0.0
            while end < n_pairs and keys[end] // n_tgt == s:
                total += counts[end]
                end += 1
            for p in range(start, end):
                prob[p] = counts[p] / total if total > 0 else 0.0
            start = end
    return prob
