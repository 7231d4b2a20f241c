"""Memory-mapped n-gram models: the scoring kernels' tables stored in the file.

One file: ``MAGIC``, a little-endian uint64 header length, a JSON header (format, version,
layout, order, sizes, the model's meta and tokenizer, and every array's name, dtype, shape and
byte offset), then the arrays, each at a 64-byte aligned offset: the vocabulary as a UTF-8
blob with offsets, then the layout's tables (see :mod:`lmkit.ngram.layouts`):

- ``probing`` (like KenLM's probing binary): the linear-probing tables with the values in
  their slots, which the kernels read directly (version 1 files, which held the sorted n-gram
  arrays beside position tables, still load: their tables are rebuilt at the first score);
- ``trie`` (like KenLM's trie): bit-packed records (word ids, child pointers, and the
  probability and backoff as float32 bits or quantised codes with their bins; version 3
  files kept the float32 values in arrays beside the records, and still load).

Loading maps the file and checks the header and every array's type, size and place, and
the tables' and vocabulary's sizes against the n-gram counts; nothing is rebuilt or read in
full, so a load takes about a millisecond and processes that load the same file share its
pages. The contents (every slot, pointer, word id, word offset and value, and the stored word
index: 0.05-0.16 s on Brown order 5) are checked with ``verify=True`` (``lmkit ngram check``),
and in any case before anything reads them as arrays or decodes the words (writing ARPA,
pruning, mixing). Scoring needs no such check to be safe: a probe reads at most its table's
slots, trie pointers are clamped to their order's records and word lookups check each id and
its offsets, so damage gives wrong scores, never a read outside the file or a lookup that
does not end. The header's ``suffix_closed`` (every listed n-gram's suffix is
listed, checked by the writer) lets scoring stop a word's lookups at the first missing n-gram;
it is taken on trust even by ``verify``, since checking it costs a lookup per n-gram (0.3 s on
Brown order 5) and a false one only gives the scores of the model without the n-grams whose
suffixes are missing.
"""
from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .._io import atomic_write
from ..errors import ConfigError, ModelFormatError
from ..text import Tokenizer, Vocabulary, utf8_blob
from ..text.types import build_word_index
from . import _kernels as K
from .binfile import (
    ALIGN,
    FORMAT,
    LAYOUTS,
    MAGIC,
    MAX_QUANTIZE_BITS,
    VERSION,
    open_mapped,
    probing_sizes,
    trie_layout,
)
from .layouts import (
    Tables,
    child_pointers,
    probing_arrays,
    probing_over,
    probing_tables,
    trie_arrays,
    trie_field,
    trie_tables,
    trie_values,
)

log = logging.getLogger(__name__)


