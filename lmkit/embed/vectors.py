"""Word vectors and the queries people run on them.

:class:`KeyedVectors` knows nothing of training: the words, a float32 matrix (in memory or
memory-mapped) and its row norms, computed once for cosine queries. The word2vec C tool's
files are read and written by :mod:`lmkit.embed.w2v_format`, the native folder here.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Union

import numpy as np

from .._io import atomic_folder, load_npy, read_format_json
from ..errors import ConfigError, ModelFormatError
from .compress import PQ_CENTROIDS, Int8Rows, PQRows
from .ivf import InvertedLists
from .wordlist import MappedWords, WordList, write_mapped_words

log = logging.getLogger(__name__)
NATIVE_FORMAT = "lmkit-vectors"
NATIVE_VERSION = 2   # 2: words as UTF-8 blob + offsets + hash table; 1 (words.txt) still reads
#: a compressed folder: codes instead of vectors.npy ("encoding" in meta.json says which)
COMPRESSED_VERSION = 3


Key = Union[str, np.ndarray]  # noqa: UP007 (a runtime alias: Python 3.10 has no str | ndarray here)
#: query memory: one block of scores holds at most this many float32 values (16 MB; larger
#: blocks fall out of cache between the BLAS product and the top-k scan: 1,000 queries over
#: 200k x 300 took 1.13 s with 64 MB blocks, 1.00 s with these, one run each)
SCORE_BLOCK_VALUES = 1 << 22
#: `neighbors`: query batches scored against each block of rows while it is in cache (and,
#: for compressed rows, decoded)
_BATCHES_PER_BLOCK = 16


class KeyedVectors:
    """Words and their vectors (float32 ``[n_words, dim]``), with similarity queries.

    gensim's names work too: ``index_to_key`` (= ``words``), ``key_to_index``,
    ``vector_size``, ``get_vector``, ``similar_by_word``/``similar_by_vector``, ``distance(s)``,
    ``cosine_similarities``, ``n_similarity``, ``rank``, ``closer_than``,
    ``most_similar_to_given``, ``relative_cosine_similarity``, ``get_mean_vector``,
    ``add_vectors`` and item assignment, ``evaluate_word_analogies``/``evaluate_word_pairs``.
    """

    def __init__(self, words: Sequence[str] | MappedWords, vectors: np.ndarray | Int8Rows | PQRows,
                 counts: np.ndarray | None = None) -> None:
        if isinstance(words, str):
            raise ConfigError("words must be a list of words, not one string")
        vectors = vectors if isinstance(vectors, (np.ndarray, Int8Rows, PQRows)) else np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ConfigError(f"vectors must be [n_words, dim]; got {vectors.shape} for {len(words)} words")
        self._words: WordList | MappedWords = words if isinstance(words, MappedWords) else WordList(words)
        self.vectors: np.ndarray | Int8Rows | PQRows = vectors
        self.counts = counts
        self._norms: np.ndarray | None = None
        self._inv: np.ndarray | None = None

    # ------------------------------------------------------------------ basics
    @property
    def words(self) -> list[str]:
        """The words in row order (most frequent first for trained vectors)."""
        return self._words.words if isinstance(self._words, WordList) else self._words.tolist()

    @property
    def stoi(self) -> dict[str, int]:
        """word -> row (built on first use for a memory-mapped folder)."""
        if isinstance(self._words, MappedWords):
            self._words = WordList(self._words.tolist())
        return self._words.rows

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._words.row(word) >= 0

    def __getitem__(self, word: str | Sequence[str]) -> np.ndarray:
        if isinstance(word, str):
            return self.vectors[self.index_of(word)]
        return np.vstack([self.vectors[self.index_of(w)] for w in word])

    def __setitem__(self, keys: str | Sequence[str], weights: np.ndarray) -> None:
        """``kv[word] = vector`` (or lists of both): replace known words' vectors, add new ones."""
        if isinstance(keys, str):
            keys, weights = [keys], np.asarray(weights).reshape(1, -1)
        self.add_vectors(keys, weights, replace=True)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    vector_size = dim

    @property
    def index_to_key(self) -> list[str]:
        return self.words

    @property
    def key_to_index(self) -> dict[str, int]:
        return self.stoi

    def index_of(self, word: str) -> int:
        if not isinstance(word, str):
            raise ConfigError(f"a word must be a string, got {type(word).__name__}")
        row = self._words.row(word)
        if row < 0:
            raise KeyError(f"word {word!r} is not in the vocabulary ({len(self)} words)")
        return row

    get_index = index_of

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """The word's vector (``norm=True``: scaled to unit length)."""
        i = self.index_of(word)
        return self.unit_rows(np.array([i]))[0] if norm else self.vectors[i]

    @property
    def norms(self) -> np.ndarray:
        """Euclidean length of every row, float32 ``[n_words]`` (zero rows: 1), computed once a
        block at a time. Queries divide by these instead of keeping a unit-length copy, so
        searching costs no second matrix (gensim does the same)."""
        if self._norms is None:
            out = np.empty(len(self), dtype=np.float32)
            step = max(1, SCORE_BLOCK_VALUES // max(self.dim, 1))
            for lo in range(0, len(self), step):
                v = np.asarray(self.vectors[lo:lo + step], dtype=np.float32)
                out[lo:lo + step] = np.sqrt(np.einsum("ij,ij->i", v, v))
            out[out == 0] = 1.0
            self._norms = out
        return self._norms

    def unit_rows(self, rows: np.ndarray | slice) -> np.ndarray:
        """Rows of the matrix scaled to unit length (float32)."""
        return np.asarray(self.vectors[rows], dtype=np.float32) / self.norms[rows][:, None]

    def _scores(self, query: np.ndarray, restrict_vocab: int | None) -> np.ndarray:
        """Cosine of a unit ``query`` [dim] with every row (the first ``restrict_vocab``),
        float32 [rows], a block of rows at a time (compressed rows are decoded per block)."""
        n = min(len(self), restrict_vocab) if restrict_vocab else len(self)
        if isinstance(self.vectors, np.ndarray):
            return (self.vectors[:n] @ query.astype(self.vectors.dtype, copy=False)) / self.norms[:n]
        return self.vectors.scores(query, self._inv_norms()[:n], n)

    def _inv_norms(self) -> np.ndarray:
        if self._inv is None:
            self._inv = (1.0 / self.norms).astype(np.float32)
        return self._inv

    @property
    def encoding(self) -> str:
        """How the rows are stored: ``"float32"``, ``"int8"`` or ``"pq"`` (see :meth:`compress`)."""
        return "int8" if isinstance(self.vectors, Int8Rows) else "pq" if isinstance(self.vectors, PQRows) \
            else "float32"

    def compress(self, encoding: str = "int8", m: int | None = None, seed: int = 0, rerank: int = 0,
                 refine: str = "int8", ivf: int = 0, nprobe: int = 8) -> KeyedVectors:
        """The same words with their vectors compressed: ``"int8"`` keeps int8 codes and a
        float32 scale per row (a quarter of the memory); ``"pq"`` keeps ``m`` bytes a row,
        product-quantised unit directions (lengths dropped; ``seed`` for its k-means), and with
        ``rerank`` R also the rows as ``refine`` (``"int8"`` or ``"float32"``): one query's best
        R rows by the codes are scored again on them; with ``ivf`` NLIST an inverted-file index
        (NLIST k-means cells, residuals coded) of which one query scans the ``nprobe`` cells
        nearest to it (``kv.vectors.nprobe`` changes it later). Queries run on the codes;
        ``save`` writes the compressed form."""
        if encoding not in ("int8", "pq"):
            raise ConfigError(f"encoding must be 'int8' or 'pq', got {encoding!r}")
        if self.encoding != "float32":
            raise ConfigError(f"these vectors are already compressed ({self.encoding})")
        if not (type(rerank) is int and rerank >= 0):
            raise ConfigError(f"rerank must be a whole number >= 0, got {rerank!r}")
        for name, value in (("ivf", ivf), ("nprobe", nprobe)):
            if not (type(value) is int and value >= 0):
                raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
        if (rerank or ivf) and encoding != "pq":
            raise ConfigError("rerank and ivf go with product quantisation (int8 rows are scored directly)")
        if encoding == "pq":
            if m is None:
                raise ConfigError("product quantisation needs m, the bytes per vector (a divisor of the dimension)")
            rows: Int8Rows | PQRows = PQRows.encode(self.vectors, m, seed, rerank, refine, ivf, max(nprobe, 1))
        else:
            rows = Int8Rows.encode(self.vectors)
        words = self._words if isinstance(self._words, MappedWords) else self.words   # a copy to grow apart
        return KeyedVectors(words, rows, self.counts)

    def add_vectors(self, keys: Sequence[str], weights: np.ndarray, replace: bool = False) -> None:
        """Append new words with their vectors (``replace``: also overwrite known words;
        otherwise known words keep their vectors)."""
        if isinstance(keys, str):
            keys = [keys]
        weights = np.asarray(weights, dtype=np.float32).reshape(len(keys), -1)
        if weights.shape[1] != self.dim:
            raise ConfigError(f"vectors of dim {weights.shape[1]} added to vectors of dim {self.dim}")
        stoi = self.stoi          # in memory from now on
        new = [(k, w) for k, w in zip(keys, weights) if k not in stoi]
        if replace or new:   # writable, in memory (compressed rows are decoded: float32 from now on)
            self.vectors = np.array(self.vectors, dtype=np.float32)
        if replace:
            assert isinstance(self.vectors, np.ndarray)
            for k, w in zip(keys, weights):
                if k in stoi:
                    self.vectors[stoi[k]] = w
        if new:
            seen: dict[str, np.ndarray] = {}
            for k, w in new:
                seen.setdefault(k, w)
            self.vectors = np.vstack([self.vectors, np.array(list(seen.values()), dtype=np.float32)])
            for k in seen:
                self._words.append(k)   # type: ignore[union-attr]
            if self.counts is not None:
                self.counts = np.concatenate([self.counts, np.zeros(len(seen), self.counts.dtype)])
        self._norms = self._inv = None

    # ------------------------------------------------------------------ queries
    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        u = self.unit_rows(np.array([self.index_of(a), self.index_of(b)]))
        return float(u[0] @ u[1])

    def distance(self, a: str, b: str) -> float:
        """Cosine distance, 1 - similarity."""
        return 1.0 - self.similarity(a, b)

    @staticmethod
    def cosine_similarities(vector: np.ndarray, vectors_all: np.ndarray) -> np.ndarray:
        """Cosine of ``vector`` with each row of ``vectors_all``."""
        v = np.asarray(vector, dtype=np.float64)
        m = np.asarray(vectors_all, dtype=np.float64)
        return (m @ v) / (np.linalg.norm(m, axis=1) * np.linalg.norm(v))

    def distances(self, word_or_vector: Key, other_words: Sequence[str] = ()) -> np.ndarray:
        """1 - cosine from a word or vector to ``other_words`` (default: every word)."""
        v = self.get_vector(word_or_vector) if isinstance(word_or_vector, str) else np.asarray(word_or_vector)
        if not other_words:   # every word: one product with the matrix, divided by cached norms
            norm = np.linalg.norm(v)
            return 1.0 - self._scores(v / (norm if norm > 0 else 1.0), None).astype(np.float64)
        return 1.0 - self.cosine_similarities(v, self[list(other_words)])

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine between the means of two sets of words' vectors."""
        if not len(ws1) or not len(ws2):
            raise ConfigError("n_similarity needs at least one word on each side")
        a, b = self[list(ws1)].mean(axis=0), self[list(ws2)].mean(axis=0)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    def get_mean_vector(self, keys: Sequence[Key], weights: Sequence[float] | None = None,
                        pre_normalize: bool = True, post_normalize: bool = False,
                        ignore_missing: bool = True) -> np.ndarray:
        """Weighted mean (divided by the sum of |weights|, as gensim) of words' vectors (unit
        ones with ``pre_normalize``) and raw vectors; unknown words are skipped
        (``ignore_missing``) or raise KeyError."""
        if isinstance(keys, str) or (isinstance(keys, np.ndarray) and keys.ndim == 1):
            keys = [keys]
        if len(keys) == 0:
            raise ConfigError("cannot compute the mean of no vectors")
        w = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
        if len(w) != len(keys):
            raise ConfigError(f"{len(keys)} keys but {len(w)} weights")
        total = np.zeros(self.dim, dtype=np.float64)
        total_weight = 0.0
        for key, weight in zip(keys, w):
            if isinstance(key, np.ndarray):
                total += weight * key
            elif key in self:
                total += weight * self.get_vector(key, norm=pre_normalize)
            elif not ignore_missing:
                self.index_of(key)
                continue
            else:
                continue
            total_weight += abs(weight)
        mean = (total / total_weight if total_weight > 0 else total).astype(np.float32)
        if post_normalize:
            norm = np.linalg.norm(mean)
            mean = mean / norm if norm > 0 else mean
        return mean

    def _query_terms(self, positive, negative) -> tuple[list[tuple[Key, float]], set[int]]:
        """gensim's conventions: a word, a vector, or (word, weight); a single word or vector
        may stand without a list. Positive terms weigh +1, negative -1."""
        def as_list(x):
            if x is None:
                return []
            if isinstance(x, str) or (isinstance(x, np.ndarray) and x.ndim == 1):
                return [x]
            return list(x)
        terms: list[tuple[Key, float]] = []
        for items, sign in ((as_list(positive), 1.0), (as_list(negative), -1.0)):
            for item in items:
                if isinstance(item, tuple):
                    terms.append((item[0], float(item[1])))
                elif isinstance(item, (str, np.ndarray)):
                    terms.append((item, sign))
                else:
                    raise ConfigError(f"a query term must be a word, a vector or (word, weight); "
                                      f"got {type(item).__name__}")
        if not terms:
            raise ConfigError("most_similar needs at least one word or vector")
        exclude = {self.index_of(k) for k, _ in terms if isinstance(k, str)}
        return terms, exclude

    def most_similar(self, positive: Key | Sequence = (), negative: Key | Sequence = (),
                     topn: int | None = 10, restrict_vocab: int | None = None
                     ) -> list[tuple[str, float]] | np.ndarray:
        """Words closest (cosine) to the weighted mean of the positive unit vectors minus the
        negative ones (3CosAdd); query words are left out. Terms are words, vectors or (word,
        weight) pairs. ``restrict_vocab``: search only the first N (most frequent) words.
        ``topn=None``: the similarity of every word, as an array (gensim's convention)."""
        topn = _check_topn(topn)
        terms, exclude = self._query_terms(positive, negative)
        query = self.get_mean_vector([k for k, _ in terms], [w for _, w in terms],
                                     pre_normalize=True, post_normalize=True, ignore_missing=False)
        if topn is not None and self._indexed:
            return self._search(query, exclude, topn, restrict_vocab)
        scores = self._scores(query, restrict_vocab)
        if topn is None:
            return scores
        return self._top(scores, exclude, topn)

    @property
    def _indexed(self) -> bool:
        """Rows behind an IVF index: top-n queries read only the probed cells."""
        return isinstance(self.vectors, PQRows) and self.vectors.ivf is not None

    def _search(self, query: np.ndarray, exclude: Iterable[int], topn: int,
                restrict_vocab: int | None) -> list[tuple[str, float]]:
        assert isinstance(self.vectors, PQRows)
        n = min(len(self), restrict_vocab) if restrict_vocab else len(self)
        ids, scores = self.vectors.search(query, topn, n, exclude)
        return [(self._words[i], s) for i, s in zip(ids.tolist(), scores.tolist())]

    def similar_by_word(self, word: str, topn: int | None = 10, restrict_vocab: int | None = None):
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_vector(self, vector: np.ndarray, topn: int | None = 10, restrict_vocab: int | None = None):
        return self.most_similar(positive=[np.asarray(vector)], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word

    def most_similar_cosmul(self, positive: Key | Sequence = (), negative: Key | Sequence = (),
                            topn: int | None = 10, restrict_vocab: int | None = None):
        """3CosMul (Levy & Goldberg 2014): prod (1+cos(w,p))/2 / prod ((1+cos(w,n))/2 + 1e-6)."""
        topn = _check_topn(topn)
        terms, exclude = self._query_terms(positive, negative)

        def unit(k):
            v = self.get_vector(k, norm=True) if isinstance(k, str) else np.asarray(k, np.float32)
            return v / (np.linalg.norm(v) or 1.0)
        pos = [(1 + self._scores(unit(k), restrict_vocab)) / 2 for k, w in terms if w > 0]
        neg = [(1 + self._scores(unit(k), restrict_vocab)) / 2 for k, w in terms if w <= 0]
        scores = np.prod(pos, axis=0) if pos else np.ones(min(len(self), restrict_vocab or len(self)))
        if neg:
            scores = scores / (np.prod(neg, axis=0) + 1e-6)
        scores = np.asarray(scores)
        return scores if topn is None else self._top(scores, exclude, topn)

    def _top(self, scores: np.ndarray, exclude: Iterable[int], topn: int) -> list[tuple[str, float]]:
        scores = scores.copy()
        for i in exclude:
            if i < len(scores):
                scores[i] = -np.inf
        topn = min(topn, len(scores))
        if topn == 0:
            return []
        if scores.dtype == np.float32 and topn < len(scores):   # one pass through a k-heap (numba)
            from ._kernels import top_k_pop, top_k_push
            heap_v, heap_i = np.empty((1, topn), np.float32), np.empty((1, topn), np.int64)
            sizes = np.zeros(1, np.int64)
            top_k_push(scores.reshape(1, -1), 0, np.full(1, -1, np.int64), heap_v, heap_i, sizes)
            best = top_k_pop(heap_v, heap_i, sizes)[0][0]
            best = best[best >= 0]
        else:
            best = np.argpartition(-scores, topn - 1)[:topn] if topn < len(scores) else np.arange(len(scores))
            best = best[np.argsort(-scores[best], kind="stable")]
        return [(self._words[i], float(scores[i])) for i in best.tolist() if np.isfinite(scores[i])]

    def closer_than(self, a: str, b: str) -> list[str]:
        """Every word closer to ``a`` than ``b`` is (``a`` left out)."""
        d = self.distances(a)
        ia, ib = self.index_of(a), self.index_of(b)
        return [self._words[i] for i in np.flatnonzero(d < d[ib]).tolist() if i != ia]

    def rank(self, a: str, b: str) -> int:
        """Rank of ``b`` among ``a``'s neighbours (1 = closest)."""
        return len(self.closer_than(a, b)) + 1

    def most_similar_to_given(self, word: str, candidates: Sequence[str]) -> str:
        """The candidate closest to ``word``."""
        return candidates[int(np.argmax([self.similarity(word, c) for c in candidates]))]

    def relative_cosine_similarity(self, a: str, b: str, topn: int = 10) -> float:
        """cos(a, b) over the sum of ``a``'s ``topn`` best cosines (Leeuwenberg et al. 2016)."""
        sims = self.similar_by_word(a, topn)
        return float(self.similarity(a, b) / sum(s for _, s in sims))

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of the others' unit vectors."""
        if isinstance(words, str):
            raise ConfigError("doesnt_match takes a list of words, not one string")
        known = [w for w in words if w in self]
        if len(known) < 2:
            raise ConfigError("doesnt_match needs at least two known words")
        vecs = self.unit_rows(np.array([self.index_of(w) for w in known]))
        mean = vecs.mean(axis=0)
        mean /= np.linalg.norm(mean) or 1.0
        return known[int(np.argmin(vecs @ mean))]

    def neighbors(self, words: Sequence[str], k: int = 10, restrict_vocab: int | None = None,
                  batch: int = 256) -> list[list[tuple[str, float]]]:
        """The ``k`` nearest neighbours of many words at once. Queries go ``batch`` at a time
        and the vocabulary in blocks, each block one BLAS product whose scores feed running
        top-k heaps (numba): memory stays bounded (about 16 MB of scores) whatever the
        vocabulary size; an IVF index answers query by query. Unknown words raise KeyError."""
        from ._kernels import top_k_pop, top_k_push
        if isinstance(words, str):
            raise ConfigError("neighbors takes a list of words; for one word write neighbors([word])")
        k = _check_topn(k) or 0
        idx = np.array([self.index_of(w) for w in words], dtype=np.int64)
        if self._indexed:                             # an index: only the probed cells, queries in parallel
            assert isinstance(self.vectors, PQRows)
            n = min(len(self), restrict_vocab) if restrict_vocab else len(self)
            out_: list[list[tuple[str, float]]] = []
            for g in range(0, len(idx), batch):
                ids, scores = self.vectors.search_many(self.unit_rows(idx[g:g + batch]), k, n, idx[g:g + batch])
                out_.extend([(self._words[i], s) for i, s in zip(row_i, row_s) if i >= 0]
                            for row_i, row_s in zip(ids.tolist(), scores.tolist()))
            return out_
        n_search = min(len(self), restrict_vocab) if restrict_vocab else len(self)
        norms = self.norms
        cols = max(1024, SCORE_BLOCK_VALUES // max(batch, 1))
        kk = min(k, n_search)
        group = batch * _BATCHES_PER_BLOCK
        out: list[list[tuple[str, float]]] = []
        for g in range(0, len(idx), group):          # a group of queries shares each read of a block of rows
            gi = idx[g:g + group]
            queries = self.unit_rows(gi).astype(self.vectors.dtype, copy=False)
            heap_v = np.empty((len(gi), kk), dtype=np.float32)
            heap_i = np.empty((len(gi), kk), dtype=np.int64)
            sizes = np.zeros(len(gi), dtype=np.int64)
            for lo in range(0, n_search, cols):      # compressed rows are decoded once per block and group
                hi = min(n_search, lo + cols)
                block = self.vectors[lo:hi]
                for start in range(0, len(gi), batch):
                    b = slice(start, start + batch)
                    scores = (queries[b] @ block.T) / norms[lo:hi]   # [batch, cols], one BLAS call
                    top_k_push(scores, lo, gi[b], heap_v[b], heap_i[b], sizes[b])   # the query word is skipped
            best, best_scores = top_k_pop(heap_v, heap_i, sizes)
            words_ = self._words
            out.extend([(words_[c], s) for c, s in zip(row_i, row_s) if c >= 0]
                       for row_i, row_s in zip(best.tolist(), best_scores.tolist()))
        return out

    def word_classes(self, k: int, iterations: int = 10) -> np.ndarray:
        """Word classes by k-means over the unit vectors, as the word2vec C tool's ``-classes``:
        word i starts in class i mod k; each round the class centroids are averaged and scaled
        to unit length and every word moves to the centroid of largest dot product. Returns
        int64 [n_words]."""
        if not 1 <= k <= len(self):
            raise ConfigError(f"classes must be between 1 and the {len(self)} words, got {k}")
        assign = np.arange(len(self)) % k
        step = max(1, SCORE_BLOCK_VALUES // max(k, 1))
        for _ in range(iterations):
            cent = np.zeros((k, self.dim), dtype=np.float64)
            for lo in range(0, len(self), step):    # class sums: sort the block by class, add runs
                cls = assign[lo:lo + step]
                order = np.argsort(cls, kind="stable")
                present, starts = np.unique(cls[order], return_index=True)
                cent[present] += np.add.reduceat(self.unit_rows(slice(lo, lo + step))[order], starts, axis=0)
            norms = np.linalg.norm(cent, axis=1, keepdims=True)
            cent = (cent / np.where(norms > 0, norms, 1.0)).astype(np.float32)
            for lo in range(0, len(self), step):
                assign[lo:lo + step] = np.argmax(self.unit_rows(slice(lo, lo + step)) @ cent.T, axis=1)
        return assign

    # ------------------------------------------------------------------ evaluation
    def evaluate_pairs(self, path: str | os.PathLike, delimiter: str = "\t",
                       case_insensitive: bool = True, dummy4unknown: bool = False) -> dict:
        """Spearman and Pearson correlation between cosine similarity and human scores for a
        WordSim-353 / SimLex-999 style file (``word1 word2 score`` lines; ``#`` comments):
        a dict with ``pearson``, ``spearman``, their two-sided p-values ``pearson_p`` and
        ``spearman_p``, ``pairs``, ``oov_ratio`` (a fraction)."""
        from .evaluate import word_pairs
        return word_pairs(self, path, delimiter, case_insensitive, dummy4unknown)

    def evaluate_word_pairs(self, pairs: str | os.PathLike, delimiter: str = "\t", restrict_vocab: int = 300000,
                            case_insensitive: bool = True, dummy4unknown: bool = False
                            ) -> tuple[tuple[float, float], tuple[float, float], float]:
        """gensim's call and result: ``((pearson, p-value), (spearman, p-value), oov %)``
        (``restrict_vocab`` is accepted for its signature; every word is looked up). lmkit's
        dict: :meth:`evaluate_pairs`."""
        r = self.evaluate_pairs(pairs, delimiter, case_insensitive, dummy4unknown)
        return (r["pearson"], r["pearson_p"]), (r["spearman"], r["spearman_p"]), 100.0 * r["oov_ratio"]

    def evaluate_analogies(self, path: str | os.PathLike, restrict_vocab: int = 30000,
                           case_insensitive: bool = True, dummy4unknown: bool = False) -> dict:
        """Accuracy on a Google analogy file (``: section`` lines, then ``a b c d``): 3CosAdd
        over the ``restrict_vocab`` most frequent words; questions with a word outside them
        are skipped and counted (``dummy4unknown``: counted as wrong)."""
        from .evaluate import analogies
        return analogies(self, path, restrict_vocab, case_insensitive, dummy4unknown=dummy4unknown)

    def evaluate_word_analogies(self, analogies: str | os.PathLike, restrict_vocab: int = 300000,
                                case_insensitive: bool = True, dummy4unknown: bool = False
                                ) -> tuple[float, list[dict]]:
        """gensim's call: (accuracy, sections), each section a dict with ``section``,
        ``correct`` and ``incorrect`` counts, the last one "Total accuracy"."""
        r = self.evaluate_analogies(analogies, restrict_vocab, case_insensitive, dummy4unknown)
        sections = [{"section": x["section"], "correct": x["correct"], "incorrect": x["incorrect"]}
                    for x in r["sections"]]
        sections.append({"section": "Total accuracy", "correct": r["correct"],
                         "incorrect": r["tried"] - r["correct"]})
        return r["accuracy"], sections

    # ------------------------------------------------------------------ files
    def save_word2vec_format(self, path: str | os.PathLike, binary: bool = False, write_header: bool = True,
                             fvocab: str | os.PathLike | None = None) -> None:
        """The word2vec C tool's format (text or binary, ``.gz`` compresses), written
        atomically; text keeps every float32 exactly (9 significant digits). ``fvocab``:
        also write the words' counts as ``word count`` lines."""
        from .w2v_format import write_word2vec
        vectors = self.vectors if isinstance(self.vectors, np.ndarray) else np.asarray(self.vectors)   # decoded
        write_word2vec(path, self.words, vectors, binary, write_header, fvocab, self.counts)

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike, binary: bool | None = None,
                             unicode_errors: str = "strict", limit: int | None = None,
                             no_header: bool = False, fvocab: str | os.PathLike | None = None,
                             datatype: type = np.float32) -> KeyedVectors:
        """Read the C tool's text or binary format (``binary=None``: detected from the first
        entries, an error when they fit neither or both). ``limit``: the first N vectors only;
        ``no_header``: GloVe's text files; ``fvocab``: counts from a ``word count`` file;
        ``unicode_errors``: ``strict`` raises naming the entry, ``replace``/``ignore`` as in
        bytes.decode; ``datatype``: the vectors' dtype."""
        from .w2v_format import read_vocab_counts, read_word2vec
        words, vectors = read_word2vec(path, binary, unicode_errors, limit, no_header, datatype)
        counts = None
        if fvocab is not None:
            table = read_vocab_counts(fvocab)
            counts = np.array([table.get(w, 0) for w in words], dtype=np.int64)
        try:
            return cls(words, vectors, counts)
        except ModelFormatError:   # duplicates: gensim keeps the first of each; so do we
            pass
        seen: dict[str, int] = {}
        for i, w in enumerate(words):
            seen.setdefault(w, i)
        if len(seen) != len(words):
            log.warning("%s: %d duplicate words (after decoding); keeping the first of each",
                        path, len(words) - len(seen))
            keep = sorted(seen.values())
            words = [words[i] for i in keep]
            vectors = vectors[keep]
            counts = counts[keep] if counts is not None else None
        return cls(words, vectors, counts)

    def save(self, folder: str | os.PathLike) -> None:
        """Native format: ``vectors.npy`` (memory-mapped at load), the words as one UTF-8 blob
        with offsets and a hash table (looked up in place: opening a folder reads no
        vocabulary), ``meta.json``; the folder is replaced as a whole in one step."""
        meta = {"format": NATIVE_FORMAT, "version": NATIVE_VERSION, "n_words": len(self), "dim": self.dim}
        with atomic_folder(folder) as tmp:
            if isinstance(self.vectors, Int8Rows):
                np.save(tmp / "codes.npy", np.asarray(self.vectors.codes))
                np.save(tmp / "scales.npy", np.asarray(self.vectors.scales))
                np.save(tmp / "offset.npy", np.asarray(self.vectors.offset))
                meta.update(version=COMPRESSED_VERSION, encoding="int8")
            elif isinstance(self.vectors, PQRows):
                pq = self.vectors
                np.save(tmp / "codes.npy", np.asarray(pq.codes))
                np.save(tmp / "codebooks.npy", np.asarray(pq.codebooks))
                np.save(tmp / "offset.npy", np.asarray(pq.offset))
                meta.update(version=COMPRESSED_VERSION, encoding="pq")
                if isinstance(pq.refine, Int8Rows):
                    np.save(tmp / "refine_codes.npy", np.asarray(pq.refine.codes))
                    np.save(tmp / "refine_scales.npy", np.asarray(pq.refine.scales))
                    np.save(tmp / "refine_offset.npy", np.asarray(pq.refine.offset))
                    meta.update(refine="int8", rerank=pq.rerank)
                elif pq.refine is not None:
                    np.save(tmp / "refine_vectors.npy", np.asarray(pq.refine, dtype=np.float32))
                    meta.update(refine="float32", rerank=pq.rerank)
                if pq.ivf is not None:
                    np.save(tmp / "ivf_cells.npy", np.asarray(pq.ivf.cells))
                    np.save(tmp / "ivf_lists.npy", np.asarray(pq.ivf.lists))
                    np.save(tmp / "ivf_starts.npy", np.asarray(pq.ivf.starts))
                    meta.update(ivf=pq.ivf.nlist, nprobe=pq.nprobe)
            else:
                np.save(tmp / "vectors.npy", np.asarray(self.vectors, dtype=np.float32))
            meta["crc32"] = write_mapped_words(tmp, self.words)
            with open(tmp / "meta.json", "w", encoding="utf-8") as out:
                json.dump(meta, out)

    @classmethod
    def load(cls, path: str | os.PathLike, mmap: bool = True, limit: int | None = None) -> KeyedVectors:
        """Load vectors: a native folder (memory-mapped), or a word2vec text/binary file."""
        path = Path(path)
        if path.is_dir():
            return cls._load_native(path, mmap, limit)
        if not path.exists():
            raise ModelFormatError(f"{path}: no such vectors file")
        return cls.load_word2vec_format(path, limit=limit)

    @classmethod
    def _load_native(cls, folder: Path, mmap: bool, limit: int | None) -> KeyedVectors:
        meta = _read_native_meta(folder)
        n, dim = meta["n_words"], meta["dim"]
        vectors: np.ndarray | Int8Rows | PQRows
        if meta["version"] == COMPRESSED_VERSION:
            vectors = _load_pq(folder, meta, n, dim, mmap) if meta.get("encoding") == "pq" else \
                _load_int8(folder, meta, n, dim, mmap)
        else:
            vectors = load_npy(folder / "vectors.npy", mmap=mmap)
            if vectors.shape != (n, dim) or vectors.dtype != np.float32:
                raise ModelFormatError(f"{folder}: meta.json says {n} x {dim} float32; vectors.npy holds "
                                       f"{vectors.shape} {vectors.dtype}")
        words: Sequence[str] | MappedWords
        if meta["version"] == 1:
            try:
                words = (folder / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
            except FileNotFoundError:
                raise ModelFormatError(f"{folder}: words.txt is missing; not a complete vectors folder") from None
            except UnicodeDecodeError:
                raise ModelFormatError(f"{folder}/words.txt: not valid UTF-8") from None
            if len(words) != n:
                raise ModelFormatError(f"{folder}: meta.json says {n} words, words.txt holds {len(words)}")
        else:
            crc = meta.get("crc32")
            words = MappedWords.open(folder, n, crc if isinstance(crc, dict) else None)
        if limit is not None and limit < n:
            words = list(words)[:limit] if not isinstance(words, MappedWords) else words.tolist()[:limit]
            vectors = vectors[:limit] if isinstance(vectors, np.ndarray) else vectors.head(limit)
        return cls(words, vectors)

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words x {self.dim})"



def _load_pq(folder: Path, meta: dict, n: int, dim: int, mmap: bool) -> PQRows:
    """A product-quantised folder's codes, codebooks and offset, shapes, types and values checked."""
    codes = load_npy(folder / "codes.npy", mmap=mmap)
    books = load_npy(folder / "codebooks.npy")
    offset = load_npy(folder / "offset.npy")
    m = books.shape[0] if books.ndim == 3 else 0
    if codes.dtype != np.uint8 or codes.shape != (n, m) or books.dtype != np.float32 or m == 0 or dim % m \
            or books.shape != (m, PQ_CENTROIDS, dim // m) or offset.shape != (dim,) or offset.dtype != np.float32:
        raise ModelFormatError(f"{folder}: meta.json says {n} x {dim}; the PQ files hold codes {codes.shape} "
                               f"{codes.dtype}, codebooks {books.shape} {books.dtype}, offset {offset.shape} "
                               f"{offset.dtype} (want uint8 [n, M], float32 [M, {PQ_CENTROIDS}, dim / M], "
                               "float32 [dim])")
    if not np.all(np.isfinite(books)) or not np.all(np.isfinite(offset)):
        raise ModelFormatError(f"{folder}: impossible PQ codebooks or offset (not finite)")
    ivf, nprobe = _load_ivf(folder, meta, n, dim, mmap)
    kept, rerank = meta.get("refine"), meta.get("rerank")
    if kept is None and rerank is None:
        return PQRows(codes, books, offset, ivf=ivf, nprobe=nprobe)
    if kept not in ("int8", "float32") or not (type(rerank) is int and rerank >= 1):
        raise ModelFormatError(f"{folder}/meta.json: refine {kept!r} / rerank {rerank!r} (want int8 or float32, "
                               "and a whole number >= 1)")
    refine: np.ndarray | Int8Rows
    if kept == "int8":
        refine = _int8_files(folder, "refine_", n, dim, mmap)
    else:
        refine = load_npy(folder / "refine_vectors.npy", mmap=mmap)
        if refine.shape != (n, dim) or refine.dtype != np.float32:
            raise ModelFormatError(f"{folder}: meta.json says {n} x {dim}; refine_vectors.npy holds {refine.shape} "
                                   f"{refine.dtype} (want float32)")
    return PQRows(codes, books, offset, refine, rerank, ivf, nprobe)


def _load_ivf(folder: Path, meta: dict, n: int, dim: int, mmap: bool) -> tuple[InvertedLists | None, int]:
    """An IVF folder's cells, lists and starts (a partition of the n rows into the cells),
    and its nprobe; (None, 8) without an index."""
    nlist, nprobe = meta.get("ivf"), meta.get("nprobe")
    if nlist is None and nprobe is None:
        return None, 8
    if not (type(nlist) is int and nlist >= 1 and type(nprobe) is int and nprobe >= 1):
        raise ModelFormatError(f"{folder}/meta.json: ivf {nlist!r} / nprobe {nprobe!r} (want whole numbers >= 1)")
    cells = load_npy(folder / "ivf_cells.npy")
    lists = load_npy(folder / "ivf_lists.npy", mmap=mmap)
    starts = load_npy(folder / "ivf_starts.npy")
    if cells.shape != (nlist, dim) or cells.dtype != np.float32 or lists.shape != (n,) or lists.dtype != np.int64 \
            or starts.shape != (nlist + 1,) or starts.dtype != np.int64:
        raise ModelFormatError(f"{folder}: meta.json says {n} x {dim} in {nlist} cells; the IVF files hold cells "
                               f"{cells.shape} {cells.dtype}, lists {lists.shape} {lists.dtype}, starts "
                               f"{starts.shape} {starts.dtype} (want float32 [nlist, dim], int64 [n], int64 "
                               "[nlist + 1])")
    if not np.all(np.isfinite(cells)) or starts[0] != 0 or starts[-1] != n or np.any(np.diff(starts) < 0) \
            or (n and (lists.min() < 0 or lists.max() >= n or np.any(np.bincount(lists, minlength=n) != 1))):
        raise ModelFormatError(f"{folder}: impossible IVF index (cells not finite, or the lists are not each row "
                               "once in cells that cover the rows in order)")
    return InvertedLists(cells, lists, starts), nprobe


def _load_int8(folder: Path, meta: dict, n: int, dim: int, mmap: bool) -> Int8Rows:
    """A compressed folder's codes and scales, their shapes, types and values checked."""
    if meta.get("encoding") != "int8":
        raise ModelFormatError(f"{folder}/meta.json: encoding {meta.get('encoding')!r} is not one this lmkit "
                               "reads (int8, pq)")
    return _int8_files(folder, "", n, dim, mmap)


def _int8_files(folder: Path, prefix: str, n: int, dim: int, mmap: bool) -> Int8Rows:
    """Int8 rows from ``{prefix}codes.npy``, ``scales.npy`` and ``offset.npy``, checked."""
    codes = load_npy(folder / f"{prefix}codes.npy", mmap=mmap)
    scales = load_npy(folder / f"{prefix}scales.npy", mmap=mmap)
    offset = load_npy(folder / f"{prefix}offset.npy")
    if codes.shape != (n, dim) or codes.dtype != np.int8 or scales.shape != (n,) or scales.dtype != np.float32 \
            or offset.shape != (dim,) or offset.dtype != np.float32:
        raise ModelFormatError(f"{folder}: meta.json says {n} x {dim} int8 codes, {n} float32 scales and a float32 "
                               f"offset of {dim}; {prefix}codes/scales/offset.npy hold {codes.shape} {codes.dtype}, "
                               f"{scales.shape} {scales.dtype} and {offset.shape} {offset.dtype}")
    if not np.all(np.isfinite(scales)) or np.any(scales < 0) or not np.all(np.isfinite(offset)) \
            or (n and np.any(np.asarray(codes) == -128)):
        raise ModelFormatError(f"{folder}: impossible {prefix}int8 rows (a scale negative or not finite, an offset not "
                               "finite, or a code -128)")
    return Int8Rows(codes, scales, offset)


def _read_native_meta(folder: Path) -> dict:
    meta = read_format_json(folder / "meta.json", NATIVE_FORMAT, (1, 2, COMPRESSED_VERSION), "an lmkit vectors folder")
    n, dim = meta.get("n_words"), meta.get("dim")
    if not (type(n) is int and type(dim) is int and n >= 0 and 0 < dim <= 1 << 16):
        raise ModelFormatError(f"{folder}/meta.json: n_words/dim must be whole numbers, got {n!r} x {dim!r}")
    return meta


def _check_topn(topn):
    """gensim's topn: None (all), or a whole number >= 0."""
    if topn is None:
        return None
    if isinstance(topn, bool) or not isinstance(topn, (int, np.integer)) or topn < 0:
        raise ConfigError(f"topn must be a whole number >= 0 (or None for all), got {topn!r}")
    return int(topn)
