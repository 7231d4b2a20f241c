"""The word2vec C tool's vector files, text and binary (``.gz``/``.bz2``/``.xz`` too).

Text: a ``count dim`` header line (absent in GloVe files), then per line a word and ``dim``
decimals separated by spaces (trailing spaces allowed). Binary: the same header, then per
entry a word, one space, ``dim`` little-endian float32 (4 bytes each) and usually a newline.

Every size in a header is checked against the file's real size before anything is
allocated, and the text/binary guess is made only when the file's first entries fit one
format and not the other; otherwise the reader stops and asks for ``binary=``.
"""
from __future__ import annotations

import logging
import mmap
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import numpy as np

from .._io import atomic_write, open_binary
from ..errors import ModelFormatError
from .wordlist import MappedWords

log = logging.getLogger(__name__)

MAX_DIM = 1 << 16
_COMPRESSED = (".gz", ".bz2", ".xz")
_PEEK_ENTRIES = 3
_TEXT_BLOCK_LINES = 4096


# ---------------------------------------------------------------------------- writing
def write_word2vec(path: str | os.PathLike, words: Sequence[str], vectors: np.ndarray, binary: bool = False,
                   write_header: bool = True, fvocab: str | os.PathLike | None = None,
                   counts: np.ndarray | None = None) -> None:
    """Write ``vectors`` (``[len(words), dim]``) in the C tool's format, atomically. Text
    values carry 9 significant digits, enough to read back the same float32. ``fvocab``:
    also write ``word count`` lines (the C tool's ``-save-vocab``)."""
    vecs = np.asarray(vectors, dtype="<f4")
    for w in words:
        if not w or any(ch.isspace() for ch in w):
            raise ModelFormatError(f"word {w!r} holds white space; the word2vec format cannot store it")
    if binary and not write_header:
        raise ModelFormatError("a binary word2vec file always has its 'count dim' header")
    with atomic_write(path, "wb") as out:
        if write_header:
            out.write(f"{len(words)} {vecs.shape[1]}\n".encode())
        step = 4096
        if binary:
            for lo in range(0, len(words), step):
                out.write(b"".join(w.encode("utf-8") + b" " + v.tobytes() + b"\n"
                                   for w, v in zip(words[lo:lo + step], vecs[lo:lo + step])))
        else:   # blocks spelled on two threads (the kernels release the GIL), written in order
            with ThreadPoolExecutor(max_workers=2) as pool:
                pending: deque = deque()
                for lo in range(0, len(words), step):
                    pending.append(pool.submit(_text_block, words[lo:lo + step], vecs[lo:lo + step]))
                    if len(pending) > 4:
                        out.write(pending.popleft().result())
                while pending:
                    out.write(pending.popleft().result())
    if fvocab is not None:
        with atomic_write(fvocab) as out:
            c = counts if counts is not None else np.zeros(len(words), np.int64)
            out.writelines(f"{w} {int(n)}\n" for w, n in zip(words, c))


def _text_block(words: Sequence[str], block: np.ndarray) -> np.ndarray:
    """Text lines of a block of rows, numbers spelled in numba as ``"{:.9g}"`` spells them."""
    from .._numfmt import format_g
    from ..text import utf8_blob
    from ._kernels import text_lines
    blob, offsets = utf8_blob(words)
    num_txt, num_len = format_g(block.reshape(-1), 9)
    return text_lines(blob, offsets, num_txt, num_len, block.shape[1])


# ---------------------------------------------------------------------------- reading
def read_word2vec(path: str | os.PathLike, binary: bool | None = None, unicode_errors: str = "strict",
                  limit: int | None = None, no_header: bool = False,
                  datatype: type = np.float32) -> tuple[list[str] | MappedWords, np.ndarray]:
    """Words and vectors (``[n, dim]`` of ``datatype``) of a word2vec text or binary file.

    ``binary=None`` detects the format from the first entries; ``limit`` reads only the first
    N vectors; ``no_header`` reads headerless text files (GloVe); ``unicode_errors``: what
    to do with words that are not UTF-8 (``strict`` raises naming the entry)."""
    path = Path(path)
    if limit is not None and limit < 0:
        raise ModelFormatError(f"limit must be >= 0, got {limit}")
    if no_header:
        if binary:
            raise ModelFormatError(f"{path}: binary word2vec files always have a header (no_header is for text)")
        text_words, vecs = _read_text(path, None, None, limit, unicode_errors, header_lines=0)
        return text_words, vecs.astype(datatype, copy=False)
    with open_binary(path) as f:
        header = f.readline(256)
        n, dim = _parse_header(path, header)
        _check_sizes(path, n, dim, binary)
        if binary is None:
            binary = _detect_binary(path, f, n, dim)
    want = n if limit is None else min(n, limit)
    words: list[str] | MappedWords
    if binary:
        words, vecs = _read_binary(path, len(header), want, dim, unicode_errors)
    else:
        words, vecs = _read_text(path, n, dim, want, unicode_errors, header_lines=1)
    return words, vecs.astype(datatype, copy=False)


