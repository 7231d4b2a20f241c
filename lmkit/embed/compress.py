"""Compressed word vectors, searched on their codes.

*int8* (``lmkit embed compress VECTORS -o OUT --int8``): each row stored as int8 codes with
one float32 scale (row ``i`` is ``codes[i] * scales[i]``, the scale its largest magnitude over
127), a quarter of the float32 matrix plus 4 bytes a row. :class:`Int8Rows` reads like the
float32 matrix (shape, dtype, row indexing): :class:`~lmkit.embed.KeyedVectors` queries
decode a block of rows at a time, so memory stays a block whatever the vocabulary size.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: rows decoded at once when a whole compressed matrix is read (about 16M values)
DECODE_BLOCK_VALUES = 1 << 24


class Int8Rows:
    """A float32 ``[n, dim]`` matrix kept as int8 ``codes`` and float32 ``scales [n]``.

    Indexing (an int, a slice or an array of rows) returns the decoded float32 rows;
    ``np.asarray`` decodes everything (4 bytes a value again)."""

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, codes: np.ndarray, scales: np.ndarray) -> None:
        if codes.ndim != 2 or codes.dtype != np.int8 or scales.shape != (codes.shape[0],) \
                or scales.dtype != np.float32:
            raise ConfigError(f"int8 rows need int8 codes [n, dim] and float32 scales [n]; got {codes.dtype} "
                              f"{codes.shape} and {scales.dtype} {scales.shape}")
        self.codes = codes
        self.scales = scales

    @classmethod
    def encode(cls, vectors) -> Int8Rows:
        """Quantise a float matrix row by row (a block at a time; a zero row stays zero)."""
        n, dim = vectors.shape
        codes = np.empty((n, dim), np.int8)
        scales = np.empty(n, np.float32)
        step = max(1, DECODE_BLOCK_VALUES // max(dim, 1))
        for lo in range(0, n, step):
            block = np.asarray(vectors[lo:lo + step], dtype=np.float32)
            if not np.all(np.isfinite(block)):
                raise ConfigError("vectors to compress must be finite (NaN or inf in rows "
                                  f"{lo}..{lo + len(block) - 1})")
            top = np.abs(block).max(axis=1) if dim else np.zeros(len(block), np.float32)
            s = (top / 127.0).astype(np.float32)
            safe = np.where(s > 0, s, 1.0).astype(np.float32)
            codes[lo:lo + step] = np.clip(np.rint(block / safe[:, None]), -127, 127).astype(np.int8)
            scales[lo:lo + step] = s
        return cls(codes, scales)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.codes.shape[0]), int(self.codes.shape[1]))

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.scales.nbytes)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, rows) -> np.ndarray:
        codes = np.asarray(self.codes[rows], dtype=np.float32)
        scales = np.asarray(self.scales[rows], dtype=np.float32)
        return codes * scales[..., None] if codes.ndim == 2 else codes * scales

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.empty(self.shape, np.float32)
        step = max(1, DECODE_BLOCK_VALUES // max(self.shape[1], 1))
        for lo in range(0, len(self), step):
            out[lo:lo + step] = self[lo:lo + step]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Int8Rows({self.shape[0]} x {self.shape[1]})"
