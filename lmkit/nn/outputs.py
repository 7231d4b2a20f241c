"""Output layers of a language model: hidden states h [N, H] -> a distribution over the
vocabulary's words, each with a training loss and exact normalised probabilities.

- :class:`FullSoftmax`: softmax over every word (optionally tied to the input embeddings).
- :class:`ClassSoftmax`: p(w | h) = p(class(w) | h) p(w | class(w), h), words binned into
  classes by frequency (Mikolov et al. 2011's sqrt-frequency bins, about sqrt(V) classes).
- :class:`HierarchicalSoftmax`: a product of binary decisions along the word's Huffman path.
- :class:`SampledSoftmax`: trained by importance-sampled softmax or NCE over a few sampled
  words, evaluated by the full softmax over the same weights (exactly normalised).

Every layer answers the same calls (natural logs, float64 results):
``loss(h, targets, weights, rng, backward=True)`` -> (sum_r weights[r] * -log p(targets[r] | h[r]),
d loss/d h), the parameter gradients accumulated when ``backward`` (else d loss/d h is None);
``log_probs(h, targets)`` -> [N];
``log_distribution(h)`` -> [N, V] (``-inf`` for words never predicted, such as ``<s>``).
``predictable`` (bool [V]) says which vocabulary ids may be predicted.
"""
from __future__ import annotations

import numpy as np

from ._kernels import (
    class_words_log_probs,
    class_words_loss_grad,
    hs_log_distribution,
    hs_log_probs,
    hs_loss_grad,
    log_softmax_pick_any,
    log_softmax_rows,
    scatter_add_rows,
    softmax_xent,
)
from .huffman import huffman_codes
from .layers import Layer

#: logit given to words that are never predicted (finite: the kernels use fast maths)
_NEVER = -1e30


def _uniform(rng, shape, scale, dtype):
    return rng.uniform(-scale, scale, size=shape).astype(dtype)


