"""The ARPA reader as it was before the numba parser: plain Python, line by line.

Kept as the slow, obviously-correct reference that ``tests/ngram/test_arpa_reader.py``
checks :func:`lmkit.ngram.arpa.read_arpa` against (same arrays, same errors). The header and
the end of the file are read by the same Python functions in both.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from lmkit._io import open_binary
from lmkit.errors import ModelFormatError
from lmkit.ngram.arpa import _read_end, _read_header
from lmkit.text import BOS, DEFAULT_SPECIALS, EOS, UNK, Vocabulary

log = logging.getLogger(__name__)
LOG_ZERO = -99.0
MISSING_UNK_LOGPROB = -100.0


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


def naive_read_arpa(path: str | os.PathLike):
    """Read an ARPA file into (vocab, ctx, word, logprob, backoff) arrays per order, sorted
    by (ctx, word) like counted models. Every count, value and reference is checked: the
    header's counts against the file's size, values finite (log10 probabilities <= 0), each
    n-gram's context present, nothing after the last declared section but ``\\end\\``."""
    with open_binary(path) as f:
        lines = iter(enumerate(f, 1))
        declared = _read_header(path, lines)
        N = len(declared)
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
    for k in range(N):
        lp_all[k][lp_all[k] <= LOG_ZERO] = -np.inf
    lp_all[0][itos.index(BOS)] = 0.0
    if not has_unk:
        lp_all[0][itos.index(UNK)] = MISSING_UNK_LOGPROB
    bo_all[-1] = np.zeros(0)
    vocab = Vocabulary(itos, np.zeros(len(itos), np.int64))
    return vocab, ctx_all, word_all, lp_all, bo_all


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


def _unigram_vocab(words: list[str], path) -> list[str]:
    seen = set()
    for w in words:
        if w in seen:
            raise ModelFormatError(f"{path}: unigram {w!r} is listed twice")
        seen.add(w)
    if BOS not in seen or EOS not in seen:
        raise ModelFormatError(f"{path}: the unigrams lack {BOS} or {EOS}")
    return list(DEFAULT_SPECIALS) + [w for w in words if w not in DEFAULT_SPECIALS]
