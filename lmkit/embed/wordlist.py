"""The words of a vectors object: row -> word and word -> row.

:class:`WordList` keeps a Python list and dict. :class:`MappedWords` answers the same calls
from three memory-mapped arrays of a native vectors folder (UTF-8 bytes of all words, their
offsets, and an open-addressing hash table written at save time), so a folder of any size
opens without reading its vocabulary.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .._io import load_npy
from ..errors import ModelFormatError


class WordList:
    """Words in row order, in memory."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(words)
        self.rows = {w: i for i, w in enumerate(self.words)}
        if len(self.rows) != len(self.words):
            raise ModelFormatError("a word appears twice in the vectors")

    def __len__(self) -> int:
        return len(self.words)

    def __getitem__(self, row: int) -> str:
        return self.words[row]

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def row(self, word: str) -> int:
        return self.rows.get(word, -1)

    def append(self, word: str) -> None:
        self.rows[word] = len(self.words)
        self.words.append(word)


class MappedWords:
    """Words as one UTF-8 blob, offsets (int64 [n + 1]) and an open-addressing hash table
    (int64): memory-mapped from a native folder (``words.utf8``, ``word_offsets.npy``,
    ``word_table.npy``), or in memory for a freshly read word2vec binary file. ``folder``
    names the source in messages."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, table: np.ndarray, folder: Path) -> None:
        self.blob, self.offsets, self.table, self.folder = blob, offsets, table, folder
        self._list: list[str] | None = None

    @classmethod
    def open(cls, folder: Path, n: int, checksums: dict | None = None) -> MappedWords:
        try:
            size = (folder / "words.utf8").stat().st_size
        except FileNotFoundError:
            raise ModelFormatError(f"{folder}: words.utf8 is missing; not a complete vectors folder") from None
        blob = np.memmap(folder / "words.utf8", dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        offsets = load_npy(folder / "word_offsets.npy", mmap=True)
        table = load_npy(folder / "word_table.npy", mmap=True)
        cap = len(table)
        if offsets.dtype != np.int64 or offsets.shape != (n + 1,) or table.dtype != np.int64 \
                or table.ndim != 1 or cap < max(16, n) or cap & (cap - 1):
            raise ModelFormatError(f"{folder}: word index does not fit {n} words")
        # a few milliseconds per million words: offsets rise from 0 to the blob's size, the
        # table holds rows or -1
        if offsets[0] != 0 or offsets[-1] != size or np.any(np.diff(offsets) < 0):
            raise ModelFormatError(f"{folder}/word_offsets.npy: offsets do not rise from 0 to the "
                                   f"{size} bytes of words.utf8")
        if cap and (table.min() < -1 or table.max() >= n):
            raise ModelFormatError(f"{folder}/word_table.npy: rows outside 0..{n - 1}")
        for name, arr in (("words.utf8", blob), ("word_offsets.npy", offsets), ("word_table.npy", table)):
            want = (checksums or {}).get(name)
            if want is None or zlib.crc32(np.ascontiguousarray(arr).data) != want:
                raise ModelFormatError(f"{folder}/{name}: checksum does not match meta.json (damaged file)")
        return cls(np.asarray(blob), np.asarray(offsets), np.asarray(table), folder)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row: int) -> str:
        if not -len(self) <= row < len(self):
            raise IndexError(row)
        row %= len(self)
        lo, hi = int(self.offsets[row]), int(self.offsets[row + 1])
        if not 0 <= lo <= hi <= len(self.blob):
            raise ModelFormatError(f"{self.folder}/word_offsets.npy: bad offsets at row {row}")
        return bytes(self.blob[lo:hi]).decode("utf-8", errors="replace")

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        """Every word, decoded once and cached."""
        if self._list is None:
            if np.any(np.diff(self.offsets) < 0):
                raise ModelFormatError(f"{self.folder}/word_offsets.npy: offsets are not increasing")
            data = bytes(self.blob)
            bounds = zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist())
            if data.isascii():
                text = data.decode("ascii")
                self._list = [text[a:b] for a, b in bounds]
            else:
                self._list = [data[a:b].decode("utf-8", errors="replace") for a, b in bounds]
        return self._list

    def row(self, word: str) -> int:
        """The word's row (-1 if absent): its FNV-1a hash picks a slot of the table, probed
        in place (plain Python: a lookup costs microseconds and no compilation)."""
        query = word.encode("utf-8")
        mask = len(self.table) - 1
        slot = fnv1a_bytes(query) & mask
        n = len(self)
        for _ in range(len(self.table)):
            r = int(self.table[slot])
            if r == -1:
                return -1
            if not 0 <= r < n:
                raise ModelFormatError(f"{self.folder}/word_table.npy: row {r} out of range")
            lo, hi = int(self.offsets[r]), int(self.offsets[r + 1])
            if hi - lo == len(query) and self.blob[lo:hi].tobytes() == query:
                return r
            slot = (slot + 1) & mask
        return -1


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211


def fnv1a_bytes(data: bytes) -> int:
    """64-bit FNV-1a (the same as the numba kernel that builds the table)."""
    h = _FNV_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def write_mapped_words(folder: Path, words: Sequence[str]) -> dict[str, int]:
    """The three files of :class:`MappedWords` for ``words``; returns their CRC-32 checksums
    (of the data, for meta.json: opening a folder checks them in a few milliseconds)."""
    from ._kernels import build_word_table
    encoded = [w.encode("utf-8") for w in words]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    blob = b"".join(encoded)
    table, dup = build_word_table(np.frombuffer(blob, np.uint8), offsets)
    if dup >= 0:
        raise ModelFormatError(f"word {words[dup]!r} appears twice in the vectors")
    (folder / "words.utf8").write_bytes(blob)
    np.save(folder / "word_offsets.npy", offsets)
    np.save(folder / "word_table.npy", table)
    return {"words.utf8": zlib.crc32(blob), "word_offsets.npy": zlib.crc32(offsets.data),
            "word_table.npy": zlib.crc32(table.data)}
