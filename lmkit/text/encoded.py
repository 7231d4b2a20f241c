"""Encoded corpus: every token id in one flat int32 array plus sentence offsets.

Sentence ``i`` is ``ids[offsets[i]:offsets[i + 1]]``. This is what every model trains on.
Saved as a folder (``ids.npy``, ``offsets.npy``, ``vocab.tsv``, ``meta.json``) that loads
memory-mapped, so a corpus larger than RAM, and repeated runs, need no re-tokenising.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from .._io import atomic_folder, atomic_path, atomic_write, load_npy, read_format_json
from ..errors import CorpusError, ModelFormatError
from .corpus import Corpus
from .types import types_for
from .vocab import DEFAULT_SPECIALS, Vocabulary

if TYPE_CHECKING:
    import tempfile

FORMAT = "lmkit-encoded-corpus"
VERSION = 1


class EncodedCorpus:
    """Token ids (int32, shape ``[n_tokens]``) and sentence offsets (int64, ``[n_sentences + 1]``)."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, vocab: Vocabulary | None = None,
                 meta: dict | None = None) -> None:
        if ids.dtype != np.int32 or ids.ndim != 1:
            raise ValueError("ids must be a 1-d int32 array")
        if offsets.dtype != np.int64 or offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 \
                or offsets[-1] != len(ids):
            raise ValueError("offsets must be 1-d int64, start at 0 and end at len(ids)")
        self.ids = ids
        self.offsets = offsets
        self.vocab = vocab
        self.meta = dict(meta or {})

    @property
    def n_sentences(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    def __len__(self) -> int:
        return self.n_sentences

    def sentence(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i]:self.offsets[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        ids, off = self.ids, self.offsets
        for i in range(len(off) - 1):
            yield ids[off[i]:off[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    # ------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the corpus folder; it replaces any old one as a whole, in one step."""
        with atomic_folder(folder) as tmp:
            for name, arr in (("ids.npy", self.ids), ("offsets.npy", self.offsets)):
                np.save(tmp / name, np.asarray(arr))
            if self.vocab is not None:
                self.vocab.save(tmp / "vocab.tsv")
            _write_meta(tmp, self)
        return Path(folder)

    @classmethod
    def load(cls, folder: str | os.PathLike, mmap: bool = True) -> EncodedCorpus:
        """Load a corpus folder; ``mmap=True`` maps the arrays instead of reading them."""
        folder = Path(folder)
        meta = read_format_json(folder / "meta.json", FORMAT, VERSION, "an encoded corpus folder")
        ids = load_npy(folder / "ids.npy", mmap=mmap)
        offsets = load_npy(folder / "offsets.npy", mmap=mmap)
        vocab = Vocabulary.load(folder / "vocab.tsv") if (folder / "vocab.tsv").exists() else None
        try:
            return cls(ids, offsets, vocab, meta)
        except ValueError as exc:
            raise ModelFormatError(f"{folder}: {exc}") from None


def _write_meta(folder: Path, corpus: EncodedCorpus) -> None:
    meta = dict(corpus.meta)
    meta.update(format=FORMAT, version=VERSION, n_tokens=corpus.n_tokens,
                n_sentences=corpus.n_sentences,
                vocab_size=len(corpus.vocab) if corpus.vocab is not None else None)
    with atomic_write(folder / "meta.json") as out:
        json.dump(meta, out, indent=1, sort_keys=True)


class _IdSink:
    """Collects int32 id chunks in memory, or streams them to a temporary file on disk: with
    ``keep_raw`` that file is the result (:func:`spilled_ids`), else it becomes ``ids.npy``.
    ``spill_after``: hold the first that many ids in memory and go to disk only beyond them
    (``folder``, which may be created only then, see :class:`LazyFolder`, is not touched for a
    smaller corpus)."""

    def __init__(self, folder: str | os.PathLike | None, keep_raw: bool = False, spill_after: int = 0) -> None:
        self.n = 0
        self.chunks: list[np.ndarray] = []
        self.folder: Path | None = None
        self.keep_raw = keep_raw
        self.raw: IO[bytes] | None = None
        self._spill_to = folder
        self._spill_after = spill_after
        if folder is not None and spill_after == 0:
            self._open_raw()

    def _open_raw(self) -> None:
        assert self._spill_to is not None
        self.folder = Path(self._spill_to)
        self.folder.mkdir(parents=True, exist_ok=True)
        import tempfile  # here: scoring a short text never spills, and need not import it
        fd, self.raw_path = tempfile.mkstemp(prefix=".ids.", suffix=".raw", dir=self.folder)
        self.raw = os.fdopen(fd, "wb")
        for chunk in self.chunks:        # what was held in memory so far
            self.raw.write(chunk.tobytes())
        self.chunks = []

    def add(self, ids: np.ndarray) -> None:
        self.n += len(ids)
        if self.raw is None and self._spill_to is not None and self.n > self._spill_after:
            self._open_raw()
        if self.raw is not None:
            self.raw.write(ids.tobytes())
        else:
            self.chunks.append(ids)

    def finish(self) -> np.ndarray:
        if self.raw is None:   # chunk by chunk into one array: peak memory ids + one chunk, not 2 x ids
            ids = np.empty(self.n, dtype=np.int32)
            pos = 0
            chunks, self.chunks = self.chunks, []
            chunks.reverse()
            while chunks:               # each chunk freed as soon as it is copied
                chunk = chunks.pop()
                ids[pos:pos + len(chunk)] = chunk
                pos += len(chunk)
                del chunk
            return ids
        self.raw.close()
        if self.keep_raw:
            return spilled_ids(self.raw_path, self.n)
        try:
            folder = self.folder
            assert folder is not None   # a raw file is only ever written into a cache folder
            with atomic_path(folder / "ids.npy") as tmp:
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int32, shape=(self.n,))
                step = 1 << 24
                if self.n:
                    src = np.memmap(self.raw_path, dtype=np.int32, mode="r", shape=(self.n,))
                    for start in range(0, self.n, step):
                        out[start:start + step] = src[start:start + step]
                    del src
                out.flush()
                del out
        finally:
            os.unlink(self.raw_path)
        return np.load(folder / "ids.npy", mmap_mode="r")


def encode_corpus(data: Corpus | Iterable[Sequence[str]], vocab: Vocabulary, *,
                  cache: str | os.PathLike | None = None, numba: bool = True) -> EncodedCorpus:
    """Encode every sentence of ``data`` with ``vocab`` into one flat int32 array.

    With ``cache`` set, ids are streamed to disk as they are produced (memory stays flat; only
    the offsets grow, 8 bytes a sentence), the folder replaces any old one as a whole at the
    end, and the result is memory-mapped from it. Unknown tokens become ``<unk>``; empty lines
    become empty sentences, so sentence ``i`` is line ``i``. ``numba=False`` splits and looks
    tokens up as Python strings even where numba would (same ids; no numba import, which a
    short process scoring a small file would spend most of its time on).
    """
    if vocab.unk_id < 0:
        raise CorpusError("the vocabulary has no <unk>; it cannot encode unseen tokens")
    if cache is None:
        return _encode(data, vocab, _IdSink(None), numba)
    with atomic_folder(cache) as tmp:
        corpus = _encode(data, vocab, _IdSink(tmp))
        np.save(tmp / "offsets.npy", corpus.offsets)
        vocab.save(tmp / "vocab.tsv")
        _write_meta(tmp, corpus)
        del corpus
    return EncodedCorpus.load(cache)


class LazyFolder:
    """A temporary folder made only when first asked for its path (``os.fspath``), removed
    (with what is in it) when the ``with`` block ends."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._made: tempfile.TemporaryDirectory | None = None

    def __fspath__(self) -> str:
        if self._made is None:
            import tempfile
            self._made = tempfile.TemporaryDirectory(prefix=self.prefix)
        return self._made.name

    def __enter__(self) -> LazyFolder:
        return self

    def __exit__(self, *exc) -> None:
        if self._made is not None:
            self._made.cleanup()


def spill_corpus(data: Corpus | Iterable[Sequence[str]], vocab: Vocabulary | None, folder: os.PathLike, *,
                 min_count: int = 1, spill_after: int = 0) -> EncodedCorpus:
    """Encode ``data`` (with ``vocab``, or building one as :func:`build_and_encode` does) with
    its ids written to a file in ``folder`` (which the caller owns and deletes) instead of
    memory once there are more than ``spill_after`` of them: the result's ids are then a
    read-only memory map of it, to be read a piece at a time (:func:`read_ids`); memory holds
    the sentence offsets only (8 bytes a sentence)."""
    if vocab is None:
        return build_and_encode(data, min_count=min_count, spill=folder, spill_after=spill_after)
    if vocab.unk_id < 0:
        raise CorpusError("the vocabulary has no <unk>; it cannot encode unseen tokens")
    return _encode(data, vocab, _IdSink(folder, keep_raw=True, spill_after=spill_after))


def spilled_ids(path: str | os.PathLike, n: int) -> np.ndarray:
    """The ``n`` int32 ids of a raw file, memory-mapped read-only (an empty array for n = 0)."""
    return np.memmap(path, dtype=np.int32, mode="r", shape=(n,)) if n else np.zeros(0, np.int32)


def read_ids(ids: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``ids[lo:hi]`` (int32): from a memory map, read from its file into a new array, so that
    the mapped pages never become part of the process's memory; else a view."""
    if isinstance(ids, np.memmap) and ids.filename is not None and hi > lo:
        return np.fromfile(ids.filename, dtype=np.int32, count=hi - lo, offset=ids.offset + 4 * lo)
    return np.ascontiguousarray(ids[lo:hi], dtype=np.int32)


#: ids handled at once by the piecewise passes over a corpus (16 MB)
_STEP = 1 << 22


def build_and_encode(data: Corpus | Iterable[Sequence[str]], *, min_count: int = 1,
                     max_size: int | None = None, specials: Sequence[str] = DEFAULT_SPECIALS,
                     spill: str | os.PathLike | None = None, spill_after: int = 0) -> EncodedCorpus:
    """Build the vocabulary of ``data`` and encode it, reading (and tokenising) it once.

    The same result as ``encode_corpus(data, Vocabulary.build(data, ...))`` (its vocabulary
    is the result's ``vocab``): tokens get ids in order of first appearance while the text
    streams by, then, once every count is known, the ids are renumbered into the
    vocabulary's order (tokens below ``min_count`` become ``<unk>``). With ``spill`` (a
    folder), the ids go to a file there and are renumbered on disk (see :func:`spill_corpus`).
    """
    first_ids, offsets, seen = encode_first_seen(data, spill=spill, spill_after=spill_after)
    counts = id_counts(first_ids, len(seen))
    vocab = Vocabulary._from_token_counts(seen, counts, min_count, max_size, specials, len(offsets) - 1)
    if vocab.unk_id < 0:
        raise CorpusError("the vocabulary has no <unk>; it cannot encode unseen tokens")
    renumber = _vocab_ids(vocab, seen)
    if isinstance(first_ids, np.memmap):
        _renumber_file(first_ids, renumber)
    else:
        for lo in range(0, len(first_ids), _STEP):  # in place, a piece at a time
            first_ids[lo:lo + _STEP] = renumber[first_ids[lo:lo + _STEP]]
    return EncodedCorpus(first_ids, offsets, vocab, _corpus_meta(data))


def _renumber_file(ids: np.memmap, renumber: np.ndarray) -> None:
    """``ids[i] = renumber[ids[i]]`` in the mapped file, a piece at a time through the file
    (not the map: its pages would stay in the process's memory)."""
    assert ids.filename is not None
    with open(ids.filename, "r+b") as f:
        for lo in range(0, len(ids), _STEP):
            piece = renumber[read_ids(ids, lo, min(lo + _STEP, len(ids)))]
            f.seek(ids.offset + 4 * lo)
            f.write(piece.tobytes())


def encode_first_seen(data: Corpus | Iterable[Sequence[str]], *, spill: str | os.PathLike | None = None,
                      spill_after: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every token numbered in order of first appearance, in one pass: ids (int32
    ``[n_tokens]``; with ``spill``, beyond ``spill_after`` ids, a memory map of a file written
    in that folder), sentence offsets (int64 ``[S + 1]``) and the distinct tokens (id order)."""
    types = types_for(data)
    sink = _IdSink(spill, keep_raw=True, spill_after=spill_after)
    lengths: list[np.ndarray] = []
    for ids, lens in types.blocks(data):
        sink.add(ids)
        lengths.append(lens)
    return sink.finish(), _offsets(lengths), types.tokens()


def id_counts(ids: np.ndarray, n: int) -> np.ndarray:
    """How often each id ``0..n-1`` occurs in ``ids`` (int64 ``[n]``), a piece at a time:
    ``np.bincount`` alone would first copy int32 ids to int64 (twice the corpus in memory)."""
    counts = np.zeros(n, dtype=np.int64)
    for lo in range(0, len(ids), _STEP):
        counts += np.bincount(read_ids(ids, lo, min(lo + _STEP, len(ids))), minlength=n)
    return counts


def _vocab_ids(vocab: Vocabulary, tokens: list[str]) -> np.ndarray:
    """int32 vocabulary id of each token (``<unk>``'s for tokens it does not hold)."""
    return vocab.encode(tokens)


def _encode_by_index(data: Corpus, vocab: Vocabulary, index: np.ndarray, sink: _IdSink) -> EncodedCorpus:
    """A whitespace corpus file encoded without numba, its tokens looked up in the vocabulary's
    stored word index by numpy (:mod:`lmkit.text.index_lookup`); blocks that may hold a
    multi-byte space are split as Python strings."""
    from .index_lookup import split_and_look_up
    blob, offsets = vocab.utf8()
    lengths: list[np.ndarray] = []
    for raw in data.utf8_blocks():
        found = split_and_look_up(raw, index, blob, offsets, vocab.unk_id)
        if found is None:
            lines = raw.decode("utf-8").split("\n")
            if raw.endswith(b"\n"):
                lines.pop()
            split = [line.split() for line in lines]
            found = (vocab.encode([t for line in split for t in line]),
                     np.fromiter(map(len, split), dtype=np.int64, count=len(split)))
        sink.add(found[0])
        lengths.append(found[1])
    return EncodedCorpus(sink.finish(), _offsets(lengths), vocab, _corpus_meta(data))


def _offsets(lengths: list[np.ndarray]) -> np.ndarray:
    """Sentence offsets (int64 ``[S + 1]``) from per-block sentence lengths."""
    offsets = np.zeros(sum(map(len, lengths)) + 1, dtype=np.int64)
    if lengths:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    return offsets


def _corpus_meta(data) -> dict:
    if isinstance(data, Corpus):
        return {"sources": [str(p) for p in data.paths], "tokenizer": data.tokenizer.config(),
                "replaced_lines": data.stats.replaced_lines}
    return {}


def _encode(data, vocab: Vocabulary, sink: _IdSink, numba: bool = True) -> EncodedCorpus:
    index = getattr(vocab, "stored_index", None)
    if not numba and index is not None and isinstance(data, Corpus) and data.tokenizer.mode == "whitespace" \
            and not data.tokenizer.lowercase:
        return _encode_by_index(data, vocab, index, sink)
    lengths: list[np.ndarray] = []
    types = types_for(data, numba)
    to_vocab = np.zeros(1024, dtype=np.int32)   # first-appearance id -> vocabulary id
    known = 0
    try:
        for ids, lens in types.blocks(data):
            if len(types) > known:
                new = _vocab_ids(vocab, types.tokens(known))
                if len(types) > len(to_vocab):
                    to_vocab = np.resize(to_vocab, max(2 * len(to_vocab), len(types)))
                to_vocab[known:len(types)] = new
                known = len(types)
            sink.add(to_vocab[ids])
            lengths.append(lens)
    except BaseException:
        if sink.raw is not None:
            sink.raw.close()
            os.unlink(sink.raw_path)
        raise
    ids = sink.finish()
    return EncodedCorpus(ids, _offsets(lengths), vocab, _corpus_meta(data))
