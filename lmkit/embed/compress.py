"""Compressed word vectors, searched on their codes.

*int8* (``lmkit embed compress VECTORS -o OUT --int8``): the rows' mean is taken out, then each
centred row is stored as int8 codes with one float32 scale (row ``i`` is ``offset + codes[i] *
scales[i]``, the scale the centred row's largest magnitude over 127): a quarter of the float32
matrix plus 4 bytes a row. Centring matters for word2vec vectors, which share a large common
direction: the codes then spend their 255 levels on what tells words apart (on Brown skip-gram
vectors, one training seed, it took recall@10 against float32 search from 0.973 to 0.988).
:class:`Int8Rows` reads like the float32 matrix (shape, dtype, row indexing); one query is
scored on the codes by a numba kernel, batches of queries decode a block of rows at a time for
one BLAS product, so memory stays a block whatever the vocabulary size.

*PQ* (``--pq M``, :class:`PQRows`): product quantisation of the unit rows, M bytes a row, one
query scored by asymmetric distance tables on the codes. With ``--rerank R`` the rows are also
kept beside the codes (int8 by default, or float32): a query's best R rows by the codes are
scored again on them, and everything that reads rows (similarity, batches of queries,
evaluation) reads them.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .ivf import InvertedLists

#: rows decoded at once when a whole compressed matrix is read (about 16M values)
DECODE_BLOCK_VALUES = 1 << 24
#: product quantisation: centroids per sub-space (codes are one byte), k-means rounds and the
#: most rows its codebooks are trained on (a seeded sample of the rows beyond that)
PQ_CENTROIDS = 256
PQ_ROUNDS = 20
PQ_TRAIN_ROWS = 65536
#: IVF: rows sampled per coarse cell to train the cells (at least PQ_TRAIN_ROWS in all)
IVF_TRAIN_PER_CELL = 64


class _CodedRows:
    """What compressed row stores share: they read like a float32 ``[n, dim]`` matrix.
    Subclasses hold ``codes`` (a row of codes per row) and decode rows in ``__getitem__``."""

    ndim = 2
    dtype = np.dtype(np.float32)
    codes: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        raise NotImplementedError

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, rows) -> np.ndarray:
        raise NotImplementedError

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every row decoded (4 bytes a value again), a block at a time."""
        out = np.empty(self.shape, np.float32)
        for lo, hi in _blocks(*self.shape):
            out[lo:hi] = self[lo:hi]
        return out if dtype is None else out.astype(dtype, copy=False)


