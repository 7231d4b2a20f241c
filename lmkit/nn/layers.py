"""Neural layers with hand-written backward passes (numpy + BLAS; time loops per step).

Shapes: B batch, T time, E embedding, H hidden, S source length, A attention size.
Each layer keeps its parameters in ``params`` (name -> array) and its gradients in ``grads``
(same names, accumulated by ``backward``). ``forward`` returns the output and a cache that
``backward`` consumes. Masks are float arrays [B, T] with 1 for real tokens, 0 for padding.
"""
from __future__ import annotations

import numpy as np

from .._arrays import sorted_union, sorted_unique
from ._kernels import lstm_cell_backward, rnn_backward_steps, scatter_add_rows


def times_transposed(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a @ w.T for a [..., n] and w [m, n]: one 2-D product over all leading axes (numpy
    multiplies a 3-D array by a transposed view batch by batch, about 2x slower). -> [..., m]"""
    return (a.reshape(-1, a.shape[-1]) @ w.T).reshape(a.shape[:-1] + (w.shape[0],))


def _init(rng, shape, scale, dtype):
    return rng.uniform(-scale, scale, size=shape).astype(dtype)


def sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


class Layer:
    params: dict
    grads: dict
    #: parameter name -> the rows its gradient may hold since the last zero_grad (the others
    #: are zero); set by layers whose gradients are row-sparse (embeddings, tree nodes)
    touched: dict

    def zero_grad(self) -> None:
        touched = getattr(self, "touched", None) or {}
        for k, g in self.grads.items():
            if k in touched:
                g[touched[k]] = 0
            else:
                g[...] = 0
        self.touched = {}

    def touch(self, name: str, rows: np.ndarray) -> None:
        """Record that the gradient of ``name`` may be non-zero in ``rows`` (sorted, unique)."""
        touched = getattr(self, "touched", None)
        if touched is None:
            touched = self.touched = {}
        touched[name] = rows if name not in touched else sorted_union(touched[name], rows)

    def named_params(self, prefix: str = ""):
        for k in self.params:
            yield prefix + k, self.params[k], self.grads[k]


class Embedding(Layer):
    """Token ids [B, T] -> vectors [B, T, E]."""

    def __init__(self, vocab_size: int, dim: int, rng, dtype=np.float32, padding_idx: int | None = None):
        w = rng.standard_normal((vocab_size, dim)).astype(dtype)   # N(0, 1), as torch.nn.Embedding
        if padding_idx is not None:
            w[padding_idx] = 0
        self.params = {"W": w}
        self.grads = {"W": np.zeros_like(w)}
        self.padding_idx = padding_idx

    def forward(self, ids):
        return self.params["W"][ids], ids

    def backward(self, dout, ids):
        d = dout.reshape(-1, dout.shape[-1])
        flat = ids.reshape(-1).astype(np.int64)
        scatter_add_rows(self.grads["W"], flat, np.ascontiguousarray(d))
        self.touch("W", sorted_unique(flat))
        if self.padding_idx is not None:
            self.grads["W"][self.padding_idx] = 0


class Linear(Layer):
    """x [..., I] -> x W + b [..., O]."""

    def __init__(self, n_in: int, n_out: int, rng, dtype=np.float32, bias: bool = True):
        scale = 1.0 / np.sqrt(n_in)   # U(-1/sqrt(in), 1/sqrt(in)) for weights and bias, as torch.nn.Linear
        self.params = {"W": _init(rng, (n_in, n_out), scale, dtype)}
        if bias:
            self.params["b"] = _init(rng, (n_out,), scale, dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        y = x @ self.params["W"]
        if "b" in self.params:
            y += self.params["b"]
        return y, x

    def backward(self, dy, x):
        x2 = x.reshape(-1, x.shape[-1])
        dy2 = dy.reshape(-1, dy.shape[-1])
        self.grads["W"] += x2.T @ dy2
        if "b" in self.params:
            self.grads["b"] += dy2.sum(axis=0)
        return times_transposed(dy, self.params["W"])


class GRUCell(Layer):
    """One GRU step (PyTorch's gate layout): r = s(Wx_r + Uh_r), z = s(Wx_z + Uh_z),
    n = tanh(Wx_n + r * (Uh_n)), h' = (1 - z) n + z h. Biases on both sides."""

    def __init__(self, n_in: int, hidden: int, rng, dtype=np.float32):
        scale = 1.0 / np.sqrt(hidden)
        self.hidden = hidden
        self.params = {"Wx": _init(rng, (n_in, 3 * hidden), scale, dtype),
                       "bx": _init(rng, (3 * hidden,), scale, dtype),
                       "Wh": _init(rng, (hidden, 3 * hidden), scale, dtype),
                       "bh": _init(rng, (3 * hidden,), scale, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def step(self, xp, h):
        """xp: input projection x Wx + bx [B, 3H]; h [B, H] -> (h', cache)."""
        H = self.hidden
        hp = h @ self.params["Wh"] + self.params["bh"]
        r = sigmoid(xp[:, :H] + hp[:, :H])
        z = sigmoid(xp[:, H:2 * H] + hp[:, H:2 * H])
        n = np.tanh(xp[:, 2 * H:] + r * hp[:, 2 * H:])
        h_new = (1.0 - z) * n + z * h
        return h_new, (h, hp, r, z, n)

    def step_backward(self, dh_new, cache):
        """Returns (d xp [B, 3H], d h [B, H]); accumulates Wh, bh grads."""
        h, hp, r, z, n = cache
        H = self.hidden
        dn = dh_new * (1.0 - z)
        dz = dh_new * (h - n)
        dh = dh_new * z
        dn_pre = dn * (1.0 - n * n)
        dr = dn_pre * hp[:, 2 * H:]
        dr_pre = dr * r * (1.0 - r)
        dz_pre = dz * z * (1.0 - z)
        dxp = np.concatenate([dr_pre, dz_pre, dn_pre], axis=1)
        dhp = np.concatenate([dr_pre, dz_pre, dn_pre * r], axis=1)
        self.grads["Wh"] += h.T @ dhp
        self.grads["bh"] += dhp.sum(axis=0)
        dh += dhp @ self.params["Wh"].T
        return dxp, dh


class GRU(Layer):
    """A GRU over a padded sequence [B, T, I] with mask [B, T]; ``reverse`` runs right to
    left (padding at the right end is skipped, so it starts at each sequence's last token).
    Returns all states [B, T, H] (kept through padding) and the final state [B, H].

    ``resets`` [B, T] (optional, float 0/1): where it is 1 the state is set to zero before
    step t (a language model reading a stream of sentences starts each one afresh)."""

    def __init__(self, n_in: int, hidden: int, rng, dtype=np.float32, reverse: bool = False):
        self.cell = GRUCell(n_in, hidden, rng, dtype)
        self.params, self.grads = self.cell.params, self.cell.grads
        self.hidden = hidden
        self.reverse = reverse

    def forward(self, x, mask, h0=None, resets=None):
        B, T, _ = x.shape
        xp = x @ self.cell.params["Wx"] + self.cell.params["bx"]
        h = np.zeros((B, self.hidden), dtype=x.dtype) if h0 is None else h0
        out = np.empty((B, T, self.hidden), dtype=x.dtype)
        caches = [None] * T
        steps = range(T - 1, -1, -1) if self.reverse else range(T)
        for t in steps:
            if resets is not None:
                h = h * (1.0 - resets[:, t:t + 1])
            h_new, c = self.cell.step(xp[:, t], h)
            m = mask[:, t:t + 1]
            h = m * h_new + (1.0 - m) * h
            out[:, t] = h
            caches[t] = c
        return out, h, (x, mask, caches, resets)

    def backward(self, dout, dh_last, cache):
        """dout [B, T, H] (grad of every state), dh_last [B, H] -> (dx [B, T, I], dh0)."""
        x, mask, caches, resets = cache
        B, T, _ = x.shape
        dxp = np.empty((B, T, 3 * self.hidden), dtype=x.dtype)
        dh = dh_last.copy()
        steps = range(T) if self.reverse else range(T - 1, -1, -1)
        for t in steps:
            dh = dh + dout[:, t]
            m = mask[:, t:t + 1]
            dh_new = m * dh
            dxp_t, dh_prev = self.cell.step_backward(dh_new, caches[t])
            dxp[:, t] = dxp_t
            dh = dh_prev + (1.0 - m) * dh
            if resets is not None:
                dh = dh * (1.0 - resets[:, t:t + 1])
        self.cell.grads["Wx"] += x.reshape(-1, x.shape[-1]).T @ dxp.reshape(-1, dxp.shape[-1])
        self.cell.grads["bx"] += dxp.reshape(-1, dxp.shape[-1]).sum(axis=0)
        dx = times_transposed(dxp, self.cell.params["Wx"])
        return dx, dh


class RNN(Layer):
    """The plain recurrent layer of Mikolov's RNNLM: h' = sigmoid(x Wx + bx + h Wh + bh).
    Same interface as :class:`GRU` (mask, resets, reverse)."""

    def __init__(self, n_in: int, hidden: int, rng, dtype=np.float32, reverse: bool = False):
        scale = 1.0 / np.sqrt(hidden)
        self.hidden = hidden
        self.reverse = reverse
        self.params = {"Wx": _init(rng, (n_in, hidden), scale, dtype),
                       "bx": _init(rng, (hidden,), scale, dtype),
                       "Wh": _init(rng, (hidden, hidden), scale, dtype),
                       "bh": _init(rng, (hidden,), scale, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x, mask, h0=None, resets=None):
        B, T, _ = x.shape
        xp = x @ self.params["Wx"] + (self.params["bx"] + self.params["bh"])
        h = np.zeros((B, self.hidden), dtype=x.dtype) if h0 is None else h0
        out = np.empty((B, T, self.hidden), dtype=x.dtype)
        prev = np.empty_like(out)
        keep = None if resets is None else (1.0 - resets).astype(x.dtype)
        padded = not bool(np.all(mask == 1))
        for t in (range(T - 1, -1, -1) if self.reverse else range(T)):
            if keep is not None:
                h = h * keep[:, t:t + 1]
            prev[:, t] = h
            z = h @ self.params["Wh"]
            z += xp[:, t]
            z *= 0.5                      # sigmoid(z) = (tanh(z / 2) + 1) / 2, in place
            np.tanh(z, out=z)
            z += 1.0
            z *= 0.5
            if padded:
                m = mask[:, t:t + 1]
                z = m * z + (1.0 - m) * h
            h = z
            out[:, t] = h
        return out, h, (x, mask, prev, out, keep)

    def backward(self, dout, dh_last, cache):
        x, mask, prev, out, keep = cache
        B, T, _ = x.shape
        dtype = x.dtype
        keep = np.ones((B, T), dtype) if keep is None else keep
        # the time loop in one kernel (streams in parallel); a reversed layer runs it on flipped views
        flip = (slice(None), slice(None, None, -1)) if self.reverse else (slice(None), slice(None))
        dpre = np.empty((B, T, self.hidden), dtype=dtype)
        dh = np.empty((B, self.hidden), dtype=dtype)
        rnn_backward_steps(np.ascontiguousarray(dout[flip], dtype), np.ascontiguousarray(out[flip]),
                           np.ascontiguousarray(self.params["Wh"].T), np.ascontiguousarray(keep[flip], dtype),
                           np.ascontiguousarray(mask[flip], dtype), np.ascontiguousarray(dh_last, dtype), dpre, dh)
        if self.reverse:
            dpre = np.ascontiguousarray(dpre[:, ::-1])
        flat = dpre.reshape(-1, self.hidden)
        self.grads["Wh"] += prev.reshape(-1, self.hidden).T @ flat   # one product for all steps
        self.grads["Wx"] += x.reshape(-1, x.shape[-1]).T @ flat
        db = flat.sum(axis=0)
        self.grads["bx"] += db
        self.grads["bh"] += db
        return times_transposed(dpre, self.params["Wx"]), dh


def attend(scores, values, mask):
    """Masked softmax over source positions and the weighted sum of values:
    scores [B, S], values [B, S, D], mask [B, S] -> (context [B, D], weights [B, S])."""
    e = np.where(mask > 0, scores, -1e30)
    e = e - e.max(axis=1, keepdims=True)
    a = np.exp(e) * mask
    a /= a.sum(axis=1, keepdims=True)
    return np.einsum("bs,bsd->bd", a, values), a


def attend_backward(dctx, dalpha, a, values):
    """Gradients of :func:`attend`: -> (d scores [B, S], d values [B, S, D])."""
    dvalues = a[:, :, None] * dctx[:, None, :]
    da = np.einsum("bd,bsd->bs", dctx, values)
    if dalpha is not None:
        da = da + dalpha
    return a * (da - (da * a).sum(axis=1, keepdims=True)), dvalues


class AdditiveAttention(Layer):
    """Bahdanau attention: e_s = v . tanh(K_s + W q), alpha = softmax over unmasked s,
    context = sum_s alpha_s values_s. Keys K = values Wk are computed once per batch."""

    def __init__(self, value_dim: int, query_dim: int, attn_dim: int, rng, dtype=np.float32):
        self.params = {"Wk": _init(rng, (value_dim, attn_dim), 1.0 / np.sqrt(value_dim), dtype),
                       "Wq": _init(rng, (query_dim, attn_dim), 1.0 / np.sqrt(query_dim), dtype),
                       "b": _init(rng, (attn_dim,), 1.0 / np.sqrt(value_dim), dtype),
                       "v": _init(rng, (attn_dim,), 1.0 / np.sqrt(attn_dim), dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def keys(self, values):
        return values @ self.params["Wk"] + self.params["b"]

    def keys_backward(self, dkeys, values):
        self.grads["Wk"] += values.reshape(-1, values.shape[-1]).T @ dkeys.reshape(-1, dkeys.shape[-1])
        self.grads["b"] += dkeys.reshape(-1, dkeys.shape[-1]).sum(axis=0)
        return times_transposed(dkeys, self.params["Wk"])

    def step(self, query, keys, values, mask):
        """query [B, Q], keys [B, S, A], values [B, S, D], mask [B, S] -> (context [B, D], alpha [B, S])."""
        qa = query @ self.params["Wq"]
        t = np.tanh(keys + qa[:, None, :])
        ctx, a = attend(t @ self.params["v"], values, mask)
        return ctx, a, (query, t, a)

    def step_backward(self, dctx, dalpha, cache, values):
        """-> (d query, d keys [B, S, A], d values [B, S, D])."""
        query, t, a = cache
        de, dvalues = attend_backward(dctx, dalpha, a, values)
        self.grads["v"] += np.einsum("bs,bsa->a", de, t)
        dt = de[:, :, None] * self.params["v"]
        dpre = dt * (1.0 - t * t)
        dkeys = dpre
        dqa = dpre.sum(axis=1)
        self.grads["Wq"] += query.T @ dqa
        dquery = dqa @ self.params["Wq"].T
        return dquery, dkeys, dvalues


def softmax_cross_entropy(logits, targets, mask, overwrite: bool = False):
    """Mean token cross-entropy over unmasked positions; logits [N, V], targets [N], mask [N].
    Returns (loss, dlogits); ``overwrite=True`` reuses the logits buffer for the gradient."""
    from ._kernels import softmax_xent
    n = float(mask.sum())
    weights = (np.asarray(mask, dtype=np.float64) / max(n, 1.0)).astype(logits.dtype)
    d = logits if overwrite else logits.copy()
    loss = softmax_xent(d, np.ascontiguousarray(targets, dtype=np.int64), weights)
    return float(loss), d


class Dropout:
    """Inverted dropout; identity when ``p == 0`` or not training."""

    def __init__(self, p: float):
        self.p = p

    def forward(self, x, rng, training: bool):
        if not training or self.p <= 0:
            return x, None
        keep = (rng.random(x.shape) >= self.p).astype(x.dtype) / (1.0 - self.p)
        return x * keep, keep

    @staticmethod
    def backward(dy, keep):
        return dy if keep is None else dy * keep


class BilinearAttention(Layer):
    """Luong's "general" attention: e_s = q . (W values_s), alpha = softmax over unmasked s,
    context = sum_s alpha_s values_s. ``keys`` (values W) are computed once per batch; the
    same interface as :class:`AdditiveAttention`.

    ``project=False`` gives Luong's "dot": e_s = q . values_s when both have the same size;
    for bidirectional annotations twice the query's size, q . (forward_s + backward_s) (the
    two directions summed, as PyTorch's Luong-attention chatbot tutorial does)."""

    def __init__(self, value_dim: int, query_dim: int, rng, dtype=np.float32, project: bool = True):
        self.project = project
        if not project and value_dim not in (query_dim, 2 * query_dim):
            raise ValueError("dot attention needs values of the query's size or twice it")
        self.fold = not project and value_dim == 2 * query_dim
        self.params = {"W": _init(rng, (value_dim, query_dim), 1.0 / np.sqrt(value_dim), dtype)} if project else {}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def keys(self, values):
        if self.project:
            return values @ self.params["W"]
        if self.fold:
            half = values.shape[-1] // 2
            return values[..., :half] + values[..., half:]
        return values

    def keys_backward(self, dkeys, values):
        if not self.project:
            return np.concatenate([dkeys, dkeys], axis=-1) if self.fold else dkeys
        self.grads["W"] += values.reshape(-1, values.shape[-1]).T @ dkeys.reshape(-1, dkeys.shape[-1])
        return times_transposed(dkeys, self.params["W"])

    def step(self, query, keys, values, mask):
        ctx, a = attend(np.einsum("bsq,bq->bs", keys, query), values, mask)
        return ctx, a, (query, keys, a)

    def step_backward(self, dctx, dalpha, cache, values):
        query, keys, a = cache
        de, dvalues = attend_backward(dctx, dalpha, a, values)
        dquery = np.einsum("bs,bsq->bq", de, keys)
        dkeys = de[:, :, None] * query[:, None, :]
        return dquery, dkeys, dvalues


class LSTM(Layer):
    """An LSTM over a padded sequence [B, T, I] with mask [B, T] (PyTorch's gate order i, f,
    g, o; c' = f c + i g, h' = o tanh(c')); ``reverse`` runs right to left. Same interface as
    :class:`GRU`: all hidden states [B, T, H] and the final hidden state [B, H]; the cell
    state starts at ``c0`` (zeros by default) and :meth:`final_cell` reads its last value
    from the cache; ``resets`` zero both states."""

    def __init__(self, n_in: int, hidden: int, rng, dtype=np.float32, reverse: bool = False):
        scale = 1.0 / np.sqrt(hidden)
        self.hidden = hidden
        self.reverse = reverse
        self.params = {"Wx": _init(rng, (n_in, 4 * hidden), scale, dtype),
                       "bx": _init(rng, (4 * hidden,), scale, dtype),
                       "Wh": _init(rng, (hidden, 4 * hidden), scale, dtype),
                       "bh": _init(rng, (4 * hidden,), scale, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x, mask, h0=None, resets=None, c0=None):
        B, T, _ = x.shape
        H = self.hidden
        xp = x @ self.params["Wx"] + (self.params["bx"] + self.params["bh"])
        h = np.zeros((B, H), dtype=x.dtype) if h0 is None else h0
        c = np.zeros((B, H), dtype=x.dtype) if c0 is None else c0
        out = np.empty((B, T, H), dtype=x.dtype)
        caches = [None] * T
        scale = np.full(4 * H, 0.5, x.dtype)
        scale[2 * H:3 * H] = 1.0          # the cell input g is a tanh, the gates i, f, o sigmoids
        shift = np.where(scale == 0.5, 0.5, 0.0).astype(x.dtype)
        padded = not bool(np.all(mask == 1))
        for t in (range(T - 1, -1, -1) if self.reverse else range(T)):
            if resets is not None:
                keep = 1.0 - resets[:, t:t + 1]
                h, c = h * keep, c * keep
            acts = h @ self.params["Wh"]
            acts += xp[:, t]
            acts *= scale                 # sigmoid(x) = (tanh(x / 2) + 1) / 2: one tanh for all four gates
            np.tanh(acts, out=acts)
            acts *= scale
            acts += shift
            c_new = acts[:, H:2 * H] * c
            c_new += acts[:, :H] * acts[:, 2 * H:3 * H]
            tc = np.tanh(c_new)
            h_new = acts[:, 3 * H:] * tc
            caches[t] = (h, c, acts, tc)
            if padded:
                m = mask[:, t:t + 1]
                h_new = m * h_new + (1.0 - m) * h
                c_new = m * c_new + (1.0 - m) * c
            h, c = h_new, c_new
            out[:, t] = h
        return out, h, (x, mask, caches, resets, c)

    @staticmethod
    def final_cell(cache):
        """The cell state [B, H] after the last step of the forward pass that made ``cache``."""
        return cache[4]

    def backward(self, dout, dh_last, cache):
        x, mask, caches, resets, _ = cache
        B, T, _ = x.shape
        H = self.hidden
        dgates = np.empty((B, T, 4 * H), dtype=x.dtype)
        dh = dh_last.copy()
        dc = np.zeros_like(dh)
        dg, dh_keep, dc_prev = np.empty((B, 4 * H), x.dtype), np.empty_like(dh), np.empty_like(dh)
        h_prevs = np.empty((B, T, H), dtype=x.dtype)
        for t in (range(T) if self.reverse else range(T - 1, -1, -1)):
            h_prev, c_prev, acts, tc = caches[t]
            dh = dh + dout[:, t]
            lstm_cell_backward(dh, dc, acts, c_prev, tc, mask[:, t], dg, dh_keep, dc_prev)
            dgates[:, t] = dg
            h_prevs[:, t] = h_prev
            dh = dg @ self.params["Wh"].T + dh_keep
            dc = dc_prev.copy()
            if resets is not None:
                keep = 1.0 - resets[:, t:t + 1]
                dh, dc = dh * keep, dc * keep
        flat = dgates.reshape(-1, 4 * H)
        self.grads["Wh"] += h_prevs.reshape(-1, H).T @ flat     # one product for all steps
        self.grads["Wx"] += x.reshape(-1, x.shape[-1]).T @ flat
        db = flat.sum(axis=0)
        self.grads["bx"] += db
        self.grads["bh"] += db
        return times_transposed(dgates, self.params["Wx"]), dh
