"""Optimizers over (name, param, grad) triples, gradient clipping, and their state."""
from __future__ import annotations

import numpy as np

from ..checks import SEED, Range
from ..errors import ConfigError
from ._kernels import adam_update, rows_sq_norm, scale_rows, sgd_rows

#: allowed values of the settings every trainer shares (each trainer adds its own)
TRAINING_RANGES = {
    "epochs": Range(1, 100_000, integer=True),
    "max_steps": Range(1, None, integer=True, optional=True),
    "batch": Range(1, 100_000, integer=True),
    "clip": Range(0, 1e6),
    "lr_decay": Range(0, 1, lo_open=True),
    "patience": Range(1, 10_000, integer=True),
    "checkpoint_every": Range(1, None, integer=True),
    "keep_checkpoints": Range(1, 10_000, integer=True),
    "seed": SEED,
}


def _as_rows(a: np.ndarray) -> np.ndarray:
    """A C-contiguous array as [rows, rest] (a view)."""
    return a.reshape(a.shape[0], -1)


def global_norm(grads, rows=None) -> float:
    """Joint L2 norm; ``rows`` (one entry per gradient, None for all rows) names the only rows
    that may be non-zero, so the rest is not read."""
    rows = rows or [None] * len(grads)
    total = 0.0
    for g, r in zip(grads, rows):
        total += float(np.vdot(g, g)) if r is None else rows_sq_norm(_as_rows(g), r)
    return float(np.sqrt(total))


def clip_by_global_norm(grads, max_norm: float, rows=None) -> float:
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``;
    returns the norm before clipping. ``rows`` as in :func:`global_norm`."""
    rows = rows or [None] * len(grads)
    norm = global_norm(grads, rows)
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g, r in zip(grads, rows):
            if r is None:
                g *= scale
            else:
                scale_rows(_as_rows(g), r, g.dtype.type(scale))
    return norm


class Optimizer:
    """Base: ``step(params)`` with params a list of (name, value, grad)."""

    def __init__(self, lr: float):
        if lr <= 0:
            raise ConfigError(f"learning rate must be > 0, got {lr}")
        self.lr = lr
        self.t = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def _slot(self, name, slot, like):
        s = self.state.setdefault(name, {})
        if slot not in s:
            s[slot] = np.zeros_like(like)
        return s[slot]

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Flat name -> array view of the state (for npz checkpoints)."""
        out = {f"{n}::{k}": v for n, slots in self.state.items() for k, v in slots.items()}
        out["__t"] = np.array([self.t], dtype=np.int64)
        out["__lr"] = np.array([self.lr], dtype=np.float64)
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray], shapes: dict[str, tuple] | None = None,
                          where: str = "optimizer state") -> None:
        """Restore :meth:`state_arrays`. With ``shapes`` (parameter name -> shape) every
        array is checked to belong to a parameter and have its shape and a float type, and the
        step count and rate to be sane, before anything is kept (a wrong-shaped state would
        corrupt the update kernels)."""
        from ..errors import ModelFormatError
        state: dict[str, dict[str, np.ndarray]] = {}
        t, lr = self.t, self.lr
        for key, v in arrays.items():
            if key == "__t":
                if v.shape != (1,) or not np.issubdtype(v.dtype, np.integer) or int(v[0]) < 0:
                    raise ModelFormatError(f"{where}: step count must be one whole number >= 0")
                t = int(v[0])
            elif key == "__lr":
                if v.shape != (1,) or not np.isfinite(v).all() or not 0 < float(v[0]) <= 10:
                    raise ModelFormatError(f"{where}: learning rate must be one number in (0, 10]")
                lr = float(v[0])
            else:
                n, sep, k = key.partition("::")
                if not sep:
                    raise ModelFormatError(f"{where}: unexpected array {key!r}")
                if shapes is not None:
                    if n not in shapes:
                        raise ModelFormatError(f"{where}: state for unknown parameter {n!r}")
                    if v.shape != tuple(shapes[n]) or not np.issubdtype(v.dtype, np.floating) \
                            or not np.isfinite(v).all():
                        raise ModelFormatError(f"{where}: {key} has shape {v.shape} {v.dtype}, expected "
                                               f"{tuple(shapes[n])} of finite floats")
                state.setdefault(n, {})[k] = np.array(v)
        self.state, self.t, self.lr = state, t, lr


class Adam(Optimizer):
    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(lr)
        self.b1, self.b2 = betas
        self.eps = eps

    def step(self, params, rows=None) -> None:
        """Every entry moves (Adam's moments decay even where the gradient is zero): ``rows``
        is accepted for a uniform call and ignored."""
        self.t += 1
        c1 = 1.0 - self.b1 ** self.t
        c2 = 1.0 - self.b2 ** self.t
        for name, p, g in params:
            m = self._slot(name, "m", p)
            v = self._slot(name, "v", p)
            if p.flags.c_contiguous and g.flags.c_contiguous:
                adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                            p.dtype.type(self.lr / c1), p.dtype.type(self.b1), p.dtype.type(self.b2),
                            p.dtype.type(self.eps), p.dtype.type(c2))
                continue
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * (g * g)
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


class SGD(Optimizer):
    def __init__(self, lr: float = 0.1, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = momentum

    def step(self, params, rows=None) -> None:
        """``rows`` (name -> rows whose gradient may be non-zero): without momentum only those
        rows are updated (the same result, as the others would not move)."""
        self.t += 1
        for name, p, g in params:
            if self.momentum:
                buf = self._slot(name, "momentum", p)
                buf *= self.momentum
                buf += g
                p -= self.lr * buf
            elif rows and name in rows:
                sgd_rows(_as_rows(p), _as_rows(g), rows[name], p.dtype.type(self.lr))
            else:
                p -= self.lr * g


class Adagrad(Optimizer):
    def __init__(self, lr: float = 0.1, eps: float = 1e-10):
        super().__init__(lr)
        self.eps = eps

    def step(self, params, rows=None) -> None:
        """``rows`` as for :class:`SGD`: rows with a zero gradient keep their sum and value."""
        self.t += 1
        for name, p, g in params:
            acc = self._slot(name, "sum", p)
            if rows and name in rows:
                r = rows[name]
                gr = g[r]
                acc[r] += gr * gr
                p[r] -= self.lr * gr / (np.sqrt(acc[r]) + self.eps)
                continue
            acc += g * g
            p -= self.lr * g / (np.sqrt(acc) + self.eps)


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "adagrad": Adagrad}
