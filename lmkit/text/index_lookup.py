"""Whitespace tokens of UTF-8 text looked up in a stored word index with numpy alone (no
numba): for short processes that score a file with a mapped model, where importing numba
would cost more than the work.

The same tokens as ``str.split()`` (so as the numba tokenizer) and the same ids as
:func:`lmkit.text._kernels.find_word`: the index's hash (FNV-1a and its final mix) is computed
byte position by byte position over every token at once, the probes run over every token at
once, and a hit's bytes are compared with the word's. Blocks holding a byte that may start a
multi-byte space (U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028/9, U+202F, U+205F, U+3000)
are left to the caller (None), which splits them as Python strings.
"""
from __future__ import annotations

import numpy as np

from .types import FNV_OFFSET as _FNV_OFFSET
from .types import FNV_PRIME as _FNV_PRIME
from .types import HASH_MIX as _MIX
from .types import LOW32 as _LOW32

#: slots read in the round after the home slot by the tokens still probing (doubling after),
#: at most _ROUND_SLOTS in all a round (a damaged index without an empty slot would otherwise
#: have every token read up to half the index in one round)
_WIDE = 16
_ROUND_SLOTS = 1 << 20
#: the ASCII characters ``str.split()`` splits at
_SPACE = np.zeros(256, bool)
_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
#: first bytes of the multi-byte characters ``str.split()`` splits at
_WIDE_SPACE_STARTS = (b"\xc2", b"\xe1", b"\xe2", b"\xe3")


def split_and_look_up(raw: bytes, index: np.ndarray, blob: np.ndarray, offsets: np.ndarray,
                      unk: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(ids int32 [tokens], tokens per line int64 [lines]) of ``raw`` (whole lines of valid
    UTF-8; a last line without its newline counts), words not in the index given ``unk``; or
    None when the block may hold a multi-byte space."""
    if any(start in raw for start in _WIDE_SPACE_STARTS):
        return None
    data = np.frombuffer(raw, np.uint8)
    edges = np.diff(np.concatenate(([True], _SPACE[data], [True])).astype(np.int8))
    starts, ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    newlines = np.flatnonzero(data == 10)
    n_lines = len(newlines) + (1 if len(data) and data[-1] != 10 else 0)
    per_line = np.bincount(np.searchsorted(newlines, starts), minlength=n_lines).astype(np.int64)
    ids = look_up(data, starts, ends - starts, index, blob, offsets)
    ids[ids < 0] = unk
    return ids.astype(np.int32), per_line


def look_up(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, index: np.ndarray, blob: np.ndarray,
            offsets: np.ndarray) -> np.ndarray:
    """The id (int64, -1 absent) of each token ``data[starts[i]:starts[i] + lengths[i]]``, as
    :func:`lmkit.text._kernels.find_word` finds it (at most every slot once, ids and their
    offsets checked against the words). The tokens are taken longest first, so that those
    still at a byte position are always a prefix of the ones at hand."""
    short = not len(lengths) or int(lengths.max()) < 2 ** 15   # numpy sorts 16-bit keys by radix: 4-5x faster
    order = np.argsort(-lengths.astype(np.int16) if short else -lengths, kind="stable")
    found = _look_up_sorted(data, starts[order], lengths[order], index, blob, offsets)
    out = np.empty_like(found)
    out[order] = found
    return out


def _look_up_sorted(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, index: np.ndarray,
                    blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """:func:`look_up` of tokens in order of non-increasing length: each token's home slot
    first (where most are found, or found absent), then :data:`_WIDE` slots, then twice as
    many each round (within :data:`_ROUND_SLOTS`), for the few whose probe goes on (a slot at a time, the tail of long
    probes took 67 rounds on Brown's test set; 5 this way)."""
    h = _hashes(data, starts, lengths)
    cap = len(index)
    out = np.full(len(starts), -1, np.int64)
    id_bits, tag_shift, empty = _layout(index)
    pos = (((h & _LOW32) * np.uint64(cap)) >> np.uint64(32)).astype(np.int64)
    todo = np.arange(len(starts))
    tag = h >> np.uint64(tag_shift)
    id_mask = np.uint64((1 << id_bits) - 1)
    n_words = len(offsets) - 1
    probed, width = 0, 1
    while len(todo) and probed < cap:           # every slot read at most once, as the kernel
        width = min(width, cap - probed)
        slots = pos[:, None] + np.arange(width)
        slots[slots >= cap] -= cap
        entry = index[slots].astype(np.uint64)     # [tokens, width]
        filled = entry != empty
        going = filled.all(axis=1)                 # no empty slot among these: the probe goes on
        stop = np.where(going, width, filled.argmin(axis=1))
        row, col = np.nonzero(((entry >> np.uint64(id_bits)) == tag[:, None]) & filled
                              & (np.arange(width) < stop[:, None]))   # row by row, slots in probe order
        word = (entry[row, col] & id_mask).astype(np.int64)
        ok = word < n_words
        row, word = row[ok], word[ok]
        base = offsets[word].astype(np.int64)
        size = lengths[todo[row]]
        ok = (offsets[word + 1].astype(np.int64) - base == size) & (base >= 0) & (base + size <= len(blob))
        row, word, base, size = row[ok], word[ok], base[ok], size[ok]
        ok = _same_bytes(data, starts[todo[row]], blob, base, size)   # rows ascending: still longest first
        row, word = row[ok], word[ok]
        first = np.ones(len(row), bool)            # a token's first match in probe order
        first[1:] = row[1:] != row[:-1]
        row, word = row[first], word[first]
        out[todo[row]] = word
        going[row] = False
        todo, tag, pos = todo[going], tag[going], pos[going] + width
        pos[pos >= cap] -= cap
        probed += width
        width = max(1, min(max(_WIDE, 2 * width), _ROUND_SLOTS // max(len(todo), 1)))
    return out


def _layout(index: np.ndarray) -> tuple[int, int, np.uint64]:
    """(id bits, shift of the hash's tag, empty entry as uint64) of a word index by its slot
    type, as :func:`lmkit.text._kernels._index_layout`."""
    if index.dtype == np.uint32:
        return 24, 56, np.uint64(0xFFFFFFFF)
    return 32, 32, np.uint64(0xFFFFFFFFFFFFFFFF)


def _hashes(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """:func:`lmkit.text._kernels._hash` of every token (uint64; tokens in order of
    non-increasing length): FNV-1a a byte position at a time over the tokens still that long,
    then the final mix."""
    h = np.full(len(starts), _FNV_OFFSET, np.uint64)
    for j, n in enumerate(_longer_than(lengths)):   # n: tokens longer than j bytes
        h[:n] = (h[:n] ^ data[starts[:n] + j]) * _FNV_PRIME
    h ^= h >> np.uint64(32)
    h *= _MIX
    h ^= h >> np.uint64(29)
    return h


def _longer_than(lengths: np.ndarray) -> np.ndarray:
    """For each j below the longest of the non-increasing ``lengths``: how many exceed j."""
    return np.searchsorted(-lengths, -np.arange(int(lengths[0]) if len(lengths) else 0), side="left")


def _same_bytes(data: np.ndarray, starts: np.ndarray, blob: np.ndarray, bases: np.ndarray,
                lengths: np.ndarray) -> np.ndarray:
    """Whether each token's bytes equal the word's at ``bases`` (lengths already equal and
    non-increasing)."""
    same = np.ones(len(starts), bool)
    for j, n in enumerate(_longer_than(lengths)):
        same[:n] &= data[starts[:n] + j] == blob[bases[:n] + j]
    return same
