"""numba kernels of the text layer: whitespace tokenising of UTF-8 bytes straight into ids.

The ``whitespace`` tokenizer splits exactly where Python's ``str.split()`` does (every
character ``str.isspace()`` accepts, multi-byte ones included) and lines end at ``\\n``, as the
corpus reader's. Tokens are looked up by their bytes in an open-addressing hash table
(FNV-1a) that grows as new tokens appear: each distinct token gets the next id, in order
of first appearance. Only the distinct tokens ever become Python strings.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .types import FNV_OFFSET as _FNV_OFFSET
from .types import FNV_PRIME as _FNV_PRIME
from .types import HASH_MIX as _MIX
from .types import LOW32 as _LOW32

#: per byte: 0 part of a token, 1 ASCII white space, 2 newline, 3 may start a multi-byte space
BYTE_CLASS = np.zeros(256, dtype=np.uint8)
BYTE_CLASS[[9, 11, 12, 13, 28, 29, 30, 31, 32]] = 1
BYTE_CLASS[10] = 2
BYTE_CLASS[[0xC2, 0xE1, 0xE2, 0xE3]] = 3


@njit(cache=True, nogil=True, inline="always")
def space_length(data, i, n):
    """Bytes of the white-space character starting at ``data[i]`` (0 if it is not one)."""
    b = data[i]
    cls = BYTE_CLASS[b]
    if cls != 3:
        return 1 if cls == 1 else 0
    if b == 0xC2 and i + 1 < n and (data[i + 1] == 0x85 or data[i + 1] == 0xA0):
        return 2
    if i + 2 >= n:
        return 0
    b1, b2 = data[i + 1], data[i + 2]
    if b == 0xE1 and b1 == 0x9A and b2 == 0x80:                        # U+1680
        return 3
    if b == 0xE2 and b1 == 0x80 and (b2 <= 0x8A or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF):
        return 3                                                       # U+2000-200A, 2028, 2029, 202F
    if b == 0xE2 and b1 == 0x81 and b2 == 0x9F:                        # U+205F
        return 3
    if b == 0xE3 and b1 == 0x80 and b2 == 0x80:                        # U+3000
        return 3
    return 0


@njit(cache=True, nogil=True, inline="always")
def _hash(data, lo, hi):
    """FNV-1a over the bytes, then a final mix so that the low bits (the table slot) depend on
    every bit (FNV's low bits alone cluster)."""
    h = _FNV_OFFSET
    for i in range(lo, hi):
        h = (h ^ np.uint64(data[i])) * _FNV_PRIME
    h ^= h >> np.uint64(32)
    h *= _MIX
    h ^= h >> np.uint64(29)
    return h


@njit(cache=True, nogil=True)
def _rehash(table, hashes, n_types):
    """A table twice as large holding the same ids."""
    bigger = np.full(2 * len(table), -1, dtype=np.int64)
    mask = np.uint64(len(bigger) // 2 - 1)
    for t in range(n_types):
        slot = hashes[t] & mask
        while bigger[2 * slot] != -1:
            slot = (slot + np.uint64(1)) & mask
        bigger[2 * slot] = t
        bigger[2 * slot + 1] = np.int64(hashes[t])
    return bigger


@njit(cache=True, nogil=True)
def _grown(arr, need):
    if need <= len(arr):
        return arr
    size = max(2 * len(arr), need)
    out = np.empty(size, dtype=arr.dtype)
    out[:len(arr)] = arr
    return out


@njit(cache=True, nogil=True, inline="always")
def find_or_add(data, lo, hi, table, hashes, blob, offsets, n_types):
    """Id of the token ``data[lo:hi]``, added as type ``n_types`` when new (-1: no room, grow
    the arrays first)."""
    h = _hash(data, lo, hi)
    hs = np.int64(h)
    cap = len(table) // 2
    mask = np.uint64(cap - 1)
    slot = h & mask
    size = hi - lo
    while table[2 * slot] != -1:
        t = table[2 * slot]
        if table[2 * slot + 1] == hs and offsets[t + 1] - offsets[t] == size:
            base = offsets[t]
            j = 0
            while j < size and blob[base + j] == data[lo + j]:
                j += 1
            if j == size:
                return t
        slot = (slot + np.uint64(1)) & mask
    end = offsets[n_types] + size
    if 2 * (n_types + 1) > cap or n_types + 2 > len(offsets) or end > len(blob):
        return -1
    blob[offsets[n_types]:end] = data[lo:hi]
    offsets[n_types + 1] = end
    hashes[n_types] = h
    table[2 * slot] = n_types
    table[2 * slot + 1] = hs
    return n_types


@njit(cache=True, nogil=True, inline="always")
def find_token(data, lo, hi, table, blob, offsets):
    """Id of the token ``data[lo:hi]`` in the table :func:`find_or_add` fills, or -1; never
    writes (threads may share the table)."""
    h = _hash(data, lo, hi)
    hs = np.int64(h)
    mask = np.uint64(len(table) // 2 - 1)
    slot = h & mask
    size = hi - lo
    while table[2 * slot] != -1:
        t = table[2 * slot]
        if table[2 * slot + 1] == hs and offsets[t + 1] - offsets[t] == size:
            base = offsets[t]
            j = 0
            while j < size and blob[base + j] == data[lo + j]:
                j += 1
            if j == size:
                return t
        slot = (slot + np.uint64(1)) & mask
    return -1


@njit(cache=True, nogil=True, inline="always")
def _index_home(h, cap):
    """Where a word of hash ``h`` starts its probe: the hash's low 32 bits scaled to [0, cap)."""
    return np.int64(((h & _LOW32) * np.uint64(cap)) >> np.uint64(32))


@njit(cache=True, nogil=True, inline="always")
def _index_layout(index):
    """(id bits, shift of the hash's tag, empty entry) of a word index by its slot width: 32-bit
    slots hold the hash's top 8 bits above a 24-bit id, 64-bit slots its top 32 bits above a
    32-bit id (see :func:`lmkit.text.types.word_index_dtype`); an empty slot has every bit set."""
    if index.itemsize == 4:
        return np.uint64(24), np.uint64(56), np.uint64(0xFFFFFFFF)
    return np.uint64(32), np.uint64(32), np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def build_word_index(blob, offsets, index):
    """Fill ``index`` (``word_index_size(n)`` slots of ``word_index_dtype(n)``, every bit set:
    empty) with a fixed vocabulary's word index: open addressing, each slot holding the top bits
    of a word's hash above its id, for the words ``blob[offsets[t]:offsets[t + 1]]``. Small
    enough to store beside the words in a model file (:func:`find_word` needs nothing else).
    Returns the first id whose word is listed before it, or -1."""
    n = len(offsets) - 1
    cap = len(index)
    id_bits, tag_shift, empty = _index_layout(index)
    for t in range(n):
        h = _hash(blob, offsets[t], offsets[t + 1])
        s = _index_home(h, cap)
        while np.uint64(index[s]) != empty:
            if _same_word(index[s], h, blob, offsets[t], offsets[t + 1], blob, offsets, id_bits, tag_shift):
                return t
            s += 1
            if s == cap:
                s = 0
        index[s] = ((h >> tag_shift) << id_bits) | np.uint64(t)
    return -1


@njit(cache=True, nogil=True, inline="always")
def _same_word(entry, h, data, lo, hi, blob, offsets, id_bits, tag_shift):
    """Whether an index ``entry`` is the word ``data[lo:hi]`` of hash ``h`` (a damaged entry's id
    outside the vocabulary, or a word whose offsets leave the bytes, is no word)."""
    e = np.uint64(entry)
    if (e >> id_bits) != (h >> tag_shift):
        return False
    t = np.int64(e & ((np.uint64(1) << id_bits) - np.uint64(1)))
    if t >= len(offsets) - 1:
        return False
    base = np.int64(offsets[t])
    size = hi - lo
    if np.int64(offsets[t + 1]) - base != size or base < 0 or base + size > len(blob):
        return False
    j = 0
    while j < size and blob[base + j] == data[lo + j]:
        j += 1
    return j == size


@njit(cache=True, nogil=True, inline="always")
def find_word(data, lo, hi, index, blob, offsets):
    """Id of the word ``data[lo:hi]`` in a :func:`build_word_index` index, or -1. Reads at most
    every slot once and checks every id and its offsets against the words, so an index or
    offsets from a damaged file cannot send it outside them."""
    cap = len(index)
    id_bits, tag_shift, empty = _index_layout(index)
    id_mask = (np.uint64(1) << id_bits) - np.uint64(1)
    h = _hash(data, lo, hi)
    tag = h >> tag_shift
    size = hi - lo
    s = _index_home(h, cap)
    for _ in range(cap):
        e = np.uint64(index[s])
        if e == empty:
            return -1
        if (e >> id_bits) == tag:   # written out: through a helper, 3.7x slower
            t = np.int64(e & id_mask)
            if t < len(offsets) - 1:
                base = np.int64(offsets[t])
                if np.int64(offsets[t + 1]) - base == size and base >= 0 and base + size <= len(blob):
                    j = 0
                    while j < size and blob[base + j] == data[lo + j]:
                        j += 1
                    if j == size:
                        return t
        s += 1
        if s == cap:
            s = 0
    return -1


@njit(cache=True, nogil=True)
def _scan(data, i, line, n_ids, ids, lengths, table, hashes, blob, offsets, n_types):
    """Tokenize from byte ``i`` on until the end or until a new token finds no room.
    Returns ``(i, line, n_ids, n_types, done)``."""
    n = len(data)
    while i < n:
        cls = BYTE_CLASS[data[i]]
        if cls == 2:
            line += 1
            i += 1
            continue
        if cls == 1:
            i += 1
            continue
        if cls == 3:
            step = space_length(data, i, n)
            if step:
                i += step
                continue
        lo = i
        i += 1
        while i < n:
            cls = BYTE_CLASS[data[i]]
            if cls == 0 or (cls == 3 and space_length(data, i, n) == 0):
                i += 1
            else:
                break
        t = find_or_add(data, lo, i, table, hashes, blob, offsets, n_types)
        if t < 0:
            return lo, line, n_ids, n_types, False
        if t == n_types:
            n_types += 1
        ids[n_ids] = t
        n_ids += 1
        lengths[line] += 1
    return i, line, n_ids, n_types, True


@njit(cache=True, nogil=True)
def tokenize_whitespace(data, table, hashes, blob, offsets, n_types):
    """Split ``data`` (uint8, whole lines of valid UTF-8) into tokens and look each up.

    State, carried from block to block: ``table`` (int64 pairs (type id, hash), id -1 when
    empty, a power-of-two number of pairs),
    ``hashes`` (uint64 per type), ``blob``/``offsets`` (type ``t``'s bytes are
    ``blob[offsets[t]:offsets[t + 1]]``), ``n_types``. Returns ``(ids int32 [n_tokens],
    lengths int64 [n_lines], table, hashes, blob, offsets, n_types)``; the arrays may be new,
    larger ones.
    """
    n = len(data)
    ids = np.empty(n // 2 + 1, dtype=np.int32)
    n_lines = 0
    for i in range(n):
        if data[i] == 10:
            n_lines += 1
    if n and data[n - 1] != 10:
        n_lines += 1
    lengths = np.zeros(n_lines, dtype=np.int64)
    i, line, n_ids = 0, 0, 0
    done = False
    while not done:
        i, line, n_ids, n_types, done = _scan(data, i, line, n_ids, ids, lengths, table, hashes, blob,
                                              offsets, n_types)
        if not done:   # room for the next new token: grow what is full (rare)
            if 2 * (n_types + 1) > len(table) // 2:
                table = _rehash(table, hashes, n_types)
            hashes = _grown(hashes, 2 * len(hashes))
            offsets = _grown(offsets, 2 * len(offsets))
            blob = _grown(blob, 2 * len(blob) + n)
    return ids[:n_ids].copy(), lengths, table, hashes, blob, offsets, n_types
