"""The binary model file's layout, read without numba: its header, its arrays mapped as
numpy views, and the checks of their sizes (see :mod:`lmkit.ngram.binary` for the format, and
:mod:`lmkit.ngram.quick` for scoring with numpy alone). Also the probing tables' geometry the
kernels share."""
from __future__ import annotations

import itertools
import json
import mmap
import os
import struct
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

from ..errors import LmkitError, ModelFormatError
from ..text import Tokenizer
from ..text.vocab import PackedVocabulary

MAGIC = b"\x93LMKNGB\n"
FORMAT = "lmkit-ngram-binary"
VERSION = 4
READS = (1, 2, 3, 4)
LAYOUTS = ("probing", "trie")
ALIGN = 64
DTYPES = {name: np.dtype(t) for name, t in (("uint8", np.uint8), ("uint32", np.uint32), ("uint64", np.uint64),
                                           ("int32", np.int32), ("int64", np.int64), ("float32", np.float32),
                                           ("bool", np.bool_))}
ITEMSIZE = {name: t.itemsize for name, t in DTYPES.items()}

#: the types each array may have
ARRAY_DTYPES = {"vocab_blob": ("uint8",), "vocab_offsets": ("int32", "int64"), "vocab_counts": ("int64",),
                 "vocab_index": ("uint32", "int64"),
                 "ctx": ("int64",), "word": ("int32",), "logprob": ("float32",), "backoff": ("float32",),
                 "gram_start": ("int64",), "table_keys": ("int64",), "table_vals": ("int32", "int64"),
                 "table_start": ("int64",), "table_cap": ("int64",), "slots": ("int64",), "trie_bits": ("uint64",),
                 "trie_fields": ("int64",), "centers": ("float32",), "blank": ("bool",)}

#: the types of the meta fields scoring reads (the same as a ``.lmk`` file's)
META_TYPES = (("unseen_context_backoff", (int, float)), ("fallback", str), ("is_probability", bool))

#: a probing table's slot: two int64 words, the key (``ctx slot * V + word``; -1 empty) and
#: the n-gram's float32 log10 probability and backoff (words 2 and 3 of the slot's float32 view)
SLOT_WORDS = 2
#: the multiplier of the probing tables' hash (see :func:`lmkit.ngram._kernels.probe_slot`)
HASH_MULT = np.uint64(0x9E3779B97F4A7C15)
#: slots per n-gram in a probing table (KenLM's default multiplier)
PROBING_LOAD = 1.5


#: columns of a trie's ``trie_fields`` (see :mod:`lmkit.ngram.layouts`): first record's bit,
#: record width, and the widths of its fields (in this order inside a record: word, child
#: pointer, probability, backoff; 0 = absent), then where the order's probability and backoff
#: bins start in ``centers`` (:data:`RAW`: the field holds the float32 value's bits); these
#: F_STORED columns are the file's. F_SIZE, the order's number of n-grams, is added in memory:
#: lookups keep every record index below it.
F_BASE, F_RECORD, F_WORD, F_PTR, F_LP_BITS, F_BO_BITS, F_LP_CENTERS, F_BO_CENTERS, F_SIZE = range(9)
F_STORED = 8
F_COUNT = 9
MAX_QUANTIZE_BITS = 24
#: a value field that holds float32 bits, not a bin's code: 32 bits, or 31 with the sign bit
#: implied set (every value <= -0.0, as log probabilities are: KenLM's trie saves that bit too)
RAW = -1
SIGN_BIT = 1 << 31


def bits_for(n: int) -> int:
    """Bits that hold every value 0 .. n."""
    return max(int(n).bit_length(), 1)


