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

#: tokens still probing below which the rest are probed one by one in Python
_FEW = 64
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
    """:func:`look_up` of tokens in order of non-increasing length."""
    h = _hashes(data, starts, lengths)
    cap = len(index)
    out = np.full(len(starts), -1, np.int64)
    if cap == 0:
        return out
    id_bits, tag_shift, empty = _layout(index)
    pos = (((h & _LOW32) * np.uint64(cap)) >> np.uint64(32)).astype(np.int64)
    todo = np.arange(len(starts))
    tag = h >> np.uint64(tag_shift)
    id_mask = np.uint64((1 << id_bits) - 1)
    n_words = len(offsets) - 1
    for _ in range(cap):
        if len(todo) <= _FEW:     # the long probes' tail: one token at a time
            for i, p in zip(todo.tolist(), pos.tolist()):
                out[i] = _probe_one(bytes(data[starts[i]:starts[i] + lengths[i]]), int(h[i] >> np.uint64(tag_shift)),
                                    p, index, blob, offsets)
            break
        entry = index[pos].astype(np.uint64)
        filled = entry != empty
        same_tag = filled & ((entry >> np.uint64(id_bits)) == tag)
        hit = np.zeros(len(todo), bool)
        at = np.flatnonzero(same_tag)                 # ascending: still longest first
        word = (entry[at] & id_mask).astype(np.int64)
        ok = word < n_words
        at, word = at[ok], word[ok]
        base = offsets[word].astype(np.int64)
        size = lengths[todo[at]]
        ok = (offsets[word + 1].astype(np.int64) - base == size) & (base >= 0) & (base + size <= len(blob))
        at, word, base, size = at[ok], word[ok], base[ok], size[ok]
        ok = _same_bytes(data, starts[todo[at]], blob, base, size)
        out[todo[at[ok]]] = word[ok]
        hit[at[ok]] = True
        go = ~hit & filled
        todo, pos, tag = todo[go], pos[go] + 1, tag[go]
        pos[pos == cap] = 0
    return out


def _layout(index: np.ndarray) -> tuple[int, int, np.uint64]:
    """(id bits, shift of the hash's tag, empty entry as uint64) of a word index by its slot
    type, as :func:`lmkit.text._kernels._index_layout`."""
    if index.dtype == np.uint32:
        return 24, 56, np.uint64(0xFFFFFFFF)
    return 32, 32, np.uint64(0xFFFFFFFFFFFFFFFF)


def _probe_one(token: bytes, tag: int, pos: int, index: np.ndarray, blob: np.ndarray,
               offsets: np.ndarray) -> int:
    """One token's probe from slot ``pos`` on, as :func:`look_up`'s (id or -1)."""
    cap, n_words = len(index), len(offsets) - 1
    id_bits, _, empty = _layout(index)
    for _ in range(cap):
        entry = int(index[pos]) & 0xFFFFFFFFFFFFFFFF
        if entry == empty:
            return -1
        word = entry & ((1 << id_bits) - 1)
        if entry >> id_bits == tag and word < n_words:
            base, end = int(offsets[word]), int(offsets[word + 1])
            if base >= 0 and end <= len(blob) and blob[base:end].tobytes() == token:
                return word
        pos = pos + 1 if pos + 1 < cap else 0
    return -1


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