def _parse_header(path: Path, header: bytes) -> tuple[int, int]:
    try:
        n, dim = (int(x) for x in header.split())
    except ValueError:
        raise ModelFormatError(f"{path}:1: expected a 'count dim' header, got {header[:60]!r} "
                               "(a GloVe file without header: pass no_header=True)") from None
    if n < 0 or not 0 < dim <= MAX_DIM:
        raise ModelFormatError(f"{path}:1: impossible sizes {n} x {dim}")
    return n, dim


def _check_sizes(path: Path, n: int, dim: int, binary: bool | None) -> None:
    """A header must not promise more entries than the file's bytes could hold (text needs at
    least 2 bytes a value, binary 4; a compressed file at most ~1,100x its size)."""
    size = os.path.getsize(path)
    room = size * 1100 if path.suffix in _COMPRESSED else size
    least = n * dim * (4 if binary else 2)
    if least > room:
        raise ModelFormatError(f"{path}:1: the header claims {n} x {dim} vectors, more than the "
                               f"file's {size} bytes can hold (truncated or not a vectors file)")


def _first_lines(f: IO[bytes], count: int, max_bytes: int) -> list[bytes]:
    pos = f.tell()
    lines = [f.readline(max_bytes) for _ in range(count)]
    f.seek(pos)
    return [ln for ln in lines if ln]


def _text_fields(line: bytes) -> list[bytes] | None:
    """A text entry's fields if the line is one (UTF-8 word, then numbers), else None."""
    if not line.endswith(b"\n") and len(line) > 1 << 20:
        return None
    parts = line.split()
    if len(parts) < 2:
        return None
    try:
        parts[0].decode("utf-8")
        [float(x) for x in parts[1:]]
    except (UnicodeDecodeError, ValueError):
        return None
    return parts


def _detect_binary(path: Path, f: IO[bytes], n: int, dim: int) -> bool:
    """Text if each of the first entries is a word and exactly ``dim`` numbers on one line;
    binary if each is a word, a space, ``4 dim`` bytes of finite floats and a newline or the
    next word; an error when neither (or a text line with the wrong count) fits."""
    lines = _first_lines(f, _PEEK_ENTRIES, 64 * dim + 4096)
    if not lines:
        return False
    fields = [_text_fields(ln) for ln in lines]
    if all(p is not None and len(p) == dim + 1 for p in fields):
        return False
    pos = f.tell()
    raw = f.read(_PEEK_ENTRIES * (4 * dim + 1024))
    f.seek(pos)
    if _looks_binary(raw, dim, min(n, _PEEK_ENTRIES)):
        return True
    first = fields[0]
    if first is not None:
        raise ModelFormatError(f"{path}:2: expected a word and {dim} numbers (the header's dim), "
                               f"got {len(first) - 1} numbers")
    raise ModelFormatError(f"{path}: cannot tell whether this is a text or binary word2vec file "
                           "(pass binary=True/False, --binary/--text on the command line)")


def _looks_binary(raw: bytes, dim: int, entries: int) -> bool:
    """Whether ``raw`` starts with ``entries`` complete binary entries: a word without
    newlines, a space, ``4 dim`` bytes of finite float32."""
    pos = 0
    width = 4 * dim
    for _ in range(entries):
        while pos < len(raw) and raw[pos] == 10:
            pos += 1
        space = raw.find(b" ", pos, pos + 1024)
        if space <= pos or b"\n" in raw[pos:space]:
            return False
        vec = raw[space + 1:space + 1 + width]
        if len(vec) < width or not np.isfinite(np.frombuffer(vec, dtype="<f4")).all():
            return False
        pos = space + 1 + width
    return True


def _decode(raw: bytes, path: Path, entry: int, errors: str) -> str:
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}: entry {entry}: word is not valid UTF-8 "
                               f"(pass unicode_errors='replace' or 'ignore')") from None


_CHUNK_BYTES = 1 << 23    # 8 MB: a chunk stays in cache between the read and the copy out of it
#: matrices this large get their pages prefaulted by a thread (see :func:`_prefaulted_matrix`)
_PREFAULT_MIN_BYTES = 64 << 20
_PREFAULT_STEP = 16 << 20
_MADV_POPULATE_WRITE = 23           # Linux >= 5.14


