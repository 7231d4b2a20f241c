"""ARPA back-off language model files: read and write (``.gz`` too).

Written like KenLM's lmplz: a ``\\data\\`` header, then one section per order of
``log10 p <TAB> w1 ... wk [<TAB> log10 backoff]`` lines; ``<s>`` gets probability 0 (it is never
predicted). Reading accepts SRILM's and KenLM's files (tabs or spaces; ``-99`` for log 0).
"""
from __future__ import annotations

import logging
import os
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from .._io import atomic_write, open_binary
from .._numfmt import format_g
from ..errors import ConfigError, ModelFormatError
from ..progress import progress
from ..text import BOS, DEFAULT_SPECIALS, EOS, UNK, Vocabulary, utf8_blob, utf8_strings
from . import _kernels as K

log = logging.getLogger(__name__)
_NGRAM_LINE = re.compile(rb"^ngram (\d+)\s*=\s*(\d+)\s*$")
LOG_ZERO = -99.0
MAX_ARPA_ORDER = 64
#: what an unknown word scores when the file has no <unk> (KenLM's unknown_missing_logprob)
MISSING_UNK_LOGPROB = -100.0


def _number_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log10 values spelled as ARPA files show them: 8 significant digits, ``0`` for zero,
    ``-99`` for log 0 (see :func:`lmkit._numfmt.format_g` for the layout)."""
    v = np.where(np.isfinite(values), values, np.float32(LOG_ZERO)).astype(np.float32)
    v[v == 0] = 0.0  # no "-0"
    return format_g(v, 8)


def ngram_rows(ctx: list[np.ndarray], word: list[np.ndarray], k: int, lo: int, hi: int) -> np.ndarray:
    """The words of order-``k`` n-grams ``lo..hi-1`` as int32 rows ``[hi - lo, k]``, found
    by following each n-gram's context id down the orders."""
    rows = np.empty((hi - lo, k), dtype=np.int32)
    at = np.arange(lo, hi)
    for j in range(k - 1, -1, -1):
        rows[:, j] = word[j][at]
        if j:
            at = ctx[j][at]
    return rows


def ngram_strings(itos: list[str], ctx: list[np.ndarray], word: list[np.ndarray]) -> list[list[str]]:
    """The text of every n-gram, order by order ("w1 w2 ... wk")."""
    out: list[list[str]] = []
    for k in range(len(word)):
        if k == 0:
            out.append([itos[w] for w in word[0].tolist()])
        else:
            lower = out[k - 1]
            out.append([f"{lower[c]} {itos[w]}" for c, w in zip(ctx[k].tolist(), word[k].tolist())])
    return out


#: the line that ends an ARPA file (after a blank line)
ARPA_END = b"\n\\end\\\n"


def arpa_header(sizes: list[int]) -> bytes:
    """``\\data\\`` and one ``ngram k=n`` line per order."""
    return b"\\data\\\n" + b"".join(f"ngram {k}={n}\n".encode() for k, n in enumerate(sizes, start=1))


def section_start(k: int) -> bytes:
    """The blank line and ``\\k-grams:`` heading before order k's lines."""
    return f"\n\\{k}-grams:\n".encode()


