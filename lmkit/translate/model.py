"""Attentional encoder-decoder (Bahdanau et al. 2015): bidirectional GRU encoder, additive
attention, GRU decoder fed [embedding; context], output from [state; context; embedding].

Shapes: B batch, S source length, T target length, E embedding, H hidden.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, atomic_write, read_format_json
from ..checks import SEED, Range, check_ranges
from ..errors import ConfigError, ModelFormatError
from ..nn import (
    GRU,
    LSTM,
    AdditiveAttention,
    BilinearAttention,
    Dropout,
    Embedding,
    GRUCell,
    Linear,
    softmax_cross_entropy,
)
from ..nn.persist import load_parameters
from ..text import PAD_ID

FORMAT = "lmkit-seq2seq"
VERSION = 1
#: the final model of a training run lives in OUT_DIR/model (switched as a whole)
MODEL_SUBDIR = "model"


def model_folder(folder: str | os.PathLike) -> Path:
    """The folder holding a model's files: ``folder/model`` for a training run's output,
    else ``folder`` itself (a checkpoint, an averaged model, or an older run)."""
    folder = Path(folder)
    return folder / MODEL_SUBDIR if (folder / MODEL_SUBDIR / "config.json").exists() else folder


#: allowed values of the model's numeric settings (shared with the CLI)
SEQ2SEQ_RANGES = {
    "src_vocab": Range(4, 10**7, integer=True),
    "tgt_vocab": Range(4, 10**7, integer=True),
    "emb": Range(1, 65_536, integer=True),
    "hidden": Range(1, 65_536, integer=True),
    "attn": Range(1, 65_536, integer=True),
    "layers": Range(1, 16, integer=True),
    "dropout": Range(0, 1, hi_open=True),
    "seed": SEED,
}


@dataclass
class Seq2SeqConfig:
    src_vocab: int
    tgt_vocab: int
    emb: int = 256
    hidden: int = 256
    attn: int = 256
    dropout: float = 0.0
    seed: int = 1
    attention: str = "additive"    # additive (Bahdanau), general (Luong's bilinear) or dot (Luong)
    encoder: str = "gru"           # gru or lstm (bidirectional either way)
    layers: int = 1                # stacked encoder and decoder layers

    def check(self) -> None:
        check_ranges(self, SEQ2SEQ_RANGES)
        if self.attention not in ("additive", "general", "dot"):
            raise ConfigError(f"attention must be 'additive', 'general' or 'dot', got {self.attention!r}")
        if self.encoder not in ("gru", "lstm"):
            raise ConfigError(f"encoder must be 'gru' or 'lstm', got {self.encoder!r}")


class Seq2Seq:
    """The model: parameters, a training forward/backward, and one-step decoding.

    With ``layers`` = L > 1 the encoder stacks L bidirectional layers (each reads the one
    below's [forward; backward] states) and the decoder L GRU cells (cell 1 reads
    [embedding; context], cell l the state of cell l-1); attention reads the top decoder
    state, and each decoder layer starts from tanh(W_l [last forward; first backward]) of the
    encoder layer l. Decoder states have shape [L, B, H].
    """

    def __init__(self, config: Seq2SeqConfig, dtype=np.float32) -> None:
        config.check()
        self.config = c = config
        rng = np.random.default_rng(c.seed)
        self.dtype = dtype
        L, H = c.layers, c.hidden
        self.src_emb = Embedding(c.src_vocab, c.emb, rng, dtype, padding_idx=PAD_ID)
        self.tgt_emb = Embedding(c.tgt_vocab, c.emb, rng, dtype, padding_idx=PAD_ID)
        rnn = GRU if c.encoder == "gru" else LSTM
        self.enc_fwd = [rnn(c.emb if l == 0 else 2 * H, H, rng, dtype) for l in range(L)]
        self.enc_bwd = [rnn(c.emb if l == 0 else 2 * H, H, rng, dtype, reverse=True) for l in range(L)]
        self.bridge = [Linear(2 * H, H, rng, dtype) for _ in range(L)]
        self.attention = (AdditiveAttention(2 * H, H, c.attn, rng, dtype) if c.attention == "additive"
                          else BilinearAttention(2 * H, H, rng, dtype, project=c.attention == "general"))
        self.dec_cell = [GRUCell(c.emb + 2 * H if l == 0 else H, H, rng, dtype) for l in range(L)]
        self.out = Linear(H + 2 * H + c.emb, c.tgt_vocab, rng, dtype)
        self.dropout = Dropout(c.dropout)
        self.layers: dict[str, Any] = {"src_emb": self.src_emb, "tgt_emb": self.tgt_emb, "attention": self.attention,
                       "out": self.out}
        for l in range(L):
            tag = "" if l == 0 else str(l + 1)   # layer 1 keeps the 1-layer names
            self.layers.update({f"enc_fwd{tag}": self.enc_fwd[l], f"enc_bwd{tag}": self.enc_bwd[l],
                                f"bridge{tag}": self.bridge[l], f"dec_cell{tag}": self.dec_cell[l]})

    # ------------------------------------------------------------------ parameters
    def parameters(self):
        """(name, value, grad) for every parameter."""
        for lname, layer in self.layers.items():
            yield from layer.named_params(lname + ".")

    def n_parameters(self) -> int:
        return sum(p.size for _, p, _ in self.parameters())

    def zero_grad(self) -> None:
        for layer in self.layers.values():
            layer.zero_grad()

    # ------------------------------------------------------------------ encoder
    def encode(self, src, src_mask, training: bool = False, rng=None):
        """src ids [B, S] -> (annotations [B, S, 2H], attention keys, initial decoder states
        [L, B, H], cache)."""
        x, _ = self.src_emb.forward(src)
        x, drop = self.dropout.forward(x, rng, training)
        layer_caches, s0 = [], []
        for fwd, bwd, bridge in zip(self.enc_fwd, self.enc_bwd, self.bridge):
            hf, hf_last, cf = fwd.forward(x, src_mask)
            hb, hb_first, cb = bwd.forward(x, src_mask)
            pre, bcache = bridge.forward(np.concatenate([hf_last, hb_first], axis=1))
            s = np.tanh(pre)
            layer_caches.append((cf, cb, bcache, s))
            s0.append(s)
            x = np.concatenate([hf, hb], axis=2)
        enc = x
        keys = self.attention.keys(enc)
        return enc, keys, np.stack(s0), (src, drop, layer_caches)

    def encode_backward(self, denc, dkeys, ds0, enc, cache) -> None:
        src, drop, layer_caches = cache
        H = self.config.hidden
        dx = denc + self.attention.keys_backward(dkeys, enc)
        for l in range(self.config.layers - 1, -1, -1):
            cf, cb, bcache, s = layer_caches[l]
            dlast = self.bridge[l].backward(ds0[l] * (1.0 - s * s), bcache)
            dxf, _ = self.enc_fwd[l].backward(dx[:, :, :H], dlast[:, :H], cf)
            dxb, _ = self.enc_bwd[l].backward(dx[:, :, H:], dlast[:, H:], cb)
            dx = dxf + dxb
        self.src_emb.backward(Dropout.backward(dx, drop), src)

    # ------------------------------------------------------------------ decoder
    def _cells_forward(self, x0, s_prev):
        """Run the stacked decoder cells one step: x0 [B, E + 2H], s_prev [L, B, H]."""
        s_new = np.empty_like(s_prev)
        caches = []
        x = x0
        for l, cell in enumerate(self.dec_cell):
            s, cc = cell.step(x @ cell.params["Wx"] + cell.params["bx"], s_prev[l])
            s_new[l] = s
            caches.append((x, cc))
            x = s
        return s_new, caches

    def decode_step(self, y_prev, s_prev, enc, keys, src_mask, output=None):
        """One step for every row: y_prev ids [B], states [L, B, H] -> (logits [B, V],
        states [L, B, H], attention [B, S]). ``output``: (W [F, V'], b [V']) from
        :meth:`output_columns` to compute only those V' logits (a shortlist)."""
        e = self.tgt_emb.params["W"][y_prev]
        ctx, alpha, _ = self.attention.step(s_prev[-1], keys, enc, src_mask)
        s_new, _ = self._cells_forward(np.concatenate([e, ctx], axis=1), s_prev)
        feats = np.concatenate([s_new[-1], ctx, e], axis=1)
        if output is None:
            logits, _ = self.out.forward(feats)
        else:
            logits = feats @ output[0]
            logits += output[1]
        return logits, s_new, alpha

    def output_columns(self, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The output layer's weights [F, V'] (contiguous) and bias [V'] of target ids
        ``columns`` [V'], for :meth:`decode_step`."""
        return np.ascontiguousarray(self.out.params["W"][:, columns]), self.out.params["b"][columns]

    def loss(self, src, src_mask, tgt_in, tgt_out, tgt_mask, training: bool = False, rng=None,
             backward: bool = False) -> float:
        """Mean token cross-entropy of the targets under teacher forcing; with ``backward``
        the gradients of every parameter are accumulated."""
        enc, keys, s0, enc_cache = self.encode(src, src_mask, training, rng)
        y, _ = self.tgt_emb.forward(tgt_in)
        y, ydrop = self.dropout.forward(y, rng, training)
        B, T = tgt_in.shape
        H, L = self.config.hidden, self.config.layers
        s = s0
        top = np.empty((B, T, H), dtype=self.dtype)
        ctxs = np.empty((B, T, 2 * H), dtype=self.dtype)
        att_caches, cell_caches = [], []
        for t in range(T):
            ctx, _, ac = self.attention.step(s[-1], keys, enc, src_mask)
            s, cc = self._cells_forward(np.concatenate([y[:, t], ctx], axis=1), s)
            top[:, t], ctxs[:, t] = s[-1], ctx
            att_caches.append(ac)
            cell_caches.append(cc)
        feats = np.concatenate([top, ctxs, y], axis=2)
        feats, fdrop = self.dropout.forward(feats, rng, training)
        logits, ocache = self.out.forward(feats.reshape(B * T, -1))
        loss, dlogits = softmax_cross_entropy(logits, tgt_out.reshape(-1), tgt_mask.reshape(-1), overwrite=True)
        if not backward:
            return loss
        dfeats = Dropout.backward(self.out.backward(dlogits, ocache).reshape(B, T, -1), fdrop)
        ds_direct, dctx_direct, dy = dfeats[:, :, :H], dfeats[:, :, H:3 * H], dfeats[:, :, 3 * H:].copy()
        denc = np.zeros_like(enc)
        dkeys = np.zeros_like(keys)
        E = self.config.emb
        dxs = [np.empty((B, T, 3 * H), dtype=self.dtype) for _ in range(L)]
        xs = [np.empty((B, T, cell.params["Wx"].shape[0]), dtype=self.dtype) for cell in self.dec_cell]
        ds = np.zeros((L, B, H), dtype=self.dtype)      # gradients flowing to the previous step
        for t in range(T - 1, -1, -1):
            d_above = ds_direct[:, t]
            for l in range(L - 1, -1, -1):
                x, cc = cell_caches[t][l]
                cell = self.dec_cell[l]
                dxp, ds_prev = cell.step_backward(ds[l] + d_above, cc)
                dxs[l][:, t] = dxp
                xs[l][:, t] = x
                d_above = dxp @ cell.params["Wx"].T    # to the input: the layer below's state
                ds[l] = ds_prev
            dy[:, t] += d_above[:, :E]
            dq, dk, dv = self.attention.step_backward(d_above[:, E:] + dctx_direct[:, t], None, att_caches[t], enc)
            dkeys += dk
            denc += dv
            ds[L - 1] += dq
        for l, cell in enumerate(self.dec_cell):
            cell.grads["Wx"] += xs[l].reshape(B * T, -1).T @ dxs[l].reshape(B * T, -1)
            cell.grads["bx"] += dxs[l].reshape(B * T, -1).sum(axis=0)
        self.tgt_emb.backward(Dropout.backward(dy, ydrop), tgt_in)
        self.encode_backward(denc, dkeys, ds, enc, enc_cache)
        return loss

    # ------------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike) -> None:
        """Weights (npz, no pickle) + config (JSON), each written atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {name: p for name, p, _ in self.parameters()}
        with atomic_path(folder / "weights.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        with atomic_write(folder / "config.json") as out:
            json.dump({"format": FORMAT, "version": VERSION, "model": asdict(self.config)}, out, indent=1)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Seq2Seq:
        folder = Path(folder)
        meta = read_format_json(folder / "config.json", FORMAT, VERSION, "a translation model folder")
        fields_ = {f.name for f in dataclasses.fields(Seq2SeqConfig)}
        config = meta.get("model")
        if not isinstance(config, dict) or set(config) - fields_ or not {"src_vocab", "tgt_vocab"} <= set(config):
            raise ModelFormatError(f"{folder}/config.json: 'model' must be an object with fields {sorted(fields_)}")
        for name in ("attention", "encoder"):
            if name in config and not isinstance(config[name], str):
                raise ModelFormatError(f"{folder}/config.json: model.{name} must be a string")
        try:
            cfg = Seq2SeqConfig(**config)
            cfg.check()
        except ConfigError as exc:
            raise ModelFormatError(f"{folder}/config.json: {exc}") from None
        model = cls(cfg)
        model.load_weights(folder / "weights.npz")
        return model

    def load_weights(self, path) -> None:
        """Weights from an npz file, each checked for its name, shape and finite values."""
        load_parameters(path, self.parameters())