def _read_binary(path: Path, header_len: int, n: int, dim: int,
                 errors: str) -> tuple[list[str] | MappedWords, np.ndarray]:
    """Binary entries, read 8 MB at a time into one reused buffer: a numba pass finds the
    words and copies the vectors of every complete entry; the unfinished tail moves to the
    buffer's front. Memory: the vectors plus one chunk."""
    vectors, prefaulted = _prefaulted_matrix(n, dim)
    try:
        pieces = _read_binary_entries(path, header_len, n, dim, vectors)
    finally:
        prefaulted()
    joined = np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)
    mapped = _mapped_words(joined, n, path) if errors == "strict" else None
    return (mapped if mapped is not None else _decode_words(joined, n, path, errors)), vectors


def _read_binary_entries(path: Path, header_len: int, n: int, dim: int, vectors: np.ndarray) -> list[np.ndarray]:
    """Fill ``vectors`` from the file's entries; each chunk's words (newline-terminated bytes)."""
    from ._kernels import gather_rows, join_words, scan_binary_entries
    pieces: list[np.ndarray] = []
    width = 4 * dim
    chunk = max(_CHUNK_BYTES, 4 * (width + 1024))
    buf = bytearray(chunk)
    done = carry = 0
    with open_binary(path) as f:
        f.read(header_len)
        while done < n:
            if carry == len(buf):                    # one entry longer than the buffer: grow it
                buf.extend(bytearray(len(buf)))
            got = f.readinto(memoryview(buf)[carry:]) or 0  # type: ignore[attr-defined]
            at_end = got < len(buf) - carry
            view = np.frombuffer(buf, dtype=np.uint8, count=carry + got)
            ws, we, found = scan_binary_entries(view, 0, n - done, dim)
            if not at_end and found > 0:
                found -= 1          # the last entry may end exactly at the chunk's edge: redo it
            if found == 0 and at_end:
                raise ModelFormatError(f"{path}: truncated: {done} of {n} vectors")
            gather_rows(view, we[:found] + 1, vectors[done:done + found].view(np.uint8))
            pieces.append(join_words(view, ws[:found], we[:found]))
            done += found
            rest = int(we[found - 1]) + 1 + width if found else 0
            carry = carry + got - rest
            del view
            buf[:carry] = buf[rest:rest + carry]
    return pieces


def _prefaulted_matrix(n: int, dim: int) -> tuple[np.ndarray, Callable[[], None]]:
    """A fresh float32 ``[n, dim]`` matrix and a function that waits for its prefaulting.

    Faulting in a large fresh array page by page as the reader first writes it cost about as
    much as reading the file (a 1.2 GB matrix); on Linux a thread asks the kernel to populate
    its pages ahead of the reader (``madvise(MADV_POPULATE_WRITE)``, which never changes their
    contents; ctypes releases the GIL) while the main thread reads and copies. Elsewhere, on
    kernels without it and for small matrices: a plain array."""
    size = n * dim * 4
    plain = (np.empty((n, dim), dtype=np.float32), lambda: None)
    if size < _PREFAULT_MIN_BYTES or not sys.platform.startswith("linux"):
        return plain
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
        region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except (OSError, AttributeError, ValueError):
        return plain
    matrix = np.frombuffer(region, dtype=np.float32, count=n * dim).reshape(n, dim)
    base = matrix.ctypes.data
    stop = threading.Event()

    def populate() -> None:
        for off in range(0, size, _PREFAULT_STEP):
            if stop.is_set() or madvise(base + off, min(_PREFAULT_STEP, size - off), _MADV_POPULATE_WRITE) != 0:
                return                        # done with, or a kernel without it: the reader faults pages in

    thread = threading.Thread(target=populate, name="lmkit-prefault", daemon=True)
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join()
    return matrix, finish


def _mapped_words(joined: np.ndarray, n: int, path: Path) -> MappedWords | None:
    """The words as one UTF-8 blob with offsets and a hash table (no Python string per word,
    no dictionary), when every word is valid UTF-8, holds no line break and appears once;
    None otherwise (the caller then decodes word by word, naming a bad entry)."""
    from ._kernels import build_word_table
    data = joined.tobytes()
    if data.count(b"\n") != n:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    newline = joined == 10
    ends = np.flatnonzero(newline)
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = ends - np.arange(n)          # word i ends where its newline was, less i newlines
    blob = joined[~newline]
    table, dup = build_word_table(blob, offsets)
    if dup >= 0:
        return None
    return MappedWords(blob, offsets, table, path)


