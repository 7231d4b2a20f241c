"""Word vectors and the queries people run on them; the word2vec text/binary formats.

:class:`KeyedVectors` knows nothing of training: a word list, a float32 matrix, and a unit-
normalised copy made once for similarity queries.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .._io import atomic_folder, atomic_write, open_binary, read_format_json
from ..errors import ConfigError, ModelFormatError

log = logging.getLogger(__name__)
NATIVE_FORMAT = "lmkit-vectors"
NATIVE_VERSION = 1


class KeyedVectors:
    """Words and their vectors (float32 ``[n_words, dim]``), with similarity queries."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray, counts: np.ndarray | None = None) -> None:
        vectors = vectors if isinstance(vectors, np.ndarray) else np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ConfigError(f"vectors must be [n_words, dim]; got {vectors.shape} for {len(words)} words")
        self.words = list(words)
        self.vectors = vectors
        self.counts = counts
        self.stoi = {w: i for i, w in enumerate(self.words)}
        if len(self.stoi) != len(self.words):
            raise ModelFormatError("a word appears twice in the vectors")
        self._normed: np.ndarray | None = None

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.stoi

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index_of(word)]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index_of(self, word: str) -> int:
        try:
            return self.stoi[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary ({len(self)} words)") from None

    @property
    def normed(self) -> np.ndarray:
        """Unit-length rows (computed once; zero rows stay zero)."""
        if self._normed is None:
            v = np.asarray(self.vectors, dtype=np.float32)
            norms = np.linalg.norm(v, axis=1, keepdims=True)
            self._normed = v / np.where(norms > 0, norms, 1.0)
        return self._normed

    # ------------------------------------------------------------------ queries
    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        n = self.normed
        return float(n[self.index_of(a)] @ n[self.index_of(b)])

    def _top(self, scores: np.ndarray, exclude: Iterable[int], topn: int) -> list[tuple[str, float]]:
        scores = scores.copy()
        for i in exclude:
            if i < len(scores):
                scores[i] = -np.inf
        topn = min(topn, len(scores))
        best = np.argpartition(-scores, topn - 1)[:topn] if topn < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best if np.isfinite(scores[i])]

    def most_similar(self, positive: Sequence[str] | str = (), negative: Sequence[str] = (),
                     topn: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Words closest (cosine) to the mean of the positive unit vectors minus the negative
        ones (3CosAdd); the query words themselves are left out. ``restrict_vocab``: search
        only the first N words (the most frequent)."""
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = list(negative)
        if not positive and not negative:
            raise ConfigError("most_similar needs at least one word")
        n = self.normed
        query = np.zeros(self.dim, dtype=np.float32)
        for w in positive:
            query += n[self.index_of(w)]
        for w in negative:
            query -= n[self.index_of(w)]
        norm = np.linalg.norm(query)
        query /= norm if norm > 0 else 1.0
        limit = n[:restrict_vocab] if restrict_vocab else n
        scores = limit @ query
        return self._top(scores, [self.stoi[w] for w in positive + negative], topn)

    def most_similar_cosmul(self, positive: Sequence[str] | str = (), negative: Sequence[str] = (),
                            topn: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """3CosMul (Levy & Goldberg 2014): prod (1+cos(w,p))/2 / prod ((1+cos(w,n))/2 + 1e-6)."""
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = list(negative)
        n = self.normed
        limit = n[:restrict_vocab] if restrict_vocab else n
        pos = [(1 + limit @ n[self.index_of(w)]) / 2 for w in positive]
        neg = [(1 + limit @ n[self.index_of(w)]) / 2 for w in negative]
        scores = np.prod(pos, axis=0) / (np.prod(neg, axis=0) + 1e-6) if neg else np.prod(pos, axis=0)
        return self._top(np.asarray(scores), [self.stoi[w] for w in positive + negative], topn)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of the others' unit vectors."""
        known = [w for w in words if w in self.stoi]
        if len(known) < 2:
            raise ConfigError("doesnt_match needs at least two known words")
        vecs = self.normed[[self.stoi[w] for w in known]]
        mean = vecs.mean(axis=0)
        mean /= np.linalg.norm(mean) or 1.0
        return known[int(np.argmin(vecs @ mean))]

    def neighbors(self, words: Sequence[str], k: int = 10, restrict_vocab: int | None = None,
                  batch: int = 1024) -> list[list[tuple[str, float]]]:
        """The ``k`` nearest neighbours of many words at once: one matrix product per batch
        of queries, then a partial sort per row. Unknown words raise KeyError."""
        from ._kernels import top_k_rows
        idx = np.array([self.index_of(w) for w in words], dtype=np.int64)
        n = self.normed
        limit = n[:restrict_vocab] if restrict_vocab else n
        out: list[list[tuple[str, float]]] = []
        for start in range(0, len(idx), batch):
            q = idx[start:start + batch]
            scores = n[q] @ limit.T                       # [b, V], one BLAS call
            best = top_k_rows(scores, k, q)               # the query word itself is skipped
            best_scores = np.take_along_axis(scores, best, axis=1)
            words_ = self.words
            out.extend([(words_[c], s) for c, s in zip(row_i, row_s)]
                       for row_i, row_s in zip(best.tolist(), best_scores.tolist()))
        return out

    # ------------------------------------------------------------------ evaluation
    def evaluate_word_pairs(self, path: str | os.PathLike, delimiter: str = "\t",
                            case_insensitive: bool = True) -> dict:
        """Spearman and Pearson correlation between cosine similarity and human scores for a
        WordSim-353 / SimLex-999 style file (``word1 word2 score`` lines; ``#`` comments)."""
        from .evaluate import word_pairs
        return word_pairs(self, path, delimiter, case_insensitive)

    def evaluate_analogies(self, path: str | os.PathLike, restrict_vocab: int = 30000,
                           case_insensitive: bool = True) -> dict:
        """Accuracy on a Google analogy file (``: section`` lines, then ``a b c d``): 3CosAdd
        over the ``restrict_vocab`` most frequent words; questions with a word outside them
        are skipped and counted."""
        from .evaluate import analogies
        return analogies(self, path, restrict_vocab, case_insensitive)

    # ------------------------------------------------------------------ files
    def save_word2vec_format(self, path: str | os.PathLike, binary: bool = False) -> None:
        """The word2vec C tool's format: a ``count dim`` header, then per word its text and
        the vector (text: space-separated decimals; binary: little-endian float32), each
        entry ending in a newline. ``.gz`` compresses. Written atomically."""
        vecs = np.asarray(self.vectors, dtype="<f4")
        for w in self.words:
            if not w or any(ch.isspace() for ch in w):
                raise ModelFormatError(f"word {w!r} holds white space; the word2vec format cannot store it")
        mode = "wb"
        with atomic_write(path, mode) as out:
            out.write(f"{len(self)} {self.dim}\n".encode())
            if binary:
                for w, v in zip(self.words, vecs):
                    out.write(w.encode("utf-8") + b" " + v.tobytes() + b"\n")
            else:
                for w, v in zip(self.words, vecs):
                    out.write((w + " " + " ".join(f"{x:.6g}" for x in v.tolist()) + "\n").encode("utf-8"))

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike, binary: bool | None = None,
                             unicode_errors: str = "strict", limit: int | None = None) -> "KeyedVectors":
        """Read the C tool's text or binary format (``binary=None`` guesses from the content).
        ``unicode_errors``: what to do with words that are not valid UTF-8 (``strict`` raises
        naming the entry; ``replace``/``ignore`` as in bytes.decode)."""
        with open_binary(path) as f:
            header = f.readline()
            try:
                n, dim = (int(x) for x in header.split())
            except ValueError:
                raise ModelFormatError(f"{path}:1: expected a 'count dim' header, got {header[:60]!r}") from None
            if n < 0 or dim <= 0:
                raise ModelFormatError(f"{path}:1: impossible sizes {n} x {dim}")
            if limit is not None:
                n = min(n, limit)
            if binary is None:
                binary = _looks_binary(f, dim)
            words: list[str] = []
            vectors = np.empty((n, dim), dtype=np.float32)
            for i in range(n):
                if binary:
                    raw = bytearray()
                    while True:
                        ch = f.read(1)
                        if not ch:
                            raise ModelFormatError(f"{path}: truncated: {i} of {n} vectors")
                        if ch == b" ":
                            break
                        if ch != b"\n":
                            raw += ch
                    data = f.read(4 * dim)
                    if len(data) < 4 * dim:
                        raise ModelFormatError(f"{path}: truncated in the vector of entry {i + 1}")
                    vectors[i] = np.frombuffer(data, dtype="<f4")
                    word = _decode(bytes(raw), path, i + 1, unicode_errors)
                else:
                    line = f.readline()
                    parts = line.rstrip(b"\r\n").split(b" ")
                    if not line:
                        raise ModelFormatError(f"{path}: truncated: {i} of {n} vectors")
                    parts = [p for p in parts if p] if len(parts) != dim + 1 else parts
                    if len(parts) != dim + 1:
                        raise ModelFormatError(f"{path}:{i + 2}: expected a word and {dim} numbers, "
                                               f"got {len(parts)} fields")
                    word = _decode(parts[0], path, i + 2, unicode_errors)
                    try:
                        vectors[i] = np.array(parts[1:], dtype=np.float32)
                    except ValueError:
                        raise ModelFormatError(f"{path}:{i + 2}: a vector value is not a number") from None
                words.append(word)
        seen: dict[str, int] = {}
        for i, w in enumerate(words):  # gensim keeps the first of duplicate words; so do we
            seen.setdefault(w, i)
        if len(seen) != len(words):
            log.warning("%s: %d duplicate words (after decoding); keeping the first of each",
                        path, len(words) - len(seen))
            keep = sorted(seen.values())
            words = [words[i] for i in keep]
            vectors = vectors[keep]
        return cls(words, vectors)

    def save(self, folder: str | os.PathLike) -> None:
        """Native format: ``vectors.npy`` (memory-mappable) + ``words.txt`` + ``meta.json``,
        the folder replaced as a whole in one step."""
        with atomic_folder(folder) as tmp:
            np.save(tmp / "vectors.npy", np.asarray(self.vectors, dtype=np.float32))
            with open(tmp / "words.txt", "w", encoding="utf-8", newline="\n") as out:
                out.writelines(w + "\n" for w in self.words)
            with open(tmp / "meta.json", "w", encoding="utf-8") as out:
                json.dump({"format": NATIVE_FORMAT, "version": NATIVE_VERSION, "n_words": len(self),
                           "dim": self.dim}, out)

    @classmethod
    def load(cls, path: str | os.PathLike, mmap: bool = True) -> "KeyedVectors":
        """Load vectors: a native folder (memory-mapped), or a word2vec text/binary file."""
        path = Path(path)
        if path.is_dir():
            read_format_json(path / "meta.json", NATIVE_FORMAT, NATIVE_VERSION, "an lmkit vectors folder")
            words = (path / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
            vectors = np.load(path / "vectors.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
            return cls(words, vectors)
        if not path.exists():
            raise ModelFormatError(f"{path}: no such vectors file")
        return cls.load_word2vec_format(path)

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words x {self.dim})"


def _decode(raw: bytes, path, entry: int, errors: str) -> str:
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}: entry {entry}: word is not valid UTF-8 "
                               f"(pass unicode_errors='replace' or 'ignore')") from None


def _looks_binary(f, dim: int) -> bool:
    """Peek at the first entry: text has ``dim`` numbers after the word on one line."""
    pos = f.tell()
    first = f.readline()
    f.seek(pos)
    parts = first.rstrip(b"\r\n").split(b" ")
    if len(parts) >= dim + 1:
        try:
            [float(x) for x in parts[-dim:]]
            return False
        except ValueError:
            return True
    return True
