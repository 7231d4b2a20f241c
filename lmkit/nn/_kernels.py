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


def softmax_xent(logits, targets, weights):
    """Row-wise softmax cross-entropy: logits [N, V] is overwritten with d loss / d logits, each
    row's loss multiplied by weights[r] (mask / token count); returns the loss sum. Small inputs
    by a one-thread numba kernel, large ones by numpy, whose SIMD exp is several times faster
    than numba's scalar one (1,120 x 10,000: 14 ms against 74 for the parallel kernel)."""
    if logits.shape[0] * logits.shape[1] < (1 << 16):
        return softmax_xent_serial(logits, targets, weights)
    z = logits
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    s = z.sum(axis=1, dtype=np.float64)
    r = np.arange(len(targets))
    w = np.asarray(weights, np.float64)
    loss = float(-(np.log(z[r, targets] / s) * w).sum())
    z *= (w / s).astype(z.dtype)[:, None]
    z[r, targets] -= weights
    return loss


def log_softmax_pick_any(logits, targets):
    """:func:`log_softmax_pick` (float64 [N]), large inputs through numpy's SIMD exp."""
    if logits.shape[0] * logits.shape[1] < (1 << 16):
        return log_softmax_pick(logits, targets)
    m = logits.max(axis=1, keepdims=True)
    s = np.exp(logits - m).sum(axis=1, dtype=np.float64)
    r = np.arange(len(targets))
    return logits[r, targets].astype(np.float64) - m[:, 0] - np.log(s)