def _blocks(n: int, dim: int):
    """(lo, hi) row ranges of about DECODE_BLOCK_VALUES values each."""
    step = max(1, DECODE_BLOCK_VALUES // max(dim, 1))
    for lo in range(0, n, step):
        yield lo, min(n, lo + step)


def _finite_blocks(vectors):
    """(first row, float32 rows) of a float matrix, a block at a time, each checked finite."""
    for lo, hi in _blocks(*vectors.shape):
        block = np.asarray(vectors[lo:hi], dtype=np.float32)
        if not np.all(np.isfinite(block)):
            raise ConfigError(f"vectors to compress must be finite (NaN or inf in rows {lo}..{hi - 1})")
        yield lo, block


class Int8Rows(_CodedRows):
    """A float32 ``[n, dim]`` matrix kept as int8 ``codes`` and float32 ``scales [n]``.

    Indexing (an int, a slice or an array of rows) returns the decoded float32 rows;
    ``np.asarray`` decodes everything (4 bytes a value again)."""

    def __init__(self, codes: np.ndarray, scales: np.ndarray, offset: np.ndarray | None = None) -> None:
        if codes.ndim != 2 or codes.dtype != np.int8 or scales.shape != (codes.shape[0],) \
                or scales.dtype != np.float32:
            raise ConfigError(f"int8 rows need int8 codes [n, dim] and float32 scales [n]; got {codes.dtype} "
                              f"{codes.shape} and {scales.dtype} {scales.shape}")
        offset = np.zeros(codes.shape[1], np.float32) if offset is None else np.asarray(offset)
        if offset.shape != (codes.shape[1],) or offset.dtype != np.float32:
            raise ConfigError(f"the int8 rows' offset must be float32 [{codes.shape[1]}], got {offset.dtype} "
                              f"{offset.shape}")
        self.codes = codes
        self.scales = scales
        self.offset = offset

    @classmethod
    def encode(cls, vectors, center: bool = True) -> Int8Rows:
        """Quantise a float matrix row by row, less the rows' mean when ``center`` (a block at
        a time; a row equal to the offset has scale 0)."""
        n, dim = vectors.shape
        codes = np.empty((n, dim), np.int8)
        scales = np.empty(n, np.float32)
        total = np.zeros(dim, np.float64)
        for _, block in _finite_blocks(vectors):
            total += block.sum(axis=0, dtype=np.float64)
        offset = (total / max(n, 1)).astype(np.float32) if center else np.zeros(dim, np.float32)
        for lo, block in _finite_blocks(vectors):
            block = block - offset
            top = np.abs(block).max(axis=1) if dim else np.zeros(len(block), np.float32)
            s = (top / 127.0).astype(np.float32)
            safe = np.where(s > 0, s, 1.0).astype(np.float32)
            codes[lo:lo + len(block)] = np.clip(np.rint(block / safe[:, None]), -127, 127).astype(np.int8)
            scales[lo:lo + len(block)] = s
        return cls(codes, scales, offset)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.codes.shape[0]), int(self.codes.shape[1]))

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.scales.nbytes + self.offset.nbytes)

    def __getitem__(self, rows) -> np.ndarray:
        codes = np.asarray(self.codes[rows], dtype=np.float32)
        scales = np.asarray(self.scales[rows], dtype=np.float32)
        return (codes * scales[..., None] if codes.ndim == 2 else codes * scales) + self.offset

    def scores(self, query: np.ndarray, inv_norms: np.ndarray, n: int) -> np.ndarray:
        """``(row . query) * inv_norms`` of the first ``n`` rows (float32 [n]), on the codes."""
        from ._kernels import int8_scores
        q = np.ascontiguousarray(query, dtype=np.float32)
        out = np.empty(n, np.float32)
        int8_scores(self.codes, self.scales, np.float32(self.offset @ q), inv_norms, q, 0, n, out)
        return out

    def head(self, n: int) -> Int8Rows:
        """The first ``n`` rows."""
        return Int8Rows(self.codes[:n], self.scales[:n], self.offset)

    def __repr__(self) -> str:
        return f"Int8Rows({self.shape[0]} x {self.shape[1]})"