class FullSoftmax(Layer):
    """logits = h W^T + b over all V words; W [V, H] (the input embedding matrix when
    ``tied`` is given as (weights, grads) of an embedding [V, H])."""

    def __init__(self, hidden: int, predictable: np.ndarray, rng, dtype=np.float32, tied=None):
        V = len(predictable)
        scale = 1.0 / np.sqrt(hidden)
        self.params = {"b": _uniform(rng, (V,), scale, dtype)}
        if tied is None:
            self.params["W"] = _uniform(rng, (V, hidden), scale, dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.tied = tied
        self.never = np.flatnonzero(~np.asarray(predictable, bool))
        self.V = V

    @property
    def W(self) -> np.ndarray:
        return self.params["W"] if self.tied is None else self.tied[0]

    @property
    def gW(self) -> np.ndarray:
        return self.grads["W"] if self.tied is None else self.tied[1]

    def logits(self, h):
        z = h @ self.W.T
        z += self.params["b"]
        if len(self.never):
            z[:, self.never] = _NEVER
        return z

    def loss(self, h, targets, weights, rng=None, backward=True):
        d = self.logits(h)
        loss = softmax_xent(d, np.ascontiguousarray(targets, np.int64), weights.astype(d.dtype))
        return float(loss), self._backward(h, d) if backward else None

    def _backward(self, h, dlogits):
        self.gW[...] += dlogits.T @ h
        self.grads["b"] += dlogits.sum(axis=0)
        return dlogits @ self.W

    def log_probs(self, h, targets):
        targets = np.ascontiguousarray(targets, np.int64)
        out = log_softmax_pick_any(self.logits(h), targets)
        out[np.isin(targets, self.never)] = -np.inf
        return out

    def log_distribution(self, h):
        out = log_softmax_rows(self.logits(h))
        out[:, self.never] = -np.inf
        return out


class SampledSoftmax(FullSoftmax):
    """The full softmax's weights trained on a few sampled words instead of all V.

    ``objective='sampled'``: importance-sampled softmax (Jean et al. 2015, shared samples per
    batch): logits of the targets and of S words drawn from q (unigram^0.75), each less
    log(S q(w)), then a softmax over those; a sample equal to a row's target is masked.
    ``objective='nce'``: noise-contrastive estimation (Mnih & Teh 2012) with the same S noise
    words per batch, the model's score taken as self-normalised: per word the logistic loss
    of telling data (the target) from noise, sigma(z - log(S q(w))).
    Evaluation (``log_probs``, ``log_distribution``) is the exact full softmax.
    """

    def __init__(self, hidden: int, predictable: np.ndarray, counts: np.ndarray, rng, dtype=np.float32,
                 tied=None, samples: int = 256, objective: str = "sampled"):
        super().__init__(hidden, predictable, rng, dtype, tied)
        if objective not in ("sampled", "nce"):
            raise ValueError(f"objective must be 'sampled' or 'nce', got {objective!r}")
        q = np.where(np.asarray(predictable, bool), np.maximum(np.asarray(counts, np.float64), 1.0) ** 0.75, 0.0)
        self.q = q / q.sum()
        self.cdf = np.cumsum(self.q)
        self.samples = int(samples)
        self.objective = objective
        if objective == "nce":   # start self-normalised: every word's score near log(1/V)
            self.params["b"][...] = -np.log(self.q.size)

    def loss(self, h, targets, weights, rng=None, backward=True):
        if rng is None:
            raise ValueError("sampled training needs a random generator")
        targets = np.asarray(targets, np.int64)
        S = self.samples
        drawn = np.minimum(np.searchsorted(self.cdf, rng.random(S) * self.cdf[-1], side="right"), self.V - 1)
        cols = np.concatenate([targets, drawn])              # [N + S] words whose logits are needed
        W = self.W[cols]                                      # [N + S, H]
        b = self.params["b"][cols]
        logq = np.log(S * self.q[cols]).astype(h.dtype)
        n = len(targets)
        z_true = np.einsum("nh,nh->n", h, W[:n]) + b[:n] - logq[:n]        # [N]
        z_samp = h @ W[n:].T + (b[n:] - logq[n:])                          # [N, S]
        hit = drawn[None, :] == targets[:, None]
        if self.objective == "sampled":
            z = np.concatenate([z_true[:, None], np.where(hit, _NEVER, z_samp)], axis=1)
            loss = softmax_xent(z, np.zeros(n, np.int64), weights.astype(z.dtype))
            dz_true, dz_samp = z[:, 0], z[:, 1:]
        else:
            # data: -log sigma(z_true); noise: -log(1 - sigma(z)) = -log sigma(-z)
            w = weights.astype(np.float64)
            zt, zs = z_true.astype(np.float64), np.where(hit, -np.inf, z_samp.astype(np.float64))
            loss = float((w * np.logaddexp(0.0, -zt)).sum() + (w[:, None] * np.logaddexp(0.0, zs)).sum())
            dz_true = (-w / (1.0 + np.exp(zt))).astype(h.dtype)
            dz_samp = (w[:, None] / (1.0 + np.exp(-zs))).astype(h.dtype)
        if not backward:
            return float(loss), None
        dh = dz_true[:, None] * W[:n] + dz_samp @ W[n:]
        dW = np.concatenate([dz_true[:, None] * h, dz_samp.T @ h])
        db = np.concatenate([dz_true, dz_samp.sum(axis=0)])
        scatter_add_rows(self.gW, cols, np.ascontiguousarray(dW, self.gW.dtype))
        self.grads["b"] += np.bincount(cols, weights=db, minlength=self.V).astype(self.grads["b"].dtype)
        return float(loss), dh


class ClassSoftmax(Layer):
    """Class-factored softmax. The predictable words, most frequent first, are cut into
    ``n_classes`` bins of equal total sqrt(relative frequency); word rows are stored class by
    class, so each class's words are one contiguous block of ``Ww`` [words, H]."""

    def __init__(self, hidden: int, predictable: np.ndarray, counts: np.ndarray, n_classes: int, rng,
                 dtype=np.float32):
        predictable = np.asarray(predictable, bool)
        words = np.flatnonzero(predictable)
        counts = np.asarray(counts, np.float64)
        words = words[np.argsort(-counts[words], kind="stable")]
        n_classes = max(1, min(int(n_classes), len(words)))
        share = np.sqrt(np.maximum(counts[words], 0.0) / max(counts[words].sum(), 1.0))
        cum = np.cumsum(share) - share                              # mass before each word
        total = share.sum()
        cls = np.minimum((cum / total * n_classes).astype(np.int64), n_classes - 1) if total > 0 \
            else np.arange(len(words)) * n_classes // len(words)
        n_classes = int(cls.max()) + 1 if len(cls) else 1           # bins left empty by big words vanish
        _, cls = np.unique(cls, return_inverse=True)
        self.row_word = words.astype(np.int64)                     # rows already grouped: cls is sorted
        V = len(predictable)
        self.word_class = np.full(V, -1, np.int64)
        self.word_class[words] = cls
        self.word_row = np.full(V, -1, np.int64)
        self.word_row[words] = np.arange(len(words))
        self.class_start = np.searchsorted(cls, np.arange(int(cls.max()) + 2)).astype(np.int64)
        self.n_classes = len(self.class_start) - 1
        scale = 1.0 / np.sqrt(hidden)
        self.params = {"Wc": _uniform(rng, (self.n_classes, hidden), scale, dtype),
                       "bc": _uniform(rng, (self.n_classes,), scale, dtype),
                       "Ww": _uniform(rng, (len(words), hidden), scale, dtype),
                       "bw": _uniform(rng, (len(words),), scale, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.V = V

    def loss(self, h, targets, weights, rng=None, backward=True):
        p = self.params
        targets = np.asarray(targets, np.int64)
        w = weights.astype(h.dtype)
        zc = h @ p["Wc"].T + p["bc"]
        loss = softmax_xent(zc, self.word_class[targets], w)
        rows = self.word_row[targets]
        if backward:
            self.grads["Wc"] += zc.T @ h
            self.grads["bc"] += zc.sum(axis=0)
            dh = zc @ p["Wc"]
            gW, gb = self.grads["Ww"], self.grads["bw"]
        else:
            dh, gW, gb = np.zeros_like(h), np.zeros((1, 1), h.dtype), np.zeros(1, h.dtype)
        if (rows < 0).any():
            raise ValueError("a training target is a word the output layer never predicts (<s> or <pad>)")
        order, starts, classes = self._grouped(targets)
        loss += class_words_loss_grad(np.ascontiguousarray(h), rows, w, order, starts, classes,
                                      self.class_start, p["Ww"], p["bw"], dh, gW, gb, backward)
        if not backward:
            return float(loss), None
        return float(loss), dh

    def _grouped(self, targets):
        """Tokens grouped by their target's class: (order, group starts [G+1], group classes [G])."""
        cls = self.word_class[targets]
        order = np.argsort(cls, kind="stable")
        sc = cls[order]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(sc)) + 1, [len(sc)]]).astype(np.int64)
        return order, starts, sc[starts[:-1]]

    def log_probs(self, h, targets):
        p = self.params
        targets = np.asarray(targets, np.int64)
        out = log_softmax_pick_any(h @ p["Wc"].T + p["bc"], np.maximum(self.word_class[targets], 0))
        rows = self.word_row[targets]
        ok = np.flatnonzero(rows >= 0)
        order, starts, classes = self._grouped(targets[ok])
        part = np.zeros(len(ok))
        class_words_log_probs(np.ascontiguousarray(h[ok]), rows[ok], order, starts, classes, self.class_start,
                              p["Ww"], p["bw"], part)
        out[ok] += part
        out[rows < 0] = -np.inf
        return out

    def log_distribution(self, h):
        p = self.params
        lc = log_softmax_rows(h @ p["Wc"].T + p["bc"])
        out = np.full((h.shape[0], self.V), -np.inf)
        for c in range(self.n_classes):
            a, b = self.class_start[c], self.class_start[c + 1]
            out[:, self.row_word[a:b]] = lc[:, c:c + 1] + log_softmax_rows(h @ p["Ww"][a:b].T + p["bw"][a:b])
        return out