def write_binary(model, path: str | os.PathLike, layout: str = "probing", quantize: int | None = None,
                 backoff_bits: int | None = None) -> None:
    """Write ``model`` (an :class:`~lmkit.ngram.NgramModel`) memory-mappable, atomically.

    ``quantize``/``backoff_bits`` (trie only, 1..24): bits of the probability and backoff
    codes of orders >= 2 (KenLM's ``-q``/``-b``); backoffs default to ``quantize`` bits."""
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r} is not available; choose one of {', '.join(LAYOUTS)}")
    for name, bits in (("quantize", quantize), ("backoff bits", backoff_bits)):
        if bits is not None and (layout != "trie" or not 1 <= bits <= MAX_QUANTIZE_BITS):
            raise ConfigError(f"{name} must be 1..{MAX_QUANTIZE_BITS} bits, with the trie layout (got {bits})")
    if backoff_bits is not None and quantize is None:
        raise ConfigError("backoff bits need --quantize too")
    model.verify()
    vblob, voff = utf8_blob(model.vocab.itos)     # decoded: bad UTF-8 in a source file is refused, not copied
    index, twice = build_word_index(vblob, voff)
    if twice >= 0:
        raise ModelFormatError(f"token {model.vocab.itos[twice]!r} appears twice in the vocabulary")
    arrays: dict[str, np.ndarray] = {"vocab_blob": vblob, "vocab_index": index,
                                     "vocab_offsets": voff.astype(np.int32) if len(vblob) < 2 ** 31 else voff}
    counts = np.asarray(model.vocab.counts, np.int64)
    if counts.any():     # an ARPA file's vocabulary has none
        arrays["vocab_counts"] = counts
    closed = model.suffixes_closed()
    if layout == "probing":
        t = model._kernel_tables() if model.layout == "probing" else \
            probing_tables(model.ctx, model.word, model.log_probs, model.log_backoffs, len(model.vocab), closed)
        arrays.update(slots=t.slots, table_start=t.table_start, table_cap=t.table_cap)
    else:
        t = trie_tables(model.ctx, model.word, model.log_probs, model.log_backoffs, len(model.vocab), quantize,
                        backoff_bits, closed)
        assert t.trie_bits is not None and t.trie_fields is not None and t.centers is not None
        arrays.update(trie_bits=t.trie_bits, trie_fields=t.trie_fields[:, :K.F_STORED].ravel(), centers=t.centers)
    gram_start = np.zeros(model.order + 1, np.int64)
    gram_start[1:] = np.cumsum([0] + model.sizes[:-1])
    arrays.update(logprob=t.logprob.astype(np.float32), backoff=t.backoff.astype(np.float32),
                  gram_start=gram_start)
    if model.blank is not None:
        arrays["blank"] = np.concatenate(model.blank).astype(np.bool_)
    header = {"format": FORMAT, "version": VERSION, "layout": layout, "order": model.order,
              "sizes": model.sizes, "meta": model.meta, "tokenizer": model.tokenizer.config(),
              "suffix_closed": closed, "arrays": []}
    if quantize is not None:
        header["quantize"] = [quantize, backoff_bits or quantize]
    elif layout == "trie":
        assert t.trie_fields is not None
        header["float_bits"] = [int(t.trie_fields[2, K.F_LP_BITS]), 32] if model.order > 1 else [32, 32]
    offset = 0
    for name, arr in arrays.items():
        header["arrays"].append({"name": name, "dtype": str(arr.dtype), "shape": len(arr), "offset": offset})
        offset += -(-arr.nbytes // ALIGN) * ALIGN
    text = json.dumps(header).encode("utf-8")
    start = -(-(len(MAGIC) + 8 + len(text)) // ALIGN) * ALIGN
    with atomic_write(path, "wb") as out:
        out.write(MAGIC + struct.pack("<Q", len(text)) + text)
        out.write(b"\0" * (start - len(MAGIC) - 8 - len(text)))
        for arr in arrays.values():
            data = np.ascontiguousarray(arr).tobytes()
            out.write(data)
            out.write(b"\0" * (-len(data) % ALIGN))


def read_binary(path: str | os.PathLike, model_class, verify: bool = False, file: BinaryIO | None = None):
    """Map a binary model file (``file``: the file already open, else opened) and return a
    ``model_class`` over views of it.

    Always checked: the header, every array's type, size and place in the file, and the
    tables' and the vocabulary's sizes against the n-gram counts. The contents (every slot,
    pointer, word id, word offset and value, and the word index) are checked when ``verify``
    (:meth:`NgramModel.verify`), and otherwise before anything reads them as arrays or decodes
    the words (writing ARPA, pruning, mixing); the scoring kernels cannot read outside the
    file or loop forever whatever the contents, so unchecked damage can give wrong scores but
    nothing worse (KenLM's binary loader trusts the contents likewise)."""
    path = path if isinstance(path, Path) else Path(path)
    mapped = open_mapped(path, file)
    header, a, vocab, tokenizer = mapped.header, mapped.arrays, mapped.vocab, mapped.tokenizer
    N, sizes = header["order"], header["sizes"]
    if header["layout"] == "probing" and header["version"] == 1:
        mapped.checked()            # its checks read whole arrays
        model = _probing_v1_model(path, a, N, sizes, vocab, header, tokenizer, model_class)
    else:
        closed = header.get("suffix_closed", False)
        if header["layout"] == "trie":
            t = _trie_tables(path, a, N, sizes, len(vocab), header)._replace(suffix_closed=closed)
            check, unpack = _check_trie, trie_arrays
        else:
            t = _probing_tables(path, a, N, sizes, len(vocab), closed)
            check, unpack = _check_probing, lambda t, sizes: probing_arrays(t, sizes, len(vocab))
        mapped.checked()
        model = model_class._over_tables(vocab, sizes, t, lambda: unpack(t, sizes), header["meta"], tokenizer)

        def check_contents() -> None:
            vocab.check_index()
            check(path, t, sizes, len(vocab))
        model._unchecked = check_contents
        if verify:
            model.verify()
    if "blank" in a:
        if len(a["blank"]) != sum(sizes):
            raise ModelFormatError(f"{path}: the blank flags do not fit the sizes {sizes}")
        g = a["gram_start"]
        model.blank = [a["blank"][g[k]:g[k] + sizes[k - 1]] for k in range(1, N + 1)]
    return model


def _probing_v1_model(path: Path, a: dict, N: int, sizes: list[int], vocab: Vocabulary, header: dict,
                      tokenizer: Tokenizer, model_class):
    """A version 1 file: its sorted arrays checked (tables too) and used; the scoring tables
    are rebuilt at the first score."""
    lp, bo = a["logprob"], a["backoff"]
    if len(lp) != sum(sizes) or len(bo) < sum(sizes[:-1]):
        raise ModelFormatError(f"{path}: {len(lp)} probabilities / {len(bo)} backoffs for {sum(sizes)} n-grams")
    _check_values(path, lp, bo)
    _check_probing_v1(path, a, N, sizes, len(vocab))
    log.info("%s: binary format version 1; rewrite it with `lmkit ngram build-binary` to load without "
             "rebuilding its tables", path)
    g = a["gram_start"]   # order k's n-grams are entries g[k] .. g[k] + sizes[k - 1] - 1

    def per_order(name: str, orders: range) -> list[np.ndarray]:
        return [a[name][g[k]:g[k] + sizes[k - 1]] for k in orders]
    ctx, word, lps = (per_order(name, range(1, N + 1)) for name in ("ctx", "word", "logprob"))
    bos = per_order("backoff", range(1, N)) + [np.zeros(0, np.float32)]
    return model_class(vocab, ctx, word, lps, bos, meta=header["meta"], tokenizer=tokenizer)


def _check_values(path: Path, lp: np.ndarray, bo: np.ndarray) -> None:
    """Probabilities <= 0 (or -inf), backoffs not NaN or +inf."""
    if np.any(np.isnan(lp)) or np.any(lp > 0) or np.any(np.isnan(bo)) or np.any(np.isposinf(bo)):
        raise ModelFormatError(f"{path}: impossible probabilities or backoffs (NaN, > 0, +inf)")


def _check_probing_v1(path: Path, a: dict, N: int, sizes: list[int], V: int) -> None:
    """Every array's length, every id's range, and every hash-table slot: a slot's key must be
    its n-gram's key and each table must keep an empty slot (or lookups would not end)."""
    g = a["gram_start"]
    total = sum(sizes)
    for name in ("ctx", "word"):
        if len(a[name]) != total:
            raise ModelFormatError(f"{path}: array {name!r} holds {len(a[name])} entries, expected {total}")
    if sizes[0] != V or np.any(a["word"][:V] != np.arange(V)):
        raise ModelFormatError(f"{path}: unigrams must list every vocabulary id once, in order")
    word, ctx = a["word"], a["ctx"]
    if total and (word.min() < 0 or word.max() >= V):
        raise ModelFormatError(f"{path}: word ids outside the vocabulary of {V} words")
    ts, tc, tk, tv = a["table_start"], a["table_cap"], a["table_keys"], a["table_vals"]
    if len(ts) != N + 1 or len(tc) != N + 1 or len(tv) != len(tk):
        raise ModelFormatError(f"{path}: hash-table index of the wrong size")
    for k in range(2, N + 1):
        n, lo, cap = sizes[k - 1], int(ts[k]), int(tc[k])
        if lo < 0 or cap < 0 or lo + cap > len(tk):
            raise ModelFormatError(f"{path}: hash table of order {k} runs past its array")
        wrong = K.check_table(tk[lo:lo + cap], tv[lo:lo + cap], ctx[g[k]:g[k] + n], word[g[k]:g[k] + n],
                              V, sizes[k - 2])
        if wrong:
            raise ModelFormatError(f"{path}: order {k}'s hash table does not fit its n-grams: {wrong}")


def _probing_tables(path: Path, a: dict, N: int, sizes: list[int], V: int, suffix_closed: bool) -> Tables:
    """Probing tables (version 2 on), once every order's capacity is the one its size gives
    and the unigram arrays fit the vocabulary (contents unchecked: :func:`_check_probing`)."""
    start, cap = probing_sizes(path, a, N, sizes, V)
    return probing_over(a["slots"], start, cap, a["logprob"], a["backoff"], N, suffix_closed)


def _check_probing(path: Path, t: Tables, sizes: list[int], V: int) -> None:
    """The unigrams' values, and every slot: each table holds its n-grams' number of keys and
    an empty slot, every key is reachable from its home slot and names a listed context, and
    the values are possible."""
    _check_values(path, t.logprob, t.backoff)
    for k in range(2, len(sizes) + 1):
        s, c = t.table_start, t.table_cap
        wrong = K.check_slots(t.slots, t.slot_vals, s[k], c[k], sizes[k - 1], V, s[k - 1], c[k - 1], k)
        if wrong:
            raise ModelFormatError(f"{path}: order {k}'s probing table is broken: {wrong}")


def _trie_tables(path: Path, a: dict, N: int, sizes: list[int], V: int, header: dict) -> Tables:
    """The trie's tables, once its record layout matches the one its sizes and the header's
    value fields give (so every field lies inside the bit array) and its arrays have their
    sizes (contents unchecked: :func:`_check_trie`)."""
    fields = trie_layout(path, a, sizes, V, header)
    empty = np.zeros(0, np.int64)
    return Tables(empty, empty.view(np.float32), np.zeros(N + 1, np.int64), np.zeros(N + 1, np.int64), a["logprob"],
                  a["backoff"], a["gram_start"], a["trie_bits"], fields, a["centers"])


def _check_trie(path: Path, t: Tables, sizes: list[int], V: int) -> None:
    """Every pointer (in order, inside the order above, ending at its size) and word id, and
    the float values of the orders stored unquantised."""
    _check_values(path, t.logprob, t.backoff)
    assert t.trie_fields is not None
    N = len(sizes)
    for k in range(2, N + 1):
        f = t.trie_fields[k]
        if f[K.F_LP_BITS] and f[K.F_LP_CENTERS] == K.RAW:
            _check_values(path, trie_values(t, k, sizes[k - 1], K.F_LP_BITS),
                          trie_values(t, k, sizes[k - 1], K.F_BO_BITS) if k < N else np.zeros(0, np.float32))
        ptr = child_pointers(t, k - 1, sizes[k - 2])
        word = trie_field(t, k, K.F_WORD, sizes[k - 1])
        wrong = K.check_children(ptr, word, V)
        if wrong:
            raise ModelFormatError(f"{path}: order {k} of the trie is broken: {wrong}")
