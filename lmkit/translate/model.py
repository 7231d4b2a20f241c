"""Attentional encoder-decoder (Bahdanau et al. 2015): bidirectional GRU encoder, additive
attention, GRU decoder fed [embedding; context], output from [state; context; embedding].

Shapes: B batch, S source length, T target length, E embedding, H hidden.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_path, atomic_write
from ..errors import ConfigError, ModelFormatError
from ..nn import GRU, LSTM, AdditiveAttention, BilinearAttention, Dropout, Embedding, GRUCell, Linear, softmax_cross_entropy
from ..text import PAD_ID

FORMAT = "lmkit-seq2seq"
VERSION = 1


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

    def check(self) -> None:
        for name in ("src_vocab", "tgt_vocab", "emb", "hidden", "attn"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.attention not in ("additive", "general", "dot"):
            raise ConfigError(f"attention must be 'additive', 'general' or 'dot', got {self.attention!r}")
        if self.encoder not in ("gru", "lstm"):
            raise ConfigError(f"encoder must be 'gru' or 'lstm', got {self.encoder!r}")


class Seq2Seq:
    """The model: parameters, a training forward/backward, and one-step decoding."""

    def __init__(self, config: Seq2SeqConfig, dtype=np.float32) -> None:
        config.check()
        self.config = c = config
        rng = np.random.default_rng(c.seed)
        self.dtype = dtype
        self.src_emb = Embedding(c.src_vocab, c.emb, rng, dtype, padding_idx=PAD_ID)
        self.tgt_emb = Embedding(c.tgt_vocab, c.emb, rng, dtype, padding_idx=PAD_ID)
        rnn = GRU if c.encoder == "gru" else LSTM
        self.enc_fwd = rnn(c.emb, c.hidden, rng, dtype)
        self.enc_bwd = rnn(c.emb, c.hidden, rng, dtype, reverse=True)
        self.bridge = Linear(2 * c.hidden, c.hidden, rng, dtype)
        self.attention = (AdditiveAttention(2 * c.hidden, c.hidden, c.attn, rng, dtype) if c.attention == "additive"
                          else BilinearAttention(2 * c.hidden, c.hidden, rng, dtype, project=c.attention == "general"))
        self.dec_cell = GRUCell(c.emb + 2 * c.hidden, c.hidden, rng, dtype)
        self.out = Linear(c.hidden + 2 * c.hidden + c.emb, c.tgt_vocab, rng, dtype)
        self.dropout = Dropout(c.dropout)
        self.layers = {"src_emb": self.src_emb, "tgt_emb": self.tgt_emb, "enc_fwd": self.enc_fwd,
                       "enc_bwd": self.enc_bwd, "bridge": self.bridge, "attention": self.attention,
                       "dec_cell": self.dec_cell, "out": self.out}

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
        """src ids [B, S] -> (annotations [B, S, 2H], attention keys, initial decoder state, cache)."""
        x, emb_cache = self.src_emb.forward(src)
        x, drop = self.dropout.forward(x, rng, training)
        hf, hf_last, cf = self.enc_fwd.forward(x, src_mask)
        hb, hb_first, cb = self.enc_bwd.forward(x, src_mask)
        enc = np.concatenate([hf, hb], axis=2)
        pre, bcache = self.bridge.forward(np.concatenate([hf_last, hb_first], axis=1))
        s0 = np.tanh(pre)
        keys = self.attention.keys(enc)
        return enc, keys, s0, (src, drop, cf, cb, bcache, s0)

    def encode_backward(self, denc, dkeys, ds0, enc, cache) -> None:
        src, drop, cf, cb, bcache, s0 = cache
        H = self.config.hidden
        denc = denc + self.attention.keys_backward(dkeys, enc)
        dlast = self.bridge.backward(ds0 * (1.0 - s0 * s0), bcache)
        dxf, _ = self.enc_fwd.backward(denc[:, :, :H], dlast[:, :H], cf)
        dxb, _ = self.enc_bwd.backward(denc[:, :, H:], dlast[:, H:], cb)
        self.src_emb.backward(Dropout.backward(dxf + dxb, drop), src)

    # ------------------------------------------------------------------ decoder
    def decode_step(self, y_prev, s_prev, enc, keys, src_mask):
        """One step for every row: y_prev ids [B], state [B, H] -> (logits [B, V], state, attention [B, S])."""
        e = self.tgt_emb.params["W"][y_prev]
        ctx, alpha, _ = self.attention.step(s_prev, keys, enc, src_mask)
        xp = np.concatenate([e, ctx], axis=1) @ self.dec_cell.params["Wx"] + self.dec_cell.params["bx"]
        s, _ = self.dec_cell.step(xp, s_prev)
        logits, _ = self.out.forward(np.concatenate([s, ctx, e], axis=1))
        return logits, s, alpha

    def loss(self, src, src_mask, tgt_in, tgt_out, tgt_mask, training: bool = False, rng=None,
             backward: bool = False) -> float:
        """Mean token cross-entropy of the targets under teacher forcing; with ``backward``
        the gradients of every parameter are accumulated."""
        enc, keys, s0, enc_cache = self.encode(src, src_mask, training, rng)
        y, _ = self.tgt_emb.forward(tgt_in)
        y, ydrop = self.dropout.forward(y, rng, training)
        B, T = tgt_in.shape
        H = self.config.hidden
        s = s0
        states = np.empty((B, T, H), dtype=self.dtype)
        ctxs = np.empty((B, T, 2 * H), dtype=self.dtype)
        xs = np.empty((B, T, self.config.emb + 2 * H), dtype=self.dtype)
        att_caches, cell_caches = [], []
        Wx, bx = self.dec_cell.params["Wx"], self.dec_cell.params["bx"]
        for t in range(T):
            ctx, _, ac = self.attention.step(s, keys, enc, src_mask)
            x = np.concatenate([y[:, t], ctx], axis=1)
            s, cc = self.dec_cell.step(x @ Wx + bx, s)
            states[:, t], ctxs[:, t], xs[:, t] = s, ctx, x
            att_caches.append(ac)
            cell_caches.append(cc)
        feats = np.concatenate([states, ctxs, y], axis=2)
        feats, fdrop = self.dropout.forward(feats, rng, training)
        logits, ocache = self.out.forward(feats.reshape(B * T, -1))
        loss, dlogits = softmax_cross_entropy(logits, tgt_out.reshape(-1), tgt_mask.reshape(-1), overwrite=True)
        if not backward:
            return loss
        dfeats = Dropout.backward(self.out.backward(dlogits, ocache).reshape(B, T, -1), fdrop)
        ds_direct, dctx_direct, dy = dfeats[:, :, :H], dfeats[:, :, H:3 * H], dfeats[:, :, 3 * H:].copy()
        denc = np.zeros_like(enc)
        dkeys = np.zeros_like(keys)
        dxs = np.empty((B, T, 3 * H), dtype=self.dtype)
        ds = np.zeros((B, H), dtype=self.dtype)
        E = self.config.emb
        for t in range(T - 1, -1, -1):
            ds = ds + ds_direct[:, t]
            dxp, ds_prev = self.dec_cell.step_backward(ds, cell_caches[t])
            dxs[:, t] = dxp
            dx = dxp @ Wx.T
            dy[:, t] += dx[:, :E]
            dq, dk, dv = self.attention.step_backward(dx[:, E:] + dctx_direct[:, t], None, att_caches[t], enc)
            dkeys += dk
            denc += dv
            ds = ds_prev + dq
        self.dec_cell.grads["Wx"] += xs.reshape(B * T, -1).T @ dxs.reshape(B * T, -1)
        self.dec_cell.grads["bx"] += dxs.reshape(B * T, -1).sum(axis=0)
        self.tgt_emb.backward(Dropout.backward(dy, ydrop), tgt_in)
        self.encode_backward(denc, dkeys, ds, enc, enc_cache)
        return loss

    # ------------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike, extra_arrays: dict | None = None) -> None:
        """Weights (npz, no pickle) + config (JSON), each written atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {name: p for name, p, _ in self.parameters()}
        with atomic_path(folder / "weights.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        with atomic_write(folder / "config.json") as out:
            json.dump({"format": FORMAT, "version": VERSION, "model": asdict(self.config)}, out, indent=1)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "Seq2Seq":
        folder = Path(folder)
        try:
            meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelFormatError(f"{folder}: config.json is missing; not a translation model folder") from None
        except json.JSONDecodeError as exc:
            raise ModelFormatError(f"{folder}/config.json: not valid JSON ({exc})") from None
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ModelFormatError(f"{folder}: format {meta.get('format')} v{meta.get('version')} is not "
                                   f"{FORMAT} v{VERSION}")
        model = cls(Seq2SeqConfig(**meta["model"]))
        model.load_weights(folder / "weights.npz")
        return model

    def load_weights(self, path) -> None:
        try:
            with np.load(path, allow_pickle=False) as z:
                for name, p, _ in self.parameters():
                    if name not in z.files:
                        raise ModelFormatError(f"{path}: parameter {name} is missing")
                    if z[name].shape != p.shape:
                        raise ModelFormatError(f"{path}: parameter {name} has shape {z[name].shape}, "
                                               f"expected {p.shape}")
                    p[...] = z[name]
        except FileNotFoundError:
            raise ModelFormatError(f"{path}: missing") from None
        except (OSError, ValueError) as exc:
            raise ModelFormatError(f"{path}: cannot read the weights ({exc})") from None