def trie_fields(sizes: list[int], vocab_size: int, quantize_bits: int | None = None,
                backoff_bits: int | None = None, float_bits: tuple[int, int] | None = None
                ) -> tuple[np.ndarray, int, int]:
    """The record layout of a trie of these sizes: ``trie_fields`` (int64 [N + 1, F_COUNT]),
    the number of uint64 words of its bit array and of quantisation centers.

    Orders >= 2 keep their values in their records: codes of ``quantize_bits`` /
    ``backoff_bits`` (default ``quantize_bits``), or float32 bits (``float_bits``: the
    probability's 31 or 32 bits, the backoff's 32), or with neither, in the float arrays
    (format version 3 and before)."""
    N = len(sizes)
    rows = [[0] * F_COUNT for _ in range(N + 1)]    # Python ints: loading computes this every time
    n_centers = base = 0
    for k in range(1, N + 1):
        f = rows[k]
        f[F_WORD] = bits_for(vocab_size - 1) if k > 1 else 0
        f[F_PTR] = bits_for(sizes[k]) if k < N else 0
        if quantize_bits is not None and k > 1:
            f[F_LP_BITS], f[F_LP_CENTERS] = quantize_bits, n_centers
            n_centers += 1 << quantize_bits
            if k < N:
                f[F_BO_BITS], f[F_BO_CENTERS] = backoff_bits or quantize_bits, n_centers
                n_centers += 1 << f[F_BO_BITS]
        elif float_bits is not None and k > 1:
            f[F_LP_BITS], f[F_LP_CENTERS] = float_bits[0], RAW
            if k < N:
                f[F_BO_BITS], f[F_BO_CENTERS] = float_bits[1], RAW
        f[F_RECORD] = f[F_WORD] + f[F_PTR] + f[F_LP_BITS] + f[F_BO_BITS]
        f[F_BASE] = base
        f[F_SIZE] = sizes[k - 1]
        base += f[F_RECORD] * (sizes[k - 1] + (k < N))
    fields = np.array(rows, np.int64)
    return fields, base // 64 + 2, n_centers   # a spare word: reads may touch the next one


def float_counts(sizes: list[int], in_records: bool) -> tuple[int, int]:
    """How many float32 probabilities and backoffs a trie of these sizes keeps in its float
    arrays: the unigrams' when the higher orders' values are in the records, else all."""
    N = len(sizes)
    if in_records:
        return sizes[0], sizes[0] if N > 1 else 0
    return sum(sizes), sum(sizes[:-1])


def float_bits_for(logprobs: list[np.ndarray]) -> tuple[int, int]:
    """The widths of a trie's float32 fields for these per-order log probabilities: 31 bits
    for the probabilities when every one of orders >= 2 has its sign bit set, else 32; 32
    for the backoffs (which may be positive)."""
    negative = all(np.all(np.signbit(np.asarray(lp, np.float32))) for lp in logprobs[1:])
    return (31 if negative else 32), 32


def float_codes(values: np.ndarray, width: int) -> np.ndarray:
    """The ``width``-bit (31 or 32) fields that hold float32 ``values`` (uint32 [n]): their
    bits, the sign bit dropped for 31 (every value then has it set)."""
    return np.asarray(values, np.float32).view(np.uint32) & np.uint32(SIGN_BIT - 1 if width == 31 else 2 ** 32 - 1)


def floats_from_codes(codes: np.ndarray, width: int) -> np.ndarray:
    """The float32 values (float32 [n]) of :func:`float_codes`' fields (integer codes)."""
    return (codes | (SIGN_BIT if width == 31 else 0)).astype(np.uint32).view(np.float32)


