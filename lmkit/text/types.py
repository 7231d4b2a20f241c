"""Numbering the distinct tokens of a stream in order of first appearance, block by block:
as UTF-8 bytes in numba (no Python string per token) for whitespace-tokenized corpus files,
or through the tokenizer's strings for anything else."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain

import numpy as np

from .corpus import Corpus, as_token_blocks


def utf8_blob(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every string's UTF-8 bytes concatenated (uint8) and int64 offsets ``[len(strings) + 1]``:
    string ``i`` is ``blob[offsets[i]:offsets[i + 1]]`` (how kernels and files hold words)."""
    encoded = [w.encode("utf-8") for w in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


#: the text layer's byte hash (FNV-1a, then a multiplicative mix) and the word index's 32-bit
#: halves, shared by the numba kernels and the numpy lookup (:mod:`lmkit.text.index_lookup`)
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
HASH_MIX = np.uint64(0x9E3779B97F4A7C15)
LOW32 = np.uint64(0xFFFFFFFF)


def word_index_size(n: int) -> int:
    """Slots of the word index of ``n`` words (:func:`lmkit.text._kernels.build_word_index`):
    1.25 a word (a lookup of a listed word reads 3 slots on average, in one cache line or two)."""
    return n + n // 4 + 1


#: the most words a word index of 32-bit slots holds (24-bit ids; every bit set marks an empty slot)
NARROW_INDEX_WORDS = (1 << 24) - 2


def word_index_dtype(n: int) -> type:
    """The slot type of the word index of ``n`` words: uint32 (the word's hash's top 8 bits
    above its 24-bit id: 5 bytes a word) up to :data:`NARROW_INDEX_WORDS` words, else int64
    (32 bits of hash above a 32-bit id)."""
    return np.uint32 if n <= NARROW_INDEX_WORDS else np.int64


def build_word_index(blob: np.ndarray, offsets: np.ndarray, dtype: type | None = None) -> tuple[np.ndarray, int]:
    """(index, the first id whose word is listed before it or -1) of the words ``blob[offsets[t]:
    offsets[t + 1]]``: :func:`lmkit.text._kernels.build_word_index` over slots of ``dtype``
    (default :func:`word_index_dtype`)."""
    from ._kernels import build_word_index as fill  # numba only when an index is built
    n = len(offsets) - 1
    dtype = word_index_dtype(n) if dtype is None else dtype
    if dtype is np.uint32 and n > NARROW_INDEX_WORDS:
        raise ValueError(f"{n} words do not fit a word index of 32-bit slots")
    index: np.ndarray = np.full(word_index_size(n), np.iinfo(dtype).max if dtype is np.uint32 else -1, dtype=dtype)
    return index, int(fill(blob, offsets, index))


def utf8_strings(blob: np.ndarray, offsets: np.ndarray, start: int = 0, stop: int | None = None) -> list[str]:
    """Strings ``start..stop-1`` of a :func:`utf8_blob` (strict UTF-8)."""
    stop = len(offsets) - 1 if stop is None else stop
    raw = blob[: offsets[stop]].tobytes()
    off = offsets[start: stop + 1].tolist()
    if raw.isascii():     # one decode: byte offsets are character offsets
        text = raw.decode("ascii")
        return [text[a:b] for a, b in zip(off, off[1:])]
    return [raw[a:b].decode("utf-8") for a, b in zip(off, off[1:])]


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
        return utf8_strings(self._blob, self._offsets, start, self._n)


class _FirstSeenIds(dict):
    """token -> id in order of first appearance; looking up a new token adds it."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    def __missing__(self, token: str) -> int:
        i = self[token] = len(self)
        self.order.append(token)
        return i


class _PythonTypes:
    """Tokens of any corpus, by the tokenizer's Python strings."""

    def __init__(self) -> None:
        self._seen = _FirstSeenIds()

    def __len__(self) -> int:
        return len(self._seen)

    def blocks(self, data) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per block: ids in order of first appearance (int32), tokens per sentence (int64)."""
        seen = self._seen
        lookup = seen.__getitem__
        for block in as_token_blocks(data):
            flat = list(chain.from_iterable(block))
            new = [t for t in dict.fromkeys(flat) if t not in seen]   # numbered in bulk, not one by one
            seen.update(zip(new, range(len(seen), len(seen) + len(new))))
            seen.order.extend(new)
            yield (np.fromiter(map(lookup, flat), dtype=np.int32, count=len(flat)),
                   np.fromiter(map(len, block), dtype=np.int64, count=len(block)))

    def tokens(self, start: int = 0) -> list[str]:
        return self._seen.order[start:]


class _ByteTypes(TypeTable):
    """Tokens of a whitespace-tokenized corpus file, split and looked up as bytes in numba."""

    def blocks(self, data: Corpus | Iterable[Sequence[str]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        assert isinstance(data, Corpus)   # types_for chooses this class for files only
        for raw in data.utf8_blocks():
            yield self.feed(raw)


def types_for(data, numba: bool = True) -> _PythonTypes | _ByteTypes:
    """The fastest way to number the tokens of ``data``: bytes in numba for a whitespace-
    tokenized corpus file (case kept) unless ``numba`` is False, the tokenizer's strings
    otherwise."""
    fast = numba and isinstance(data, Corpus) and data.tokenizer.mode == "whitespace" \
        and not data.tokenizer.lowercase
    return _ByteTypes() if fast else _PythonTypes()