def write_arpa(model, path: str | os.PathLike, quiet: bool | None = None) -> None:
    """Write ``model`` (an :class:`~lmkit.ngram.NgramModel`) as an ARPA file, atomically.

    Additive ('add') models cannot be written: ARPA readers back off to lower orders where
    such a model falls back to the uniform distribution. Stupid-backoff files are written
    with a warning: readers apply the 0.4 step only where a context is listed."""
    if not model.is_backoff_model:
        raise ConfigError(f"{path}: an additive ('add') model is not a backoff model and cannot be "
                          "written as ARPA; save it as .lmk, or train with 'add-backoff'")
    if model.meta.get("unseen_context_backoff", 0.0):
        log.warning("%s: ARPA readers will not apply stupid backoff's factor after contexts "
                    "the model never saw; lmkit's .lmk format keeps it", path)
    N = model.order
    listed = [np.ones(len(w), bool) if model.blank is None else ~model.blank[k] for k, w in enumerate(model.word)]
    blob, offsets = utf8_blob(model.vocab.itos)
    with atomic_write(path, "wb") as out:
        out.write(arpa_header([int(m.sum()) for m in listed]))
        bar = progress(total=sum(len(w) for w in model.word), desc="writing ARPA", unit="n-gram", quiet=quiet)
        pieces = [(k, lo, min(lo + _LINES_PER_CHUNK, len(model.word[k])))
                  for k in range(N) for lo in range(0, max(len(model.word[k]), 1), _LINES_PER_CHUNK)]

        def spell(piece: tuple[int, int, int]) -> np.ndarray:
            k, lo, hi = piece
            return _arpa_chunk(model, k, lo, hi, listed[k][lo:hi], blob, offsets)

        # the kernels release the GIL: pieces are spelled on two threads while this one writes
        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            pending: deque = deque()
            for i, piece in enumerate(pieces):
                pending.append((piece, pool.submit(spell, piece)))
                while len(pending) > 2 * _THREADS or (pending and i == len(pieces) - 1):
                    (k, lo, hi), spelled = pending.popleft()
                    if lo == 0:
                        out.write(section_start(k + 1))
                    out.write(spelled.result())
                    bar.update(hi - lo)
        bar.close()
        out.write(ARPA_END)


_LINES_PER_CHUNK = 1 << 17
_THREADS = 2