class HierarchicalSoftmax(Layer):
    """Binary decisions along a Huffman tree over the predictable words' counts (as
    word2vec's ``hs``): p(w | h) = prod_d sigmoid(+-(h . Wn[node_d] + bn[node_d]))."""

    def __init__(self, hidden: int, predictable: np.ndarray, counts: np.ndarray, rng, dtype=np.float32):
        predictable = np.asarray(predictable, bool)
        self.leaf_word = np.flatnonzero(predictable).astype(np.int64)
        if len(self.leaf_word) < 2:
            raise ValueError("hierarchical softmax needs at least two words to predict")
        self.codes, self.points, self.lengths = huffman_codes(np.maximum(np.asarray(counts)[self.leaf_word], 0))
        V = len(predictable)
        self.word_leaf = np.full(V, -1, np.int64)
        self.word_leaf[self.leaf_word] = np.arange(len(self.leaf_word))
        nodes = len(self.leaf_word) - 1
        self.params = {"Wn": _uniform(rng, (nodes, hidden), 1.0 / np.sqrt(hidden), dtype),
                       "bn": np.zeros(nodes, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.V = V

    def loss(self, h, targets, weights, rng=None, backward=True):
        h = np.ascontiguousarray(h)
        dh = np.zeros_like(h)
        gW, gb = (self.grads["Wn"], self.grads["bn"]) if backward else (np.zeros_like(self.grads["Wn"]),
                                                                        np.zeros_like(self.grads["bn"]))
        leaves = self.word_leaf[np.asarray(targets, np.int64)]
        touched = np.zeros(len(gb), bool)
        loss = hs_loss_grad(h, leaves, weights.astype(np.float64), self.codes, self.points, self.lengths,
                            self.params["Wn"], self.params["bn"], dh, gW, gb, touched)
        if not backward:
            return float(loss), None
        nodes = np.flatnonzero(touched)
        self.touch("Wn", nodes)
        self.touch("bn", nodes)
        return float(loss), dh

    def log_probs(self, h, targets):
        leaves = self.word_leaf[np.asarray(targets, np.int64)]
        out = hs_log_probs(np.ascontiguousarray(h), np.maximum(leaves, 0), self.codes, self.points, self.lengths,
                           self.params["Wn"], self.params["bn"])
        out[leaves < 0] = -np.inf
        return out

    def log_distribution(self, h):
        z = h @ self.params["Wn"].T + self.params["bn"]
        out = np.full((h.shape[0], self.V), -np.inf)
        out[:, self.leaf_word] = hs_log_distribution(np.ascontiguousarray(z), self.codes, self.points, self.lengths)
        return out
