"""The networks of the neural language models, on the shared ``lmkit.nn`` layers:

- recurrent (``lstm``, ``gru``, or ``rnn``: Mikolov's sigmoid RNN): embedding -> dropout ->
  L recurrent layers (dropout after each) -> output layer; the state is carried from one
  call to the next and zeroed wherever the input is ``<s>`` (each sentence starts afresh);
- feed-forward (``ffnn``, Bengio et al. 2003): the embeddings of the n-1 previous words,
  concatenated -> tanh hidden layer -> output layer.

Shapes: B streams (or sentences), T steps, E embedding, H hidden, V vocabulary. Losses are in
nats; log probabilities returned in nats (float64).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import SEED, Range, check_ranges
from ..errors import ConfigError
from ..nn import GRU, LSTM, RNN, Dropout, Embedding, Linear
from ..nn.outputs import ClassSoftmax, FullSoftmax, HierarchicalSoftmax, SampledSoftmax
from ..text import BOS_ID

ARCHS = ("lstm", "gru", "rnn", "ffnn")
OUTPUTS = ("full", "class", "hs", "sampled", "nce")

#: allowed values of the network's numeric settings (shared with the CLI)
NETWORK_RANGES = {
    "vocab_size": Range(4, 10**7, integer=True),
    "layers": Range(1, 3, integer=True),
    "emb": Range(1, 65_536, integer=True),
    "hidden": Range(1, 65_536, integer=True),
    "dropout": Range(0, 1, hi_open=True),
    "classes": Range(0, 10**6, integer=True),
    "samples": Range(1, 10**6, integer=True),
    "order": Range(2, 32, integer=True),
    "seed": SEED,
}


@dataclass
class NetworkConfig:
    vocab_size: int
    arch: str = "lstm"
    layers: int = 1
    emb: int = 200
    hidden: int = 200
    dropout: float = 0.0
    tied: bool = False            # output weights = input embeddings (needs emb == hidden)
    output: str = "full"
    classes: int = 0              # class output: number of classes (0: about sqrt(V))
    samples: int = 256            # sampled/nce output: words drawn per batch
    order: int = 5                # ffnn: n-gram order (n-1 words of context)
    seed: int = 1

    def check(self) -> None:
        check_ranges(self, NETWORK_RANGES)
        if self.arch not in ARCHS:
            raise ConfigError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.output not in OUTPUTS:
            raise ConfigError(f"output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        if not isinstance(self.tied, bool):
            raise ConfigError(f"tied must be true or false, got {self.tied!r}")
        if self.tied and self.output not in ("full", "sampled", "nce"):
            raise ConfigError("tied embeddings need a full, sampled or nce output layer (class and hs "
                              "outputs have their own rows)")
        if self.tied and self.emb != self.hidden:
            raise ConfigError(f"tied embeddings need --emb equal to --hidden (got {self.emb} and {self.hidden})")

    @property
    def recurrent(self) -> bool:
        return self.arch != "ffnn"

    @property
    def n_classes(self) -> int:
        return self.classes or max(1, int(round(np.sqrt(self.vocab_size))))


def predictable_ids(vocab_size: int, never: tuple[int, ...]) -> np.ndarray:
    """bool [V]: the ids a model may predict (all but ``<s>`` and ``<pad>``)."""
    ok = np.ones(vocab_size, bool)
    ok[list(never)] = False
    return ok


class Network:
    """Parameters, training loss with gradients, and exact log probabilities."""

    def __init__(self, config: NetworkConfig, counts: np.ndarray, never: tuple[int, ...] = (BOS_ID,),
                 dtype=np.float32) -> None:
        config.check()
        self.config = c = config
        self.dtype = dtype
        rng = np.random.default_rng(c.seed)
        V = c.vocab_size
        self.emb = Embedding(V, c.emb, rng, dtype)
        self.emb.params["W"][...] = rng.uniform(-0.1, 0.1, (V, c.emb))     # Zaremba et al.'s init
        self.drop = Dropout(c.dropout)
        self.layers: dict = {"emb": self.emb}
        if c.recurrent:
            cells: dict[str, type[LSTM] | type[GRU] | type[RNN]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
            cell = cells[c.arch]
            self.rnn: list[LSTM | GRU | RNN] = [cell(c.emb if l == 0 else c.hidden, c.hidden, rng, dtype)
                                                for l in range(c.layers)]
            self.layers.update({f"rnn{l + 1}": r for l, r in enumerate(self.rnn)})
        else:
            self.hid = Linear((c.order - 1) * c.emb, c.hidden, rng, dtype)
            self.layers["hidden"] = self.hid
        pred = predictable_ids(V, never)
        counts = np.asarray(counts, np.float64)
        tied = (self.emb.params["W"], self.emb.grads["W"]) if c.tied else None
        self.out: FullSoftmax | ClassSoftmax | HierarchicalSoftmax
        if c.output == "full":
            self.out = FullSoftmax(c.hidden, pred, rng, dtype, tied)
        elif c.output == "class":
            self.out = ClassSoftmax(c.hidden, pred, counts, c.n_classes, rng, dtype)
        elif c.output == "hs":
            self.out = HierarchicalSoftmax(c.hidden, pred, counts, rng, dtype)
        else:
            self.out = SampledSoftmax(c.hidden, pred, counts, rng, dtype, tied, c.samples, c.output)
        self.layers["out"] = self.out

    # ------------------------------------------------------------------ parameters
    def parameters(self):
        """(name, value, grad) of every parameter (a tied matrix once, as ``emb.W``)."""
        for lname, layer in self.layers.items():
            yield from layer.named_params(lname + ".")

    def zero_grad(self) -> None:
        if self.config.tied:
            self.emb.touched = {}          # the output layer wrote every row of the shared matrix
        for layer in self.layers.values():
            layer.zero_grad()

    def sparse_rows(self) -> dict[str, np.ndarray]:
        """Parameter name -> the rows whose gradient may be non-zero after this step's backward,
        for the row-sparse ones (input embeddings unless tied, hierarchical-softmax nodes)."""
        out = {}
        for lname, layer in self.layers.items():
            for k, rows in (getattr(layer, "touched", None) or {}).items():
                if not (lname == "emb" and self.config.tied):
                    out[f"{lname}.{k}"] = rows
        return out

    def n_parameters(self) -> int:
        return sum(p.size for _, p, _ in self.parameters())

    def initial_state(self, batch: int) -> list[np.ndarray]:
        """Zero state for ``batch`` streams: per layer h (and c for LSTM) [B, H]."""
        if not self.config.recurrent:
            return []
        per = 2 if self.config.arch == "lstm" else 1
        return [np.zeros((batch, self.config.hidden), self.dtype) for _ in range(per * len(self.rnn))]

    # ------------------------------------------------------------------ the forward pass
    def _recurrent(self, inputs, state, training, rng, resets=True):
        """Top hidden states [B, T, H], the state after the last step, and what backward needs."""
        B, T = inputs.shape
        x, ecache = self.emb.forward(inputs)
        x, keep = self.drop.forward(x, rng, training)
        keeps, caches, new_state = [keep], [], []
        mask = np.ones((B, T), self.dtype)
        rs = (inputs == BOS_ID).astype(self.dtype) if resets else None
        lstm = self.config.arch == "lstm"
        for l, layer in enumerate(self.rnn):
            if lstm:
                out, h, cache = layer.forward(x, mask, state[2 * l], rs, state[2 * l + 1])
                new_state += [h, LSTM.final_cell(cache)]
            else:
                out, h, cache = layer.forward(x, mask, state[l], rs)
                new_state.append(h)
            x, keep = self.drop.forward(out, rng, training)
            caches.append(cache)
            keeps.append(keep)
        return x, new_state, (ecache, keeps, caches)

    def _recurrent_backward(self, dtop, saved) -> None:
        ecache, keeps, caches = saved
        dx = dtop
        for l in range(len(self.rnn) - 1, -1, -1):
            dx = self.drop.backward(dx, keeps[l + 1])
            dx, _ = self.rnn[l].backward(dx, np.zeros_like(dx[:, 0]), caches[l])   # truncated: no grad into state
        self.emb.backward(self.drop.backward(dx, keeps[0]), ecache)

    def _feedforward(self, contexts, training, rng):
        """contexts [N, n-1] ids -> hidden [N, H]."""
        N = contexts.shape[0]
        e, ecache = self.emb.forward(contexts)
        x, keep0 = self.drop.forward(e.reshape(N, -1), rng, training)
        z, hcache = self.hid.forward(x)
        a = np.tanh(z)
        y, keep1 = self.drop.forward(a, rng, training)
        return y, (ecache, keep0, hcache, a, keep1)

    def _feedforward_backward(self, dy, saved) -> None:
        ecache, keep0, hcache, a, keep1 = saved
        dz = self.drop.backward(dy, keep1) * (1.0 - a * a)
        dx = self.drop.backward(self.hid.backward(dz, hcache), keep0)
        self.emb.backward(dx.reshape(ecache.shape + (self.config.emb,)), ecache)

    def loss(self, inputs, targets, weights, state=None, rng=None, training=False, backward=False):
        """Weighted sum of -log p(targets | inputs) in nats, and the state after the batch.

        Recurrent: ``inputs``/``targets``/``weights`` [B, T], ``state`` from
        :meth:`initial_state` or the previous call. Feed-forward: ``inputs`` are contexts
        [N, n-1], ``targets``/``weights`` [N], no state. With ``backward`` the gradients are
        accumulated (call :meth:`zero_grad` first)."""
        if self.config.recurrent:
            top, new_state, saved = self._recurrent(inputs, state, training, rng)
            B, T, H = top.shape
            loss, dh = self.out.loss(top.reshape(B * T, H), targets.reshape(-1), weights.reshape(-1), rng, backward)
            if backward:
                self._recurrent_backward(dh.reshape(B, T, H), saved)
            return loss, new_state
        top, saved = self._feedforward(inputs, training, rng)
        loss, dh = self.out.loss(top, targets, weights, rng, backward)
        if backward:
            self._feedforward_backward(dh, saved)
        return loss, []

    # ------------------------------------------------------------------ evaluation
    def sentence_hidden(self, inputs) -> np.ndarray:
        """Top hidden states [B, T, H] of sentences given as rows that start with ``<s>``
        (padding at the right end does not touch the real positions)."""
        if self.config.recurrent:
            top, _, _ = self._recurrent(inputs, self.initial_state(inputs.shape[0]), False, None, resets=False)
            return top
        B, T = inputs.shape
        ctx = row_contexts(inputs, self.config.order)
        top, _ = self._feedforward(ctx.reshape(B * T, -1), False, None)
        return top.reshape(B, T, -1)

    def sentence_log_probs(self, inputs, targets) -> np.ndarray:
        """Natural log p(targets[b, t] | inputs[b, :t+1]) float64 [B, T] of sentence rows."""
        top = self.sentence_hidden(inputs)
        B, T, H = top.shape
        return self.out.log_probs(top.reshape(B * T, H), targets.reshape(-1)).reshape(B, T)

    def step(self, ids, state):
        """One recurrent step for generation: ids [B] -> (top hidden [B, H], new state)."""
        top, new_state, _ = self._recurrent(ids[:, None], state, False, None, resets=False)
        return top[:, 0], new_state


def row_contexts(inputs: np.ndarray, order: int) -> np.ndarray:
    """The n-1 words before each target of sentence rows starting with ``<s>``: [B, T, n-1],
    ``<s>`` before the start (the last column is the input at t itself)."""
    B, T = inputs.shape
    k = order - 1
    padded = np.concatenate([np.full((B, k - 1), BOS_ID, inputs.dtype), inputs], axis=1)
    idx = np.arange(T)[:, None] + np.arange(k)[None, :]
    return padded[:, idx]


def stream_contexts(stream: np.ndarray, sentence_start: np.ndarray, positions: np.ndarray, order: int) -> np.ndarray:
    """The n-1 inputs up to each position of a stream of sentences (inputs, each sentence
    starting with ``<s>`` at ``sentence_start``): [..., n-1], ``<s>`` before a sentence's start."""
    k = order - 1
    back = positions[..., None] - np.arange(k - 1, -1, -1)
    before = back < sentence_start[positions][..., None]
    return np.where(before, BOS_ID, stream[np.maximum(back, 0)]).astype(np.int32)