def _arpa_chunk(model, k: int, lo: int, hi: int, keep: np.ndarray, blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The ARPA lines of order ``k + 1``'s n-grams ``lo..hi-1`` (those ``keep`` marks)."""
    rows = ngram_rows(model.ctx, model.word, k + 1, lo, hi)
    backoff = model.log_backoffs[k][lo:hi] if k < model.order - 1 else None
    return arpa_text(rows, model.log_probs[k][lo:hi], backoff, keep, blob, offsets)


def arpa_text(rows: np.ndarray, log_probs: np.ndarray, log_backoffs: np.ndarray | None, keep: np.ndarray,
              blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The ARPA lines (uint8 bytes) of n-grams ``rows`` (int32 ``[n, k]`` word ids) with their
    float32 log10 probabilities and backoffs (None: the highest order, no backoff column), only
    those ``keep`` marks; words spelled from the vocabulary's :func:`utf8_blob`."""
    prob_txt, prob_len = _number_text(log_probs)
    if log_backoffs is not None:
        bo_txt, bo_len = _number_text(log_backoffs)
    else:
        bo_txt, bo_len = prob_txt[:0], prob_len[:0]
    return K.arpa_lines(np.ascontiguousarray(rows), prob_txt, prob_len, bo_txt, bo_len,
                        np.ascontiguousarray(keep), blob, offsets)


def read_arpa(path: str | os.PathLike, quiet: bool | None = None):
    """Read an ARPA file: the vocabulary and per order the (ctx, word, logprob, backoff) arrays
    sorted by (ctx, word) like counted models (views of :class:`ArpaArrays`; its hash tables
    over the orders read so far find contexts while reading). Every count, value and reference is
    checked: the header's counts against the file's size, values finite (log10 probabilities
    <= 0), each n-gram's context present, nothing after the last declared section but ``\\end\\``.

    The text is parsed by a numba kernel in blocks of whole lines (memory: one block plus the
    arrays); numbers that are not plain decimals are parsed by Python's ``float``, so every
    value is the one ``float()`` gives."""
    with open_binary(path) as f, ThreadPoolExecutor(max_workers=_THREADS) as pool:
        rd = _Blocks(f)
        lines = rd.lines()
        declared = _read_header(path, lines)
        N = len(declared)
        bar = progress(total=sum(declared), desc="reading ARPA", unit="n-gram", quiet=quiet)
        words = _TokenTable(declared[0])
        _find_heading(path, lines, 1)
        unigrams = _SectionParser(path, rd, 1, declared[0], words, None, 0, pool).parse()
        bar.update(declared[0])
        itos = _unigrams(path, words, unigrams)
        V = len(itos)
        arrays = ArpaArrays.allocate([V] + declared[1:])
        arrays.place_unigrams(words.remap, unigrams)
        _expect_section_end(path, lines, 1, declared[0])
        for k in range(2, N + 1):
            _find_heading(path, lines, k)
            sec = _SectionParser(path, rd, k, declared[k - 1], words, arrays, V, pool).parse()
            bar.update(declared[k - 1])
            arrays.fill(k, _sort_section(path, sec, V, k))
            _expect_section_end(path, lines, k, declared[k - 1])
        _read_end(path, lines, N)
        bar.close()
    lp, bo = arrays.per_order(arrays.logprob), arrays.per_order(arrays.backoff)
    lp[0][itos.index(BOS)] = 0.0
    arrays.backoff[arrays.gram_start[N]:] = 0.0       # the highest order has none
    bo[-1] = np.zeros(0, np.float32)
    vocab = Vocabulary(itos, np.zeros(len(itos), np.int64))
    return vocab, arrays.per_order(arrays.ctx), arrays.per_order(arrays.word), lp, bo


class _Blocks:
    """A file read in blocks: ``raw`` (bytes; ``data`` views it as uint8) holds the unread text
    from ``pos`` on; ``line`` counts the lines consumed so far."""

    SIZE = 1 << 24

    def __init__(self, f) -> None:
        self.f = f
        self.raw = b""
        self.data = np.zeros(0, np.uint8)
        self.pos = 0
        self.eof = False
        self.line = 0

    def more(self) -> bool:
        """Append the next block to the unread text (False at the end of the file)."""
        chunk = self.f.read(self.SIZE)
        if not chunk:
            self.eof = True
            return False
        self.raw = self.raw[self.pos:] + chunk
        self.data = np.frombuffer(self.raw, np.uint8)
        self.pos = 0
        return True

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """(line number, bytes) from the current position on, read lazily (the position may
        move between two lines: the section parser consumes lines too)."""
        while True:
            end = self.raw.find(b"\n", self.pos)
            while end < 0 and not self.eof and self.more():
                end = self.raw.find(b"\n", self.pos)
            if end < 0:
                if self.pos >= len(self.raw):
                    return
                end = len(self.raw) - 1
            line = self.raw[self.pos:end + 1]
            self.pos = end + 1
            self.line += 1
            yield self.line, line

    def line_at(self, lo: int) -> bytes:
        """The whole line around byte ``lo`` of the unread text."""
        start = self.raw.rfind(b"\n", 0, lo) + 1
        end = self.raw.find(b"\n", lo)
        return self.raw[start:end if end >= 0 else len(self.raw)]


class _TokenTable:
    """The unigrams' words as the text layer's token table (see :mod:`lmkit.text._kernels`),
    sized for the declared count, and ``remap``: file order -> word id."""

    def __init__(self, n_unigrams: int) -> None:
        pairs = 16
        while pairs < 2 * (n_unigrams + 1):
            pairs *= 2
        self.table = np.full(2 * pairs, -1, np.int64)
        self.hashes = np.zeros(n_unigrams + 1, np.uint64)
        self.offsets = np.zeros(n_unigrams + 2, np.int64)
        self.blob = np.zeros(max(16, 8 * n_unigrams), np.uint8)
        self.remap = np.zeros(0, np.int32)
        self.n_types = 0

    def grow_blob(self, need: int) -> None:
        bigger = np.zeros(2 * len(self.blob) + need, np.uint8)
        bigger[:len(self.blob)] = self.blob
        self.blob = bigger


@dataclass
class ArpaArrays:
    """What reading fills: the model's arrays concatenated over the orders (order k's n-grams
    are entries ``gram_start[k] .. gram_start[k] + sizes[k - 1] - 1``, sorted by (context,
    word)), and the hash tables of orders 2..N over (context id * V + word) -> position
    (order k's is ``keys[start[k]:start[k] + cap[k]]``), in the layout :func:`K.score_tokens` reads."""
    sizes: list[int]
    ctx: np.ndarray
    word: np.ndarray
    logprob: np.ndarray
    backoff: np.ndarray
    gram_start: np.ndarray
    keys: np.ndarray
    vals: np.ndarray
    start: np.ndarray
    cap: np.ndarray

    @classmethod
    def allocate(cls, sizes: list[int]) -> ArpaArrays:
        N, total = len(sizes), sum(sizes)
        start = np.zeros(N + 1, np.int64)
        cap = np.zeros(N + 1, np.int64)
        pos = 0
        for k in range(2, N + 1):
            c = 16
            while c < 2 * sizes[k - 1]:
                c *= 2
            start[k], cap[k] = pos, c
            pos += c
        gram_start = np.zeros(N + 1, np.int64)
        gram_start[1:] = np.cumsum([0] + sizes[:-1])
        dtype = np.int32 if max(sizes) < 2 ** 31 - 1 else np.int64
        return cls(sizes, np.zeros(total, np.int64), np.zeros(total, np.int32), np.zeros(total, np.float32),
                   np.zeros(total, np.float32), gram_start, np.full(pos, -1, np.int64), np.full(pos, -1, dtype),
                   start, cap)

    def order(self, arr: np.ndarray, k: int) -> np.ndarray:
        """Order k's slice of one of the concatenated arrays (a view)."""
        lo = int(self.gram_start[k])
        return arr[lo:lo + self.sizes[k - 1]]

    def per_order(self, arr: np.ndarray) -> list[np.ndarray]:
        return [self.order(arr, k) for k in range(1, len(self.sizes) + 1)]

    def section(self, k: int, first_line: int) -> _Section:
        """Order k's slices, for the parser to fill in file order."""
        return _Section(self.order(self.logprob, k), self.order(self.backoff, k), self.order(self.ctx, k),
                        self.order(self.word, k), first_line)

    def place_unigrams(self, remap: np.ndarray, sec: _Section) -> None:
        """Unigram values from file order to word ids; the specials the file lacks get log 0."""
        V = self.sizes[0]
        p1, b1 = self.logprob[:V], self.backoff[:V]
        p1[:] = -np.inf
        p1[remap] = sec.probs
        b1[remap] = sec.bows
        self.word[:V] = np.arange(V, dtype=np.int32)
        if len(remap) < V:
            p1[DEFAULT_SPECIALS.index(UNK)] = MISSING_UNK_LOGPROB

    def fill(self, k: int, keys: np.ndarray) -> None:
        """Order k's sorted keys into its hash table."""
        K.fill_hash(keys, self.keys, self.vals, self.start[k], self.cap[k])


@dataclass
class _Section:
    """One order as parsed, in file order: log10 probabilities and backoffs (float32), each
    n-gram's prefix id (int64), last word (int32; for unigrams its place in the file), and
    the line number of the section's first n-gram."""
    probs: np.ndarray
    bows: np.ndarray
    ctx: np.ndarray
    wid: np.ndarray
    first_line: int


_SLOW_ROWS = 4096
#: a block's rest is parsed by two threads (two halves of its lines) when it is at least this long
_PARALLEL_BYTES = 1 << 20


class _Part:
    """The kernel's state for one run of lines: position, counts, slow numbers, the cached
    prefix and the search hints (see :func:`K.parse_arpa_lines`)."""

    def __init__(self, k: int, state: np.ndarray | None = None) -> None:
        self.state = np.zeros(7, np.int64) if state is None else state.copy()
        self.slow = np.zeros((_SLOW_ROWS, 4), np.int64)
        self.prev_w = np.zeros(max(k, 1), np.int32)
        self.prev_id = np.zeros(max(k, 1), np.int64)
        self.hint = np.zeros(max(k, 1), np.int64)


class _SectionParser:
    """Parses one order's ``want`` lines from a :class:`_Blocks` reader into a :class:`_Section`."""

    def __init__(self, path, rd: _Blocks, k: int, want: int, words: _TokenTable, arrays: ArpaArrays | None,
                 V: int, pool: ThreadPoolExecutor | None) -> None:
        """``arrays``: where orders >= 2 are parsed to (and whose lower orders they look up);
        None for the unigrams, parsed to arrays of their own in file order."""
        self.path, self.rd, self.k, self.want = path, rd, k, want
        self.words, self.arrays, self.V, self.pool = words, arrays or ArpaArrays.allocate([0]), V, pool
        if arrays is None:
            self.sec = _Section(np.empty(want, np.float32), np.zeros(want, np.float32), np.zeros(want, np.int64),
                                np.zeros(want, np.int32), rd.line + 1)
        else:
            self.sec = arrays.section(k, rd.line + 1)

    def parse(self) -> _Section:
        rd, k, want = self.rd, self.k, self.want
        part = _Part(k)
        part.state[K.ST_TYPES] = self.words.n_types
        while True:
            part.state[K.ST_POS] = rd.pos
            before = int(part.state[K.ST_I])
            status, part = self._two_halves(part) or (self._run(part, rd.data, rd.eof), part)
            rd.pos = int(part.state[K.ST_POS])
            rd.line += int(part.state[K.ST_I]) - before
            if status >= K.ARPA_BAD_LINE:
                _raise_line_error(self.path, rd, k, want, self.sec, part.state)
            if status == K.ARPA_DONE:
                self.words.n_types = int(part.state[K.ST_TYPES])
                return self.sec
            if status == K.ARPA_MORE:
                rd.more()            # at the end of the file rd.eof is set: the last line may lack "\n"
            elif status == K.ARPA_EOF:
                raise ModelFormatError(f"{self.path}: truncated: {int(part.state[K.ST_I])} of {want} "
                                       f"{k}-grams before the end of file")
            elif status == K.ARPA_ROOM:
                self.words.grow_blob(len(rd.data) - rd.pos)

    def _run(self, part: _Part, data: np.ndarray, final: bool) -> int:
        """Kernel calls over ``data`` from the part's position until it stops for anything but a
        full list of slow numbers (those are parsed here, in Python, as they come)."""
        w, t, sec = self.words, self.arrays, self.sec
        while True:
            K.parse_arpa_lines(data, final, self.k, self.want, self.V, part.state, w.table, w.hashes, w.blob,
                               w.offsets, w.remap, t.keys, t.vals, t.start, t.cap, t.ctx, t.word, t.gram_start,
                               sec.probs, sec.bows, sec.ctx, sec.wid, part.slow, part.prev_w, part.prev_id,
                               part.hint)
            status = int(part.state[K.ST_STATUS])
            upto = int(part.state[K.ST_I]) if status >= K.ARPA_BAD_LINE else None
            _fix_slow(self.path, self.rd, self.k, self.want, sec, part.slow, int(part.state[K.ST_SLOW]), upto)
            part.state[K.ST_SLOW] = 0
            if status != K.ARPA_SLOW_FULL:
                return status

    def _two_halves(self, part: _Part) -> tuple[int, _Part] | None:
        """The rest of the block parsed as two halves of its lines on two threads (orders >= 2,
        whose parse only reads shared tables), when it is long and the section goes on past the
        first half; None otherwise."""
        rd = self.rd
        pos, i0 = rd.pos, int(part.state[K.ST_I])
        if self.pool is None or self.k == 1 or len(rd.raw) - pos < _PARALLEL_BYTES:
            return None
        mid = rd.raw.find(b"\n", pos + (len(rd.raw) - pos) // 2) + 1
        if mid <= 0:
            return None
        n_first = rd.raw.count(b"\n", pos, mid)
        if i0 + n_first >= self.want:
            return None
        second = _Part(self.k, part.state)
        second.state[K.ST_POS], second.state[K.ST_I], second.state[K.ST_PREFIX] = mid, i0 + n_first, 0
        first = self.pool.submit(self._run, part, rd.data[:mid], False)
        rest = self.pool.submit(self._run, second, rd.data, rd.eof)
        try:
            status = first.result()
        except BaseException:
            wait([rest])
            raise
        if status != K.ARPA_MORE:        # the first half stopped at a bad line
            wait([rest])
            return status, part
        return rest.result(), second


def _read_header(path, lines) -> list[int]:
    """The ``\\data\\`` block: n-gram counts per order, checked against the file's size."""
    for n, raw in lines:
        s = raw.strip()
        if s == b"\\data\\":
            break
        if s:
            raise ModelFormatError(f"{path}:{n}: expected '\\data\\' first; this is not an ARPA file")
    else:
        raise ModelFormatError(f"{path}: no '\\data\\' line; this is not an ARPA file")
    declared: list[int] = []
    for n, raw in lines:
        s = raw.strip()
        if not s:
            if declared:
                break
            continue
        m = _NGRAM_LINE.match(s)
        if not m:
            raise ModelFormatError(f"{path}:{n}: expected 'ngram K=COUNT', got {s[:60]!r}")
        if int(m.group(1)) != len(declared) + 1:
            raise ModelFormatError(f"{path}:{n}: ngram orders must be listed 1, 2, ... in turn")
        if len(declared) >= MAX_ARPA_ORDER:
            raise ModelFormatError(f"{path}:{n}: more than {MAX_ARPA_ORDER} orders")
        declared.append(int(m.group(2)))
    if not declared:
        raise ModelFormatError(f"{path}: the \\data\\ header lists no n-gram counts")
    size = os.path.getsize(path)
    room = size * 1100 if str(path).endswith((".gz", ".bz2", ".xz")) else size
    least = sum(c * (2 * k + 2) for k, c in enumerate(declared, 1))   # "p w1 .. wk" needs that many bytes
    if least > room:
        raise ModelFormatError(f"{path}: the header declares {sum(declared)} n-grams, more than the "
                               f"file's {size} bytes can hold (truncated or damaged)")
    return declared


def _find_heading(path, lines, k: int) -> None:
    """Skip blank lines up to the ``\\k-grams:`` heading."""
    header = f"\\{k}-grams:".encode()
    for n, raw in lines:
        s = raw.strip()
        if s == header:
            return
        if s:
            raise ModelFormatError(f"{path}:{n}: expected '{header.decode()}', got {s[:60]!r}")
    raise ModelFormatError(f"{path}: truncated: the {k}-gram section is missing")


def _expect_section_end(path, lines, k: int, want: int) -> None:
    """The line after a section's last n-gram must be blank (or the end of the file)."""
    for n, raw in lines:
        if raw.strip():
            raise ModelFormatError(f"{path}:{n}: more {k}-grams than the {want} declared")
        return


def _check_line(path, n: int, raw: bytes, k: int, i: int, want: int) -> tuple[float, float, list[str]]:
    """One order-k line checked as text: (log10 p, log10 backoff, words), or the error that
    names what is wrong with it."""
    try:
        parts = raw.decode("utf-8").split()
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}:{n}: line is not valid UTF-8") from None
    if not parts:
        raise ModelFormatError(f"{path}:{n}: truncated: {i} of {want} {k}-grams before a blank line")
    if len(parts) not in (k + 1, k + 2):
        raise ModelFormatError(f"{path}:{n}: expected 'logprob' + {k} words [+ backoff], got {len(parts)} fields")
    try:
        p = float(parts[0])
        b = float(parts[-1]) if len(parts) == k + 2 else 0.0
    except ValueError:
        raise ModelFormatError(f"{path}:{n}: not a number in {' '.join(parts)[:60]!r}") from None
    if not (-1e30 < p <= 0.0 and -1e30 < b < 1e30):
        raise ModelFormatError(f"{path}:{n}: impossible value in {' '.join(parts)[:60]!r} (log10 "
                               "probabilities are finite and <= 0, backoffs finite)")
    return p, b, parts[1:k + 1]


def _fix_slow(path, rd: _Blocks, k: int, want: int, sec: _Section, slow: np.ndarray, n_slow: int,
              upto: int | None = None) -> None:
    """Numbers the kernel left to Python (not plain decimals), for n-grams below ``upto``:
    each line is checked as a whole, so a bad one gets the same message as any other."""
    for i, field, lo, _hi in slow[:n_slow].tolist():
        if upto is not None and i >= upto:
            continue
        p, b, _ = _check_line(path, sec.first_line + i, rd.line_at(lo), k, i, want)
        if field == 0:
            sec.probs[i] = -np.inf if p <= LOG_ZERO else p
        else:
            sec.bows[i] = b


def _raise_line_error(path, rd: _Blocks, k: int, want: int, sec: _Section, state: np.ndarray):
    """The message for the line the kernel stopped at (``state``)."""
    i = int(state[K.ST_I])
    n = sec.first_line + i
    raw = rd.line_at(int(state[K.ST_POS]))
    _, _, gram = _check_line(path, n, raw, k, i, want)   # raises for what is wrong as text
    status = int(state[K.ST_STATUS])
    if status == K.ARPA_DUPLICATE_UNIGRAM:
        raise ModelFormatError(f"{path}:{n}: unigram {gram[0]!r} is listed twice")
    if status == K.ARPA_NOT_UNIGRAM:
        word = gram[int(state[K.ST_ERR_WORD])]
        raise ModelFormatError(f"{path}:{n}: word {word!r} of this {k}-gram is not a unigram")
    if status == K.ARPA_NO_CONTEXT:
        raise ModelFormatError(f"{path}:{n}: the context {' '.join(gram[:-1])!r} of this {k}-gram is not "
                               f"a {k - 1}-gram of the file")
    raise ModelFormatError(f"{path}:{n}: cannot read this {k}-gram line")   # pragma: no cover


def _unigrams(path, words: _TokenTable, sec: _Section) -> list[str]:
    """The vocabulary (specials first, then the file's order); sets ``words.remap`` (file
    order -> word id)."""
    n = words.n_types
    listed = utf8_strings(words.blob, words.offsets, 0, n)
    where = {w: listed.index(w) for w in DEFAULT_SPECIALS if w in listed}
    if BOS not in where or EOS not in where:
        raise ModelFormatError(f"{path}: the unigrams lack {BOS} or {EOS}")
    special = np.zeros(n, bool)
    special[list(where.values())] = True
    remap = np.empty(n, np.int32)
    remap[~special] = np.arange(len(DEFAULT_SPECIALS), len(DEFAULT_SPECIALS) + n - len(where), dtype=np.int32)
    for j, w in enumerate(DEFAULT_SPECIALS):
        if w in where:
            remap[where[w]] = j
    words.remap = remap
    if UNK not in where:
        log.warning("%s: no <unk> unigram; OOV words get log10 p = %g (as KenLM)", path, MISSING_UNK_LOGPROB)
    return list(DEFAULT_SPECIALS) + [w for w, s in zip(listed, special.tolist()) if not s]


def _sort_section(path, sec: _Section, V: int, k: int) -> np.ndarray:
    """Sort order k's arrays (in place) by (context, word); return their keys (context * V +
    word). A duplicate n-gram is an error naming its line."""
    keys = sec.ctx * V + sec.wid
    if len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1])):
        return keys                         # files lmkit writes are in this order
    perm = K.radix_argsort(keys)
    keys = keys[perm]
    dup = np.flatnonzero(np.diff(keys) == 0)
    if len(dup):
        raise ModelFormatError(f"{path}:{sec.first_line + perm[dup[0] + 1]}: this {k}-gram is listed twice")
    for arr in (sec.ctx, sec.wid, sec.probs, sec.bows):
        arr[:] = arr[perm]
    return keys


def _read_end(path, lines, N: int) -> None:
    for n, raw in lines:
        s = raw.strip()
        if not s:
            continue
        if s == b"\\end\\":
            break
        raise ModelFormatError(f"{path}:{n}: expected '\\end\\' after the {N} declared orders, got {s[:60]!r}")
    else:
        raise ModelFormatError(f"{path}: truncated: no '\\end\\' line")
    for n, raw in lines:
        if raw.strip():
            raise ModelFormatError(f"{path}:{n}: text after '\\end\\'")