def probing_caps(sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(table_start, table_cap), int64 [N + 1]: each order's first slot and slot count."""
    start, cap = _caps(sizes)
    return np.array(start, np.int64), np.array(cap, np.int64)


def _caps(sizes: list[int]) -> tuple[list[int], list[int]]:
    """:func:`probing_caps` as lists."""
    cap = [0, 0] + [int(n * PROBING_LOAD) + 1 if n else 0 for n in sizes[1:]]   # always an empty slot
    return [0, *itertools.accumulate(cap[:-1])], cap


class Mapped(NamedTuple):
    """A binary model file as loading finds it: the header, every array (read-only views of
    the map), the vocabulary over the file's words and the tokenizer; header and sizes checked."""
    path: Path
    header: dict
    arrays: dict[str, np.ndarray]
    vocab: PackedVocabulary
    tokenizer: Tokenizer
    mapping: mmap.mmap

    def checked(self) -> None:
        """The load's checks are done: faults read ahead again, for scoring (see :func:`map_file`)."""
        _advise(self.mapping, "MADV_NORMAL")


def _advise(mapping: mmap.mmap, name: str) -> None:
    """``madvise`` the whole mapping, where the system has it (Windows does not)."""
    advice = getattr(mmap, name, None)
    if advice is not None:
        mapping.madvise(advice)


def open_mapped(path: Path, file: BinaryIO | None = None) -> Mapped:
    """Map a binary model file (``file``: the file already open, else opened) and check what
    every reader of it checks at load (the header, every array's type, size and place, the
    vocabulary's offsets fitting its bytes, the n-gram offsets); the layouts' sizes are
    checked by :func:`probing_sizes` / :func:`trie_layout`."""
    if file is None:
        with open(path, "rb") as f:
            header, arrays, mapping = map_file(path, f)
    else:
        header, arrays, mapping = map_file(path, file)
    vocab = vocabulary(path, arrays)
    try:
        tokenizer = Tokenizer.from_config(header.get("tokenizer", {}))
    except (LmkitError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{path}: bad tokenizer settings ({exc})") from None
    check_gram_start(path, arrays["gram_start"], header["order"], header["sizes"])
    return Mapped(path, header, arrays, vocab, tokenizer, mapping)


def map_file(path: Path, f: BinaryIO) -> tuple[dict, dict[str, np.ndarray], mmap.mmap]:
    """The header and every array of the binary model file open as ``f``, as read-only views
    of its map (each array's type and place checked against the file's size; contents not
    read), and the map.

    The map reads only the pages it is asked for (``MADV_RANDOM``) until :meth:`Mapped.checked`:
    the load's checks touch a few scattered pages (word offsets, n-gram offsets, the tables'
    geometry), and for a file not in the page cache each would otherwise read the system's
    read-ahead (8 MB on this project's machine): a load from a cold cache took 7.5-7.9 ms that
    way and 1.0-1.2 ms this way (KenLM's loads, which read the whole file: 6.5-32 ms). Scoring
    touches most of the file and wants the read-ahead back: with ``MADV_RANDOM`` throughout,
    ``lmkit ngram score`` on Brown test from a cold cache took 1.26 s against 0.28."""
    f.seek(0)
    size = os.fstat(f.fileno()).st_size
    header, start = read_header(path, f, size)
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)   # the header was read: size > 0
    _advise(mm, "MADV_RANDOM")
    arrays = {spec["name"]: np.frombuffer(mm, DTYPES[spec["dtype"]], spec["shape"], start + spec["offset"])
              for spec in header["arrays"]}
    return header, arrays, mm


def probing_sizes(path: Path, a: dict, N: int, sizes: list[int], V: int) -> tuple[np.ndarray, np.ndarray]:
    """(table_start, table_cap) of a probing file, once its tables and unigram arrays have the
    sizes its n-gram counts and vocabulary give."""
    start, cap = _caps(sizes)
    if sizes[0] != V or len(a["logprob"]) != V or len(a["backoff"]) != (V if N > 1 else 0):
        raise ModelFormatError(f"{path}: the unigram arrays do not fit the vocabulary of {V} words")
    # compared as lists: a handful of numbers, and numpy's calls cost more than the work
    if a["table_start"].tolist() != start or a["table_cap"].tolist() != cap or len(a["slots"]) != SLOT_WORDS * sum(cap):
        raise ModelFormatError(f"{path}: the probing tables' sizes do not fit the n-gram counts {sizes}")
    return np.array(start, np.int64), np.array(cap, np.int64)


def read_header(path: Path, f: BinaryIO, size: int) -> tuple[dict, int]:
    """The JSON header of the file ``f`` (open at its start, ``size`` bytes) and the byte
    offset of the first array; every array's place checked against the file's size."""
    head = f.read(len(MAGIC) + 8)
    if len(head) < len(MAGIC) + 8 or head[:len(MAGIC)] != MAGIC:
        raise ModelFormatError(f"{path}: not an lmkit binary n-gram model")
    (n,) = struct.unpack("<Q", head[len(MAGIC):])
    if n > size:
        raise ModelFormatError(f"{path}: header length {n} exceeds the file ({size} bytes)")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFormatError(f"{path}: unreadable header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not an lmkit binary n-gram model")
    if header.get("version") not in READS or header.get("layout") not in LAYOUTS:
        raise ModelFormatError(f"{path}: version {header.get('version')!r} / layout {header.get('layout')!r} "
                               f"is not supported (this lmkit reads versions {READS}, {', '.join(LAYOUTS)})")
    N, sizes = header.get("order"), header.get("sizes")
    if type(N) is not int or not 1 <= N <= 10 or not isinstance(sizes, list) or len(sizes) != N \
            or any(type(s) is not int or s < 0 for s in sizes) or not isinstance(header.get("meta"), dict):
        raise ModelFormatError(f"{path}: order, sizes or meta in the header are impossible")
    if not isinstance(header.get("suffix_closed", False), bool):
        raise ModelFormatError(f"{path}: suffix_closed in the header must be true or false")
    for key, kind in META_TYPES:
        if key in header["meta"] and not isinstance(header["meta"][key], kind):
            raise ModelFormatError(f"{path}: meta field {key!r} has the wrong type")
    start = -(-(len(MAGIC) + 8 + n) // ALIGN) * ALIGN
    specs = header.get("arrays")
    if not isinstance(specs, list):
        raise ModelFormatError(f"{path}: the header lists no arrays")
    needed = {"vocab_blob", "vocab_offsets", "logprob", "backoff", "gram_start"} | (
        {"trie_bits", "trie_fields", "centers"} if header["layout"] == "trie"
        else {"ctx", "word", "table_keys", "table_vals", "table_start", "table_cap"} if header["version"] == 1
        else {"slots", "table_start", "table_cap"}) | ({"vocab_index"} if header["version"] >= 3 else set())
    names: set[str] = set()
    for spec in specs:
        if not isinstance(spec, dict):
            raise ModelFormatError(f"{path}: bad array entry {spec!r} in the header")
        name, dtype, shape, offset = spec.get("name"), spec.get("dtype"), spec.get("shape"), spec.get("offset")
        if dtype not in DTYPES or type(name) is not str or type(shape) is not int or type(offset) is not int \
                or shape < 0 or offset < 0:
            raise ModelFormatError(f"{path}: bad array entry {spec!r} in the header")
        end = start + offset + shape * ITEMSIZE[dtype]
        if end > size or offset % ALIGN:
            raise ModelFormatError(f"{path}: array {name!r} ends at byte {end}, past the end of "
                                   f"the file ({size} bytes): truncated?")
        if dtype not in ARRAY_DTYPES.get(name, ()):
            raise ModelFormatError(f"{path}: array {name!r} of type {dtype} is not expected")
        names.add(name)
    if not needed <= names or len(names) != len(specs):
        raise ModelFormatError(f"{path}: arrays {sorted(needed - names)} are missing (or listed twice)")
    return header, start


def vocabulary(path: Path, a: dict) -> PackedVocabulary:
    """The vocabulary over the file's word bytes: decoded (and checked for bad UTF-8 and
    duplicates) only when a caller needs Python strings; scoring text looks words up by bytes."""
    off, blob = a["vocab_offsets"], a["vocab_blob"]
    if len(off) < 4 or off[-1] != len(blob):
        raise ModelFormatError(f"{path}: vocabulary offsets do not fit its bytes")
    return PackedVocabulary(blob, off, a.get("vocab_counts"), source=str(path), index=a.get("vocab_index"))


def check_gram_start(path: Path, g: np.ndarray, N: int, sizes: list[int]) -> None:
    """Each order's first entry in the per-n-gram arrays (order k's n-grams are g[k] ..)."""
    starts = g.tolist()
    if starts != [0] + [sum(sizes[:k]) for k in range(N)]:
        raise ModelFormatError(f"{path}: n-gram offsets do not fit the sizes {sizes}")


def trie_layout(path: Path, a: dict, sizes: list[int], V: int, header: dict) -> np.ndarray:
    """The trie's ``trie_fields`` (F_COUNT columns), once the file's record layout is the one
    its sizes and the header's ``quantize`` / ``float_bits`` give (so every field lies inside
    the bit array) and its arrays have their sizes."""
    if sizes[0] != V:
        raise ModelFormatError(f"{path}: {sizes[0]} unigrams for a vocabulary of {V} words")
    quantize, raw = header.get("quantize"), header.get("float_bits")
    q = quantize or [None, None]
    if not isinstance(q, list) or len(q) != 2 or any(
            b is not None and (type(b) is not int or not 1 <= b <= MAX_QUANTIZE_BITS) for b in q):
        raise ModelFormatError(f"{path}: impossible quantisation {quantize!r}")
    if raw is not None and (quantize is not None or raw not in ([31, 32], [32, 32])):
        raise ModelFormatError(f"{path}: impossible float fields {raw!r}")
    if header["version"] >= 4 and quantize is None and raw is None:
        raise ModelFormatError(f"{path}: the header says neither quantize nor float_bits")
    fields, n_words, n_centers = trie_fields(sizes, V, q[0], q[1], (raw[0], raw[1]) if raw else None)
    if a["trie_fields"].tolist() != fields[:, :F_STORED].ravel().tolist():
        raise ModelFormatError(f"{path}: the trie's record layout does not fit its sizes and vocabulary")
    n_lp, n_bo = float_counts(sizes, quantize is not None or raw is not None)
    for name, want in (("trie_bits", n_words), ("centers", n_centers), ("logprob", n_lp), ("backoff", n_bo)):
        if len(a[name]) != want:
            raise ModelFormatError(f"{path}: array {name!r} holds {len(a[name])} entries, expected {want}")
    if np.any(np.isnan(a["centers"])) or np.any(np.isposinf(a["centers"])):
        raise ModelFormatError(f"{path}: impossible quantisation bins (NaN, +inf)")
    return fields
