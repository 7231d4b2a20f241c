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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .._io import atomic_write, open_binary
from .._numfmt import format_g
from ..errors import ConfigError, ModelFormatError
from ..progress import progress
from ..text import BOS, DEFAULT_SPECIALS, EOS, UNK, Vocabulary, utf8_blob
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


@dataclass
class _Section:
    """The n-grams of one order as read: log10 probabilities and backoffs, each n-gram's
    context id in the order below (0 for unigrams), last word, text and line number."""
    probs: np.ndarray
    bows: np.ndarray
    ctx: np.ndarray
    words: list[str]
    texts: list[str]
    lines: np.ndarray


def read_arpa(path: str | os.PathLike, quiet: bool | None = None):
    """Read an ARPA file into (vocab, ctx, word, logprob, backoff) arrays per order, sorted
    by (ctx, word) like counted models. Every count, value and reference is checked: the
    header's counts against the file's size, values finite (log10 probabilities <= 0), each
    n-gram's context present, nothing after the last declared section but ``\\end\\``."""
    with open_binary(path) as f:
        lines = iter(enumerate(f, 1))
        declared = _read_header(path, lines)
        N = len(declared)
        bar = progress(total=sum(declared), desc="reading ARPA", unit="n-gram", quiet=quiet)
        ids_prev: dict[str, int] = {}
        stoi: dict[str, int] = {}
        itos: list[str] = []
        ctx_all: list[np.ndarray] = []
        word_all: list[np.ndarray] = []
        lp_all: list[np.ndarray] = []
        bo_all: list[np.ndarray] = []
        has_unk = True
        for k in range(1, N + 1):
            sec = _read_section(path, lines, k, declared[k - 1], ids_prev)
            bar.update(declared[k - 1])
            if k == 1:
                itos, stoi, has_unk, arrays = _unigrams(path, sec)
                ids_prev = {t: j for j, t in enumerate(itos)}
            else:
                arrays, perm = _higher_order(path, sec, stoi, k)
                if k < N:
                    ids_prev = {sec.texts[j]: r for r, j in enumerate(perm.tolist())}
            for store, a in zip((ctx_all, word_all, lp_all, bo_all), arrays):
                store.append(a)
        _read_end(path, lines, N)
        bar.close()
    for k in range(N):
        lp_all[k][lp_all[k] <= LOG_ZERO] = -np.inf
    lp_all[0][itos.index(BOS)] = 0.0
    if not has_unk:
        lp_all[0][itos.index(UNK)] = MISSING_UNK_LOGPROB
    bo_all[-1] = np.zeros(0)
    vocab = Vocabulary(itos, np.zeros(len(itos), np.int64))
    return vocab, ctx_all, word_all, lp_all, bo_all


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


def _read_section(path, lines, k: int, want: int, ids_prev: dict[str, int]) -> _Section:
    header = f"\\{k}-grams:".encode()
    for n, raw in lines:
        s = raw.strip()
        if s == header:
            break
        if s:
            raise ModelFormatError(f"{path}:{n}: expected '{header.decode()}', got {s[:60]!r}")
    else:
        raise ModelFormatError(f"{path}: truncated: the {k}-gram section is missing")
    sec = _Section(np.empty(want, np.float64), np.zeros(want, np.float64), np.zeros(want, np.int64),
                   [], [], np.empty(want, np.int64))
    i = 0
    for n, raw in lines:
        if i == want:
            if raw.strip():
                raise ModelFormatError(f"{path}:{n}: more {k}-grams than the {want} declared")
            break
        _parse_line(path, n, raw, k, i, sec, ids_prev)
        i += 1  # noqa: SIM113 (counts parsed lines; the loop may stop before the iterator ends)
    else:
        if i < want:
            raise ModelFormatError(f"{path}: truncated: {i} of {want} {k}-grams before the end of file")
    return sec


def _parse_line(path, n: int, raw: bytes, k: int, i: int, sec: _Section, ids_prev: dict[str, int]) -> None:
    try:
        parts = raw.decode("utf-8").split()
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}:{n}: line is not valid UTF-8") from None
    if not parts:
        raise ModelFormatError(f"{path}:{n}: truncated: {i} of {len(sec.probs)} {k}-grams before a blank line")
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
    gram = parts[1:k + 1]
    if k > 1:
        prefix = " ".join(gram[:-1])
        c = ids_prev.get(prefix)
        if c is None:
            raise ModelFormatError(f"{path}:{n}: the context {prefix!r} of this {k}-gram is not a "
                                   f"{k - 1}-gram of the file")
        sec.ctx[i] = c
    sec.probs[i], sec.bows[i], sec.lines[i] = p, b, n
    sec.words.append(gram[-1])
    sec.texts.append(" ".join(gram))


def _unigrams(path, sec: _Section):
    """Vocabulary (specials first) and the unigram arrays, indexed by word id."""
    itos = _unigram_vocab(sec.words, path)
    stoi = {t: j for j, t in enumerate(itos)}
    V = len(itos)
    wid = np.array([stoi[w] for w in sec.words], dtype=np.int64)
    p1 = np.full(V, LOG_ZERO)
    b1 = np.zeros(V)
    p1[wid] = sec.probs
    b1[wid] = sec.bows
    has_unk = UNK in stoi and UNK in set(sec.words)
    if not has_unk:
        log.warning("%s: no <unk> unigram; OOV words get log10 p = %g (as KenLM)", path, MISSING_UNK_LOGPROB)
    return itos, stoi, has_unk, (np.zeros(V, np.int64), np.arange(V, dtype=np.int32), p1, b1)


def _higher_order(path, sec: _Section, stoi: dict[str, int], k: int):
    """Order-k arrays sorted by (context, word), and the sorting permutation."""
    try:
        wid = np.array([stoi[w] for w in sec.words], dtype=np.int64)
    except KeyError as exc:
        raise ModelFormatError(f"{path}: word {exc.args[0]!r} of the {k}-grams is not a unigram") from None
    keys = sec.ctx * len(stoi) + wid
    perm = np.argsort(keys, kind="stable")
    dup = np.flatnonzero(np.diff(keys[perm]) == 0)
    if len(dup):
        raise ModelFormatError(f"{path}:{sec.lines[perm[dup[0] + 1]]}: this {k}-gram is listed twice")
    return (sec.ctx[perm], wid[perm].astype(np.int32), sec.probs[perm], sec.bows[perm]), perm


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


def _unigram_vocab(words: list[str], path) -> list[str]:
    seen = set()
    for w in words:
        if w in seen:
            raise ModelFormatError(f"{path}: unigram {w!r} is listed twice")
        seen.add(w)
    if BOS not in seen or EOS not in seen:
        raise ModelFormatError(f"{path}: the unigrams lack {BOS} or {EOS}")
    return list(DEFAULT_SPECIALS) + [w for w in words if w not in DEFAULT_SPECIALS]