@njit(cache=True, nogil=True, fastmath=True)
def adam_update(p, g, m, v, step_size, b1, b2, eps, bias2):
    """One Adam step on flat float arrays, in a single pass:
    m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= step_size m / (sqrt(v / bias2) + eps).
    One thread: the pass is bound by memory, and right after BLAS calls a parallel loop meets
    OpenBLAS's threads still spinning on the other core (measured 20x slower that way)."""
    for i in range(p.shape[0]):
        gi = g[i]
        mi = b1 * m[i] + (1.0 - b1) * gi
        vi = b2 * v[i] + (1.0 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= step_size * mi / (np.sqrt(vi / bias2) + eps)


@njit(cache=True, nogil=True, fastmath=True)
def rows_sq_norm(g, rows):
    """sum of g[r, :]^2 over r in rows (g [n, d]), float64."""
    total = 0.0
    for r in rows:
        for j in range(g.shape[1]):
            total += np.float64(g[r, j]) * g[r, j]
    return total


@njit(cache=True, nogil=True, fastmath=True)
def scale_rows(g, rows, factor):
    """g[r, :] *= factor for r in rows (g [n, d])."""
    for r in rows:
        for j in range(g.shape[1]):
            g[r, j] *= factor


@njit(cache=True, nogil=True, fastmath=True)
def sgd_rows(p, g, rows, lr):
    """p[r, :] -= lr * g[r, :] for r in rows (p, g [n, d]); one pass, no gathered copies."""
    for r in rows:
        for j in range(p.shape[1]):
            p[r, j] -= lr * g[r, j]


@njit(cache=True, nogil=True)
def huffman_paths(parent, branch, n_words):
    """Codes and inner-node points of every leaf of a Huffman tree given by ``parent`` and
    ``branch`` (int64/uint8 [2V - 1], root 2V - 2): (codes uint8 [V, L], points int32 [V, L],
    lengths int32 [V]), each path from the root down."""
    root = 2 * n_words - 2
    lengths = np.zeros(n_words, dtype=np.int32)
    for w in range(n_words):
        node = w
        d = 0
        while node != root:
            node = parent[node]
            d += 1
        lengths[w] = d
    L = max(1, lengths.max()) if n_words else 1
    codes = np.zeros((n_words, L), dtype=np.uint8)
    points = np.zeros((n_words, L), dtype=np.int32)
    for w in range(n_words):
        node = w
        d = lengths[w] - 1
        while node != root:
            codes[w, d] = branch[node]
            node = parent[node]
            points[w, d] = node - n_words
            d -= 1
    return codes, points, lengths


@njit(cache=True, nogil=True, parallel=True)
def log_softmax_pick(logits, targets):
    """log softmax(logits[r])[targets[r]] in float64 for every row: float64 [N]."""
    n, v = logits.shape
    out = np.empty(n, dtype=np.float64)
    for r in prange(n):
        m = logits[r, 0]
        for j in range(1, v):
            if logits[r, j] > m:
                m = logits[r, j]
        s = 0.0
        for j in range(v):
            s += np.exp(np.float64(logits[r, j]) - m)
        out[r] = np.float64(logits[r, targets[r]]) - m - np.log(s)
    return out


@njit(cache=True, nogil=True, parallel=True)
def log_softmax_rows(logits):
    """Row-wise log softmax in float64: float64 [N, V]."""
    n, v = logits.shape
    out = np.empty((n, v), dtype=np.float64)
    for r in prange(n):
        m = logits[r, 0]
        for j in range(1, v):
            if logits[r, j] > m:
                m = logits[r, j]
        s = 0.0
        for j in range(v):
            s += np.exp(np.float64(logits[r, j]) - m)
        lse = m + np.log(s)
        for j in range(v):
            out[r, j] = np.float64(logits[r, j]) - lse
    return out


@njit(cache=True, nogil=True, fastmath=True)
def _log_sigmoid(x):
    """log(1 / (1 + e^-x)) without overflow, float64."""
    if x >= 0:
        return -np.log1p(np.exp(-x))
    return x - np.log1p(np.exp(x))


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def hs_loss_grad(h, rows, weights, codes, points, lengths, Wn, bn, dh, gWn, gbn, touched):
    """Hierarchical softmax: -sum_r weights[r] log p(rows[r] | h[r]), where p is the product of
    sigmoid(+-(h . Wn[node] + bn[node])) along the leaf's Huffman path (code 0: +, 1: -).
    Adds d loss / d h into dh [N, H] and the node gradients into gWn, gbn; sets touched[node]
    (bool [nodes]) for every node a weighted token used; returns the loss.

    Tokens in parallel (each writes its own dh row and path gradients), then the node gradients
    in one thread, summed in token order: the result does not depend on the number of threads.
    Dot products and gradients in the parameters' precision (SIMD), losses in float64."""
    n, H = h.shape
    g = np.zeros((n, codes.shape[1]), dtype=h.dtype)      # d loss / d node logit along each path
    losses = np.zeros(n, dtype=np.float64)
    for r in prange(n):
        w = weights[r]
        if w == 0.0:
            continue
        row = rows[r]
        for d in range(lengths[row]):
            node = points[row, d]
            x = bn[node]
            for k in range(H):
                x += h[r, k] * Wn[node, k]
            sign = 1.0 - 2.0 * codes[row, d]
            z = sign * x
            losses[r] -= w * _log_sigmoid(z)
            # d(-log sigmoid(z))/dx = -sign * (1 - sigmoid(z)) = -sign * sigmoid(-z)
            g[r, d] = -w * sign / (1.0 + np.exp(z))
            gd = g[r, d]
            for k in range(H):
                dh[r, k] += gd * Wn[node, k]
    for r in range(n):                # serial: tokens share nodes (and it is memory-bound)
        if weights[r] == 0.0:
            continue
        row = rows[r]
        for d in range(lengths[row]):
            node = points[row, d]
            gd = g[r, d]
            for k in range(H):
                gWn[node, k] += gd * h[r, k]
            gbn[node] += gd
            touched[node] = True
    return losses.sum()


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def rnn_backward_steps(dout, out, WhT, keep, mask, dh_last, dpre, dh_first):
    """Back-propagation through the time steps of the sigmoid RNN h_t = m_t sigmoid(pre_t) +
    (1 - m_t) h'_{t-1}, pre_t = x_t Wx + h'_{t-1} Wh + b, with h'_{t-1} = keep_t h_{t-1}.
    dout, out [B, T, H] (d loss / d h_t from above; the outputs h_t), WhT = Wh.T [H, H]
    contiguous, keep and mask [B, T], dh_last [B, H] (gradient into h_T). Writes d loss / d
    pre_t into dpre [B, T, H] and d loss / d h_0 into dh_first [B, H]. Streams in parallel:
    each is a chain of its own, so the result does not depend on the number of threads."""
    B, T, H = dout.shape
    for b in prange(B):
        dh = dh_last[b].copy()
        carried = np.empty(H, dout.dtype)
        for t in range(T - 1, -1, -1):
            m = mask[b, t]
            for j in range(H):
                dh[j] += dout[b, t, j]
                y = out[b, t, j]
                dpre[b, t, j] = dh[j] * y * (1 - y) * m
                carried[j] = (1 - m) * dh[j]
            for k in range(H):
                g = dpre[b, t, k]
                if g != 0:
                    for j in range(H):
                        carried[j] += g * WhT[k, j]
            kf = keep[b, t]
            for j in range(H):
                dh[j] = carried[j] * kf
        dh_first[b] = dh


@njit(cache=True, nogil=True, parallel=True)
def hs_log_probs(h, rows, codes, points, lengths, Wn, bn):
    """Natural log p(rows[r] | h[r]) under hierarchical softmax: float64 [N]."""
    n, H = h.shape
    out = np.zeros(n, dtype=np.float64)
    for r in prange(n):
        row = rows[r]
        s = 0.0
        for d in range(lengths[row]):
            node = points[row, d]
            x = np.float64(bn[node])
            for k in range(H):
                x += h[r, k] * Wn[node, k]
            s += _log_sigmoid((1.0 - 2.0 * codes[row, d]) * x)
        out[r] = s
    return out


@njit(cache=True, nogil=True, parallel=True)
def hs_log_distribution(node_logits, codes, points, lengths):
    """Natural log p(leaf | h) of every leaf from all inner nodes' logits [N, nodes]:
    float64 [N, leaves]."""
    n = node_logits.shape[0]
    leaves = lengths.shape[0]
    out = np.zeros((n, leaves), dtype=np.float64)
    for r in prange(n):
        for w in range(leaves):
            s = 0.0
            for d in range(lengths[w]):
                s += _log_sigmoid((1.0 - 2.0 * codes[w, d]) * np.float64(node_logits[r, points[w, d]]))
            out[r, w] = s
    return out


@njit(cache=True, nogil=True, fastmath=True)
def softmax_xent_serial(logits, targets, weights):
    """:func:`softmax_xent` for small inputs, in one thread (no thread pool to start)."""
    n, v = logits.shape
    total = 0.0
    for r in range(n):
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
        total -= np.log(logits[r, t] / s) * w
        scale = w / s
        for j in range(v):
            logits[r, j] *= scale
        logits[r, t] -= w
    return total


@njit(cache=True, nogil=True, fastmath=True)
def lstm_cell_backward(dh, dc, acts, c_prev, tc, mask, dgates, dh_keep, dc_prev):
    """Gradients of one LSTM step (acts [B, 4H]: the gates i, f, g, o after their
    nonlinearities, tc = tanh(c'), and h_out, c_out = mask * new + (1 - mask) * previous,
    mask [B]). dh, dc [B, H]: d loss / d (h_out, c_out);
    writes dgates [B, 4H] (d pre-activations), dh_keep = (1 - mask) dh (the part of dh that
    flows to h_prev directly) and dc_prev [B, H]."""
    B, H4 = acts.shape
    H = H4 // 4
    for b in range(B):
        m = mask[b]
        for j in range(H):
            i = acts[b, j]
            f = acts[b, H + j]
            g = acts[b, 2 * H + j]
            o = acts[b, 3 * H + j]
            t = tc[b, j]
            dhn = m * dh[b, j]
            dcn = m * dc[b, j] + dhn * o * (1.0 - t * t)
            dgates[b, j] = dcn * g * i * (1.0 - i)
            dgates[b, H + j] = dcn * c_prev[b, j] * f * (1.0 - f)
            dgates[b, 2 * H + j] = dcn * i * (1.0 - g * g)
            dgates[b, 3 * H + j] = dhn * t * o * (1.0 - o)
            dh_keep[b, j] = (1.0 - m) * dh[b, j]
            dc_prev[b, j] = dcn * f + (1.0 - m) * dc[b, j]


@njit(cache=True, nogil=True, fastmath=True)
def _class_logits(h, r, Ww, bw, a, z):
    """z[j] = h[r] . Ww[a + j] + bw[a + j] for the len(z) words of a class (float64); returns max z."""
    H = h.shape[1]
    m = -1e300
    for j in range(len(z)):
        s = np.float64(bw[a + j])
        for d in range(H):
            s += h[r, d] * Ww[a + j, d]
        z[j] = s
        if s > m:
            m = s
    return m


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def class_words_loss_grad(h, rows, weights, order, group_start, group_class, class_start, Ww, bw, dh, gWw, gbw,
                          backward):
    """The within-class softmax of a class-factored output, for tokens grouped by class:
    tokens order[group_start[k]:group_start[k+1]] all have class group_class[k], whose words
    are rows class_start[c]:class_start[c+1] of Ww [words, H] / bw. Adds -weights[r] log
    p(rows[r] | class, h[r]) to the loss and, with ``backward``, d loss / d h into dh and the
    rows' gradients into gWw, gbw. One class per thread: no two threads touch the same rows."""
    G = len(group_class)
    H = h.shape[1]
    losses = np.zeros(G, dtype=np.float64)
    for k in prange(G):
        c = group_class[k]
        a = class_start[c]
        n = class_start[c + 1] - a
        z = np.empty(n, dtype=np.float64)
        for q in range(group_start[k], group_start[k + 1]):
            r = order[q]
            w = weights[r]
            m = _class_logits(h, r, Ww, bw, a, z)
            tot = 0.0
            for j in range(n):
                z[j] = np.exp(z[j] - m)
                tot += z[j]
            t = rows[r] - a
            losses[k] -= w * np.log(z[t] / tot)
            if backward:
                for j in range(n):
                    g = w * z[j] / tot
                    if j == t:
                        g -= w
                    if g != 0.0:
                        for d in range(H):
                            dh[r, d] += g * Ww[a + j, d]
                            gWw[a + j, d] += g * h[r, d]
                        gbw[a + j] += g
    return losses.sum()


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def class_words_log_probs(h, rows, order, group_start, group_class, class_start, Ww, bw, out):
    """Adds log p(rows[r] | class, h[r]) of the within-class softmax to out[r] (float64), for
    tokens grouped by class as in :func:`class_words_loss_grad`; one class per thread."""
    G = len(group_class)
    for k in prange(G):
        c = group_class[k]
        a = class_start[c]
        n = class_start[c + 1] - a
        z = np.empty(n, dtype=np.float64)
        for q in range(group_start[k], group_start[k + 1]):
            r = order[q]
            m = _class_logits(h, r, Ww, bw, a, z)
            tot = 0.0
            for j in range(n):
                tot += np.exp(z[j] - m)
            out[r] += z[rows[r] - a] - m - np.log(tot)
