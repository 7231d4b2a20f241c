"""numba kernels shared by the neural layers."""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def scatter_add_rows(target, index, rows):
    """target[index[i]] += rows[i] for every i (repeated indices add up)."""
    n, d = rows.shape
    for i in range(n):
        t = index[i]
        for j in range(d):
            target[t, j] += rows[i, j]


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def softmax_xent_inplace(logits, targets, weights):
    """Row-wise softmax cross-entropy. logits [N, V] is overwritten with d loss / d logits;
    each row's loss is multiplied by weights[r] (mask / token count). Returns the loss sum."""
    n, v = logits.shape
    row_loss = np.zeros(n, dtype=np.float64)
    for r in prange(n):
        w = weights[r]
        m = logits[r, 0]
        for j in range(1, v):
            if logits[r, j] > m:
                m = logits[r, j]
        s = 0.0
        for j in range(v):
            e = np.exp(logits[r, j] - m)
            logits[r, j] = e
            s += e
        t = targets[r]
        row_loss[r] = -(np.log(logits[r, t] / s)) * w
        scale = w / s
        for j in range(v):
            logits[r, j] *= scale
        logits[r, t] -= w
    return row_loss.sum()


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def adam_update(p, g, m, v, step_size, b1, b2, eps, bias2):
    """One Adam step on flat float arrays, in a single pass:
    m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= step_size m / (sqrt(v / bias2) + eps)."""
    for i in prange(p.shape[0]):
        gi = g[i]
        mi = b1 * m[i] + (1.0 - b1) * gi
        vi = b2 * v[i] + (1.0 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= step_size * mi / (np.sqrt(vi / bias2) + eps)
