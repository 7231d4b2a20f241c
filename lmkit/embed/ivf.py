"""The coarse level of an inverted-file (IVF) index over compressed word vectors: k-means
cells, the rows of each cell as one list, and which cells a query visits. The product
quantisation that codes the rows' residuals lives in :mod:`lmkit.embed.compress`."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError


class InvertedLists:
    """The coarse level of an IVF index: ``cells`` float32 [nlist, dim] (k-means centroids of
    the centred unit rows), ``lists`` int64 [n] (row ids, cell after cell, ascending within a
    cell) and ``starts`` int64 [nlist + 1] (cell c holds ``lists[starts[c]:starts[c + 1]]``).
    The PQ codes of an indexed matrix are stored in this list order, so that a cell's codes
    are read in one sweep. A query visits the ``nprobe`` cells nearest to it (L2)."""

    def __init__(self, cells: np.ndarray, lists: np.ndarray, starts: np.ndarray) -> None:
        if cells.ndim != 2 or cells.dtype != np.float32 or lists.ndim != 1 or lists.dtype != np.int64 \
                or starts.shape != (cells.shape[0] + 1,) or starts.dtype != np.int64:
            raise ConfigError(f"inverted lists need float32 cells [nlist, dim], int64 lists [n] and int64 starts "
                              f"[nlist + 1]; got {cells.dtype} {cells.shape}, {lists.dtype} {lists.shape}, "
                              f"{starts.dtype} {starts.shape}")
        self.cells = cells
        self.lists = lists
        self.starts = starts
        self._row_pos: np.ndarray | None = None
        self._pos_cell: np.ndarray | None = None
        self._cell_sq: np.ndarray | None = None

    @classmethod
    def build(cls, cells: np.ndarray, assign: np.ndarray) -> InvertedLists:
        """Lists from each row's cell (int [n])."""
        order = np.argsort(assign, kind="stable").astype(np.int64)
        starts = np.zeros(len(cells) + 1, np.int64)
        np.cumsum(np.bincount(assign, minlength=len(cells)), out=starts[1:])
        return cls(cells, order, starts)

    @property
    def nlist(self) -> int:
        return int(self.cells.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.cells.nbytes + self.lists.nbytes + self.starts.nbytes)

    def position_cells(self) -> np.ndarray:
        """The cell of every list position, int64 [n] (cached)."""
        if self._pos_cell is None:
            self._pos_cell = np.repeat(np.arange(self.nlist, dtype=np.int64), np.diff(self.starts))
        return self._pos_cell

    def row_positions(self) -> np.ndarray:
        """Where every row sits in the lists, int64 [n] (cached)."""
        if self._row_pos is None:
            out = np.empty(len(self.lists), np.int64)
            out[self.lists] = np.arange(len(self.lists), dtype=np.int64)
            self._row_pos = out
        return self._row_pos

    def cell_sq(self) -> np.ndarray:
        """Squared length of every centroid, float32 [nlist] (cached)."""
        if self._cell_sq is None:
            self._cell_sq = np.einsum("ij,ij->i", self.cells, self.cells)
        return self._cell_sq

    def probe(self, centred_query: np.ndarray, nprobe: int) -> np.ndarray:
        """The ``nprobe`` cells nearest to a centred query (int64, nearest first)."""
        d = self.cell_sq() - 2.0 * (self.cells @ centred_query)
        p = min(nprobe, len(d))
        near = np.argpartition(d, p - 1)[:p] if p < len(d) else np.arange(len(d))
        return near[np.argsort(d[near], kind="stable")].astype(np.int64)