class PQRows(_CodedRows):
    """Product-quantised rows: each row scaled to unit length, less the mean of the unit rows
    (``offset``), cut into M sub-vectors, each stored as the byte of its nearest centroid in
    that sub-space's codebook (k-means, ``codebooks`` float32 [M, 256, dim / M]). M bytes a row.

    Rows decode to their unit-length direction (the length is not kept: cosine queries do
    not need it); one query is scored by asymmetric distance tables on the codes. With an IVF
    index (``ivf``) the codes are residuals from the rows' cells, stored in list order, and
    ``n_rows`` may be fewer than the codes (the first rows of a larger index)."""

    def __init__(self, codes: np.ndarray, codebooks: np.ndarray, offset: np.ndarray,
                 refine: np.ndarray | Int8Rows | None = None, rerank: int = 0,
                 ivf: InvertedLists | None = None, nprobe: int = 8, n_rows: int | None = None) -> None:
        if codes.ndim != 2 or codes.dtype != np.uint8 or codebooks.ndim != 3 or codebooks.dtype != np.float32 \
                or codebooks.shape[0] != codes.shape[1] or codebooks.shape[1] != PQ_CENTROIDS \
                or offset.shape != (codebooks.shape[0] * codebooks.shape[2],) or offset.dtype != np.float32:
            raise ConfigError(f"PQ rows need uint8 codes [n, M], float32 codebooks [M, {PQ_CENTROIDS}, dim / M] "
                              f"and a float32 offset [dim]; got {codes.dtype} {codes.shape}, {codebooks.dtype} "
                              f"{codebooks.shape}, {offset.dtype} {offset.shape}")
        n = codes.shape[0] if n_rows is None else n_rows
        if not 0 <= n <= codes.shape[0] or (ivf is None and n != codes.shape[0]):
            raise ConfigError(f"{n} rows of {codes.shape[0]} codes (fewer only with an IVF index)")
        if refine is not None and (tuple(refine.shape) != (n, offset.shape[0]) or refine.dtype != np.float32):
            raise ConfigError(f"the re-ranking rows must be float32 [{n}, {offset.shape[0]}], got "
                              f"{refine.dtype} {tuple(refine.shape)}")
        if refine is not None and not (isinstance(rerank, int) and rerank >= 1):
            raise ConfigError(f"rerank must be a whole number >= 1 with re-ranking rows, got {rerank!r}")
        if ivf is not None and (ivf.cells.shape[1] != offset.shape[0] or len(ivf.lists) != codes.shape[0]):
            raise ConfigError(f"inverted lists of {ivf.cells.shape} cells over {len(ivf.lists)} rows do not fit "
                              f"{codes.shape[0]} rows of dim {offset.shape[0]}")
        if ivf is not None and not (isinstance(nprobe, int) and nprobe >= 1):
            raise ConfigError(f"nprobe must be a whole number >= 1, got {nprobe!r}")
        self.codes = codes
        self.codebooks = codebooks
        self.offset = offset
        self.refine = refine
        self.rerank = rerank if refine is not None else 0
        self.ivf = ivf
        self.nprobe = nprobe
        self.n_rows = n
        self._code_inv: np.ndarray | None = None
        self._books_t: np.ndarray | None = None

    @classmethod
    def encode(cls, vectors, m: int, seed: int = 0, rerank: int = 0, refine: str = "int8", ivf: int = 0,
               nprobe: int = 8) -> PQRows:
        """Train M codebooks on (a sample of) the centred unit rows and code every row. With
        ``rerank`` R, the rows are also kept as ``refine`` (``"int8"``: :class:`Int8Rows`, or
        ``"float32"``) and a query's best R candidates by the codes are scored again on them.
        With ``ivf`` NLIST, the rows are first grouped into NLIST k-means cells, the codes
        code each row's residual from its cell's centroid, and a query scans only its
        ``nprobe`` nearest cells."""
        if rerank and refine not in ("int8", "float32"):
            raise ConfigError(f"refine must be 'int8' or 'float32', got {refine!r}")
        n, dim = vectors.shape
        if m < 1 or dim % m:
            raise ConfigError(f"--pq M must divide the dimension {dim}, got {m}")
        if n < PQ_CENTROIDS:
            raise ConfigError(f"product quantisation needs at least {PQ_CENTROIDS} vectors, got {n}")
        if ivf and not 1 <= ivf <= n // 4:
            raise ConfigError(f"--ivf NLIST must be between 1 and a quarter of the {n} vectors, got {ivf}")
        offset = np.zeros(dim, np.float64)
        for _, block in _unit_blocks(vectors):
            offset += block.sum(axis=0, dtype=np.float64)
        offset = (offset / n).astype(np.float32)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, min(n, max(PQ_TRAIN_ROWS, IVF_TRAIN_PER_CELL * ivf)), replace=False))
        train = _unit(np.asarray(vectors[sample], dtype=np.float32)) - offset
        cells = _kmeans(train, rng, ivf) if ivf else None
        if cells is not None:
            train = train - cells[_nearest_centroid(train, cells)]
        if len(train) > PQ_TRAIN_ROWS:
            train = train[np.sort(rng.choice(len(train), PQ_TRAIN_ROWS, replace=False))]
        sub = dim // m
        books = np.stack([_kmeans(train[:, j * sub:(j + 1) * sub], rng) for j in range(m)])
        codes = np.empty((n, m), np.uint8)
        assign = np.empty(n, np.int64) if cells is not None else None
        for lo, block in _unit_blocks(vectors):
            block = block - offset
            if cells is not None and assign is not None:
                a = assign[lo:lo + len(block)] = _nearest_centroid(block, cells)
                block = block - cells[a]
            for j in range(m):
                codes[lo:lo + len(block), j] = _nearest_centroid(block[:, j * sub:(j + 1) * sub], books[j])
        lists = InvertedLists.build(cells, assign) if cells is not None and assign is not None else None
        if lists is not None:
            codes = codes[lists.lists]                              # list order: a cell in one sweep
        kept = None if not rerank else Int8Rows.encode(vectors) if refine == "int8" \
            else np.array(vectors, dtype=np.float32)
        return cls(codes, books, offset, kept, rerank, lists, nprobe)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, int(self.offset.shape[0]))

    def __len__(self) -> int:
        return self.n_rows

    @property
    def nbytes(self) -> int:
        extra = (0 if self.refine is None else int(self.refine.nbytes)) + (0 if self.ivf is None else self.ivf.nbytes)
        return int(self.codes.nbytes + self.codebooks.nbytes + self.offset.nbytes) + extra

    def __getitem__(self, rows) -> np.ndarray:
        """Decoded rows: the re-ranking rows when kept (exact or int8), else the codes' unit
        directions."""
        if self.refine is not None:
            return np.asarray(self.refine[rows], dtype=np.float32)
        return self.decode(rows)

    def decode(self, rows) -> np.ndarray:
        """Rows as the codes give them (unit directions, approximately)."""
        pos = rows if self.ivf is None else self.ivf.row_positions()[:self.n_rows][rows]
        codes = np.asarray(self.codes[pos])
        m, sub = self.codebooks.shape[0], self.codebooks.shape[2]
        parts = self.codebooks[np.arange(m), codes]          # [..., M, sub]
        out = parts.reshape(*codes.shape[:-1], m * sub) + self.offset
        if self.ivf is not None:
            out += self.ivf.cells[self.ivf.position_cells()[pos]]
        return out

    def _tables(self, q: np.ndarray) -> np.ndarray:
        """The query's distance tables: sub-vector m dotted with every centroid, float32 [M, 256]."""
        from ._kernels import pq_tables
        if self._books_t is None:
            self._books_t = np.ascontiguousarray(self.codebooks.transpose(0, 2, 1))
        out = np.empty(self.codebooks.shape[:2], np.float32)
        pq_tables(self._books_t, q, out)
        return out

    def scores(self, query: np.ndarray, inv_norms: np.ndarray, n: int) -> np.ndarray:
        """``(row . query) * inv_norms`` of the first ``n`` rows by distance tables on the codes
        (float32 [n]). With an IVF index only the rows of the ``nprobe`` cells nearest to the
        query are scored, and with re-ranking only the best ``rerank`` of those get a score
        (on the kept rows, cosines); the others are -inf (not candidates)."""
        from ._kernels import pq_scores
        q = np.ascontiguousarray(query, dtype=np.float32)
        tables = self._tables(q)
        base = np.float32(self.offset @ q)
        if self.ivf is None and self.refine is None:
            out = np.empty(n, np.float32)
            pq_scores(self.codes, tables, base, inv_norms, n, out)
            return out
        ids, approx = self._candidates(q, tables, base, n)
        out = np.full(n, -np.inf, np.float32)
        if self.refine is None:
            out[ids] = approx
            return out
        best = _best(approx, self.rerank) if self.rerank < len(ids) else np.arange(len(ids))
        out[ids[best]] = self._kept_cosines(q, ids[best])
        return out

    def _candidates(self, q: np.ndarray, tables: np.ndarray, base: np.float32, n: int
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows (< n) worth scoring and their cosines with the decoded rows: every row, or with
        an IVF index those of the ``nprobe`` nearest cells. Cosines, not raw inner products:
        those favour rows the codes made long (on Brown skip-gram vectors recall@10 of the
        best 100 re-ranked was 0.74 that way, 0.998 so)."""
        from ._kernels import pq_scores
        if self.ivf is not None:
            return self._scan(q, tables, base, n)
        out = np.empty(n, np.float32)
        pq_scores(self.codes, tables, base, self.code_inv_norms()[:n], n, out)
        return np.arange(n), out

    def _kept_cosines(self, q: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Cosines of unit query ``q`` with the kept rows ``ids``, float32."""
        assert self.refine is not None
        rows = np.asarray(self.refine[ids], dtype=np.float32)
        norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
        return ((rows @ q) / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def _scan(self, q: np.ndarray, tables: np.ndarray, base: np.float32, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows (< n) of the ``nprobe`` cells nearest to ``q`` and their cosines with the
        decoded rows: (ids int64, scores float32)."""
        from ._kernels import ivf_pq_scan
        assert self.ivf is not None
        cells = self.ivf.probe(q - self.offset, self.nprobe)
        cell_base = (base + self.ivf.cells[cells] @ q).astype(np.float32)
        size = int((self.ivf.starts[cells + 1] - self.ivf.starts[cells]).sum())
        ids, approx = np.empty(size, np.int64), np.empty(size, np.float32)
        k = ivf_pq_scan(self.codes, self.ivf.lists, self.ivf.starts, cells, cell_base, tables,
                        self.code_inv_norms(), n, ids, approx)
        return ids[:k], approx[:k]

    def search(self, query: np.ndarray, k: int, n: int, exclude=()) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows among the first ``n`` for a unit ``query`` (rows in ``exclude``
        left out), best first: (ids int64, cosines float32). With an IVF index only the
        ``nprobe`` nearest cells are read and nothing costs O(n); with re-ranking the best
        ``rerank`` candidates are scored again on the kept rows."""
        q = np.ascontiguousarray(query, dtype=np.float32)
        ids, approx = self._candidates(q, self._tables(q), np.float32(self.offset @ q), n)
        drop = ~np.isfinite(approx)
        for i in exclude:
            drop |= ids == i
        ids, approx = ids[~drop], approx[~drop]
        want = max(k, self.rerank) if self.refine is not None else k
        keep = _best(approx, want) if want < len(ids) else np.arange(len(ids))
        ids, approx = ids[keep], approx[keep]
        if self.refine is not None:
            approx = self._kept_cosines(q, ids)
        order = np.argsort(-approx, kind="stable")[:k]
        return ids[order], approx[order]

    def search_many(self, queries: np.ndarray, k: int, n: int, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` for many unit queries [B, dim] through the IVF index at once (numba,
        queries in parallel; row ``exclude[b]`` left out of query b's answer, -1 for none):
        (ids int64 [B, k], cosines float32 [B, k]), best first, -1 / -inf past the rows found."""
        from ._kernels import ivf_pq_search_many, pq_tables_many, top_k_pop
        assert self.ivf is not None
        Q = np.ascontiguousarray(queries, dtype=np.float32)
        B = len(Q)
        if self._books_t is None:
            self._books_t = np.ascontiguousarray(self.codebooks.transpose(0, 2, 1))
        tables = np.empty((B,) + self.codebooks.shape[:2], np.float32)
        pq_tables_many(self._books_t, Q, tables)
        p = min(self.nprobe, self.ivf.nlist)
        cell_dots = Q @ self.ivf.cells.T                                             # [B, nlist]
        dist = self.ivf.cell_sq() - 2.0 * (cell_dots - (self.offset @ self.ivf.cells.T))
        probes = np.argpartition(dist, p - 1, axis=1)[:, :p] if p < self.ivf.nlist else \
            np.tile(np.arange(self.ivf.nlist), (B, 1))
        probes = np.ascontiguousarray(probes, dtype=np.int64)
        cell_base = (np.take_along_axis(cell_dots, probes, axis=1) + (Q @ self.offset)[:, None]).astype(np.float32)
        want = max(k, self.rerank) if self.refine is not None else k
        heap_v, heap_i = np.empty((B, want), np.float32), np.empty((B, want), np.int64)
        sizes = np.zeros(B, np.int64)
        ivf_pq_search_many(self.codes, self.ivf.lists, self.ivf.starts, probes, cell_base, tables,
                           self.code_inv_norms(), n, np.asarray(exclude, np.int64), heap_v, heap_i, sizes)
        ids, scores = top_k_pop(heap_v, heap_i, sizes)
        if isinstance(self.refine, Int8Rows):           # cosines on the int8 codes, nothing decoded
            from ._kernels import int8_cosines
            scores = np.empty(ids.shape, np.float32)
            int8_cosines(self.refine.codes, self.refine.scales, self.refine.offset, ids, Q, scores)
        elif self.refine is not None:
            found = ids >= 0
            rows = np.asarray(self.refine[ids[found]], dtype=np.float32)               # [found, dim]
            norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
            owner = np.nonzero(found)[0]
            exact = np.einsum("ij,ij->i", rows, Q[owner]) / np.where(norms > 0, norms, 1.0)
            scores = np.full(ids.shape, -np.inf, np.float32)
            scores[found] = exact
        if self.refine is not None:
            order = np.argsort(-scores, axis=1, kind="stable")
            ids, scores = np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)
        return ids[:, :k], scores[:, :k]

    def code_inv_norms(self) -> np.ndarray:
        """1 / length of every decoded row, float32 [rows of codes] in the codes' order (list
        order with IVF), from the codes (cached). Without IVF the sub-vectors are orthogonal
        pieces, so the squared length is a sum of M table entries; with IVF each row adds its
        cell's centroid (one kernel pass)."""
        if self._code_inv is None:
            from ._kernels import ivf_pq_sq_norms, pq_scores
            m, sub = self.codebooks.shape[0], self.codebooks.shape[2]
            n = self.codes.shape[0]
            sq = np.empty(n, np.float32)
            if self.ivf is None:
                pieces = self.codebooks + self.offset.reshape(m, 1, sub)             # [M, 256, sub]
                squares = np.einsum("mcs,mcs->mc", pieces, pieces).astype(np.float32)
                pq_scores(self.codes, squares, np.float32(0.0), np.ones(n, np.float32), n, sq)
            else:
                bases = (self.ivf.cells + self.offset).astype(np.float32)
                ivf_pq_sq_norms(self.codes, self.codebooks, bases, self.ivf.position_cells(), sq)
            self._code_inv = (1.0 / np.sqrt(np.where(sq > 0, sq, 1.0))).astype(np.float32)
        return self._code_inv

    def head(self, n: int) -> PQRows:
        """The first ``n`` rows."""
        refine = None if self.refine is None else self.refine[:n] if isinstance(self.refine, np.ndarray) \
            else self.refine.head(n)
        if self.ivf is not None:                  # the lists keep every row; scans skip rows >= n
            return PQRows(self.codes, self.codebooks, self.offset, refine, self.rerank, self.ivf, self.nprobe, n)
        return PQRows(self.codes[:n], self.codebooks, self.offset, refine, self.rerank)

    def __repr__(self) -> str:
        kept = "float32" if isinstance(self.refine, np.ndarray) else "int8"
        more = "" if self.refine is None else f", best {self.rerank} re-ranked on {kept} rows"
        more += "" if self.ivf is None else f", IVF {self.ivf.nlist} cells, {self.nprobe} probed"
        return f"PQRows({self.shape[0]} x {self.shape[1]}, {self.codes.shape[1]} bytes a row{more})"


def _best(scores: np.ndarray, r: int) -> np.ndarray:
    """Indices of the ``r`` highest of float32 ``scores`` (any order): one pass through a
    k-heap (numba; np.argpartition took 107 us for 14k scores, this about a tenth)."""
    from ._kernels import top_k_push
    heap_v, heap_i = np.empty((1, r), np.float32), np.empty((1, r), np.int64)
    sizes = np.zeros(1, np.int64)
    top_k_push(scores.reshape(1, -1), 0, np.full(1, -1, np.int64), heap_v, heap_i, sizes)
    return heap_i[0, :sizes[0]]


def _unit(block: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", block, block))
    return block / np.where(norms > 0, norms, 1.0)[:, None]


def _unit_blocks(vectors):
    """(first row, unit float32 rows) a block at a time; rows must be finite."""
    for lo, block in _finite_blocks(vectors):
        yield lo, _unit(block)


def _nearest_centroid(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (L2) of every row of ``x`` (one BLAS product)."""
    d = (centroids * centroids).sum(axis=1)[None, :] - 2.0 * (x @ centroids.T)
    return np.argmin(d, axis=1)


def _kmeans(x: np.ndarray, rng: np.random.Generator, k: int = PQ_CENTROIDS) -> np.ndarray:
    """``k`` centroids of the rows of ``x`` (float32): Lloyd's rounds from a seeded
    sample of distinct rows (centroids follow the density of the rows; k-means++ seeding,
    tried, lowered the squared error but cost neighbour recall: on Brown skip-gram vectors
    PQ20 recall@10 0.623 against 0.640-0.644, one training seed, two k-means seeds each); an
    emptied centroid restarts at the row farthest from its own."""
    cent = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(PQ_ROUNDS):
        assign = _nearest_centroid(x, cent)
        counts = np.bincount(assign, minlength=k)
        sums = np.stack([np.bincount(assign, weights=x[:, d], minlength=k) for d in range(x.shape[1])], axis=1)
        filled = counts > 0
        cent[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
        if not filled.all():
            err = ((x - cent[assign]) ** 2).sum(axis=1)
            far = np.argsort(-err)[:int((~filled).sum())]
            cent[~filled] = x[far]
    return cent.astype(np.float32)