def _decode_words(joined: np.ndarray, n: int, path: Path, errors: str) -> list[str]:
    """Newline-separated words, decoded at once (word by word only to name a bad entry)."""
    data = joined.tobytes()
    try:
        words = data.decode("utf-8").split("\n")[:-1]
    except UnicodeDecodeError:
        if errors == "strict":
            parts = data.split(b"\n")[:-1]
            for i, w in enumerate(parts):
                _decode(w, path, i + 1, errors)
        words = data.decode("utf-8", errors=errors).split("\n")[:-1]
    if len(words) != n:   # a word held a line break of its own: words cannot be told apart
        raise ModelFormatError(f"{path}: a word contains a line break")
    return words


def _read_text(path: Path, n: int | None, dim: int | None, want: int | None, errors: str,
               header_lines: int) -> tuple[list[str], np.ndarray]:
    """Text entries, parsed a block of lines at a time (one C-level number parse per block);
    a bad block is re-read line by line to name the line at fault."""
    words: list[str] = []
    blocks: list[np.ndarray] = []
    # with a header the final array is allocated once and filled block by block
    filled = np.empty((want, dim), np.float32) if want is not None and dim is not None else None
    line_no = header_lines
    with open_binary(path) as f:
        for _ in range(header_lines):
            f.readline()
        while want is None or len(words) < want:
            take = _TEXT_BLOCK_LINES if want is None else min(_TEXT_BLOCK_LINES, want - len(words))
            lines = [ln for ln in (f.readline() for _ in range(take))]
            lines = [ln for ln in lines if ln]
            if not lines:
                break
            if dim is None:
                first = lines[0].split()
                dim = len(first) - 1
                if dim < 1:
                    raise ModelFormatError(f"{path}:{line_no + 1}: expected a word and its numbers")
            heads, tails = [], []
            for ln in lines:
                head, _, tail = ln.strip(b"\r\n ").partition(b" ")
                heads.append(head)
                tails.append(tail)
            values = _parse_numbers(b" ".join(tails)) if all(tails) else np.zeros(0, np.float32)
            if values.size != len(lines) * dim or not np.isfinite(values).all():
                _raise_bad_line(path, lines, line_no, dim)
            if filled is not None:
                filled[len(words):len(words) + len(lines)] = values.reshape(len(lines), dim)
            else:
                blocks.append(values.reshape(len(lines), dim))
            words.extend(_decode(h, path, line_no + i + 1, errors) for i, h in enumerate(heads))
            line_no += len(lines)
    if n is not None and want is not None and len(words) < want:
        raise ModelFormatError(f"{path}: truncated: {len(words)} of {n} vectors")
    if filled is not None:
        return words, filled[:len(words)]
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, dim or 0), np.float32)
    return words, vectors


def _parse_numbers(text: bytes) -> np.ndarray:
    """Space-separated decimals in one C-level pass (a partial parse shows in the size)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.fromstring(text, dtype=np.float32, sep=" ")
        except ValueError:      # newer numpy: an unparsable entry raises instead of stopping
            return np.zeros(0, np.float32)


def _raise_bad_line(path: Path, lines: list[bytes], line_no: int, dim: int) -> None:
    for i, ln in enumerate(lines):
        parts = ln.split()
        where = f"{path}:{line_no + i + 1}"
        if len(parts) != dim + 1:
            raise ModelFormatError(f"{where}: expected a word and {dim} numbers, got {len(parts) - 1} numbers")
        try:
            values = np.array([float(x) for x in parts[1:]])
        except ValueError:
            raise ModelFormatError(f"{where}: a vector value is not a number") from None
        if not np.isfinite(values).all():
            raise ModelFormatError(f"{where}: a vector value is not finite")
    raise ModelFormatError(f"{path}: lines {line_no + 1}-{line_no + len(lines)} do not parse as vectors")


def read_vocab_counts(path: str | os.PathLike) -> dict[str, int]:
    """``word count`` lines (the C tool's ``-save-vocab`` file, gensim's ``fvocab``)."""
    counts: dict[str, int] = {}
    with open_binary(path) as f:
        for n, raw in enumerate(f, 1):
            parts = raw.decode("utf-8", errors="replace").split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ModelFormatError(f"{path}:{n}: expected 'word count'")
            try:
                counts[parts[0]] = int(parts[1])
            except ValueError:
                raise ModelFormatError(f"{path}:{n}: count {parts[1]!r} is not a whole number") from None
    return counts
