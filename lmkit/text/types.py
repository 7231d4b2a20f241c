"""The distinct tokens of a stream, met block by block as UTF-8 bytes (no Python string per
token): the fast path of the ``whitespace`` tokenizer into ids."""
from __future__ import annotations

import numpy as np


class TypeTable:
    """Distinct tokens by their UTF-8 bytes, with ids in order of first appearance."""

    def __init__(self) -> None:
        self._table = np.full(2 << 16, -1, dtype=np.int64)   # (id, hash) pairs
        self._hashes = np.empty(1 << 14, dtype=np.uint64)
        self._blob = np.empty(1 << 20, dtype=np.uint8)
        self._offsets = np.zeros((1 << 14) + 1, dtype=np.int64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def feed(self, block: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Split a block of whole lines of valid UTF-8 as ``str.split()`` splits each line.

        Returns the tokens' ids (int32 ``[n_tokens]``, new tokens numbered on from
        ``len(self)``) and the number of tokens on each line (int64 ``[n_lines]``).
        """
        from . import _kernels as K  # numba only once text is tokenized, not at import
        data = np.frombuffer(block, dtype=np.uint8)
        ids, lengths, self._table, self._hashes, self._blob, self._offsets, self._n = \
            K.tokenize_whitespace(data, self._table, self._hashes, self._blob, self._offsets, self._n)
        return ids, lengths

    def tokens(self, start: int = 0) -> list[str]:
        """The tokens with ids ``start..len(self)-1``, as strings."""
        raw = self._blob[: self._offsets[self._n]].tobytes()
        off = self._offsets[start: self._n + 1].tolist()
        return [raw[a:b].decode("utf-8") for a, b in zip(off, off[1:])]
