"""ARPA back-off language model files: read and write (``.gz`` too).

Written like KenLM's lmplz: a ``\\data\\`` header, then one section per order of
``log10 p <TAB> w1 ... wk [<TAB> log10 backoff]`` lines; ``<s>`` gets probability 0 (it is never
predicted). Reading accepts SRILM's and KenLM's files (tabs or spaces; ``-99`` for log 0).
"""
from __future__ import annotations

import logging
import os
import re

import numpy as np

from .._io import atomic_write, open_binary
from ..errors import ConfigError, ModelFormatError
from ..progress import progress
from ..text import BOS, DEFAULT_SPECIALS, EOS, UNK, Vocabulary

log = logging.getLogger(__name__)
_NGRAM_LINE = re.compile(rb"^ngram (\d+)\s*=\s*(\d+)\s*$")
LOG_ZERO = -99.0
#: what an unknown word scores when the file has no <unk> (KenLM's unknown_missing_logprob)
MISSING_UNK_LOGPROB = -100.0


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return "-99"
    return f"{x:.8g}"


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
    texts = ngram_strings(model.vocab.itos, model.ctx, model.word)
    N = model.order
    with atomic_write(path) as out:
        out.write("\\data\\\n")
        for k in range(N):
            out.write(f"ngram {k + 1}={len(texts[k])}\n")
        for k in progress(range(N), desc="writing ARPA", unit="order", quiet=quiet):
            out.write(f"\n\\{k + 1}-grams:\n")
            lp = model.log_probs[k].tolist()
            if k < N - 1:
                bo = model.log_backoffs[k].tolist()
                out.writelines(f"{_fmt(p)}\t{t}\t{_fmt(b)}\n" for p, t, b in zip(lp, texts[k], bo))
            else:
                out.writelines(f"{_fmt(p)}\t{t}\n" for p, t in zip(lp, texts[k]))
        out.write("\n\\end\\\n")


def read_arpa(path: str | os.PathLike, quiet: bool | None = None):
    """Read an ARPA file into (vocab, ctx, word, logprob, backoff) arrays per order, sorted
    by (ctx, word) like counted models."""
    with open_binary(path) as f:
        lines = iter(enumerate(f, 1))
        declared: list[int] = []
        # header
        for n, raw in lines:
            s = raw.strip()
            if s == b"\\data\\":
                break
            if s:
                raise ModelFormatError(f"{path}:{n}: expected '\\data\\' first; this is not an ARPA file")
        else:
            raise ModelFormatError(f"{path}: no '\\data\\' line; this is not an ARPA file")
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
            declared.append(int(m.group(2)))
        if not declared:
            raise ModelFormatError(f"{path}: the \\data\\ header lists no n-gram counts")
        N = len(declared)
        itos: list[str] = []
        ctx_all, word_all, lp_all, bo_all = [], [], [], []
        ids_prev: dict[str, int] = {}
        stoi: dict[str, int] = {}
        bar = progress(total=sum(declared), desc="reading ARPA", unit="n-gram", quiet=quiet)
        for k in range(1, N + 1):
            header = f"\\{k}-grams:".encode()
            for n, raw in lines:
                s = raw.strip()
                if s == header:
                    break
                if s:
                    raise ModelFormatError(f"{path}:{n}: expected '{header.decode()}', got {s[:60]!r}")
            else:
                raise ModelFormatError(f"{path}: truncated: the {k}-gram section is missing")
            want = declared[k - 1]
            probs = np.empty(want, np.float64)
            bows = np.zeros(want, np.float64)
            ctx = np.zeros(want, np.int64)
            words: list[str] = []
            texts: list[str] = []
            i = 0
            for n, raw in lines:
                if i == want:
                    if raw.strip():
                        raise ModelFormatError(f"{path}:{n}: more {k}-grams than the {want} declared")
                    break
                try:
                    parts = raw.decode("utf-8").split()
                except UnicodeDecodeError:
                    raise ModelFormatError(f"{path}:{n}: line is not valid UTF-8") from None
                if not parts:
                    raise ModelFormatError(f"{path}:{n}: truncated: {i} of {want} {k}-grams before a blank line")
                if len(parts) == k + 1:
                    bo = None
                elif len(parts) == k + 2:
                    bo = parts[-1]
                else:
                    raise ModelFormatError(f"{path}:{n}: expected 'logprob' + {k} words [+ backoff], "
                                           f"got {len(parts)} fields")
                try:
                    probs[i] = float(parts[0])
                    if bo is not None:
                        bows[i] = float(bo)
                except ValueError:
                    raise ModelFormatError(f"{path}:{n}: not a number in {' '.join(parts)[:60]!r}") from None
                gram = parts[1:k + 1]
                if k == 1:
                    words.append(gram[0])
                else:
                    prefix = " ".join(gram[:-1])
                    c = ids_prev.get(prefix)
                    if c is None:
                        raise ModelFormatError(f"{path}:{n}: the context {prefix!r} of this {k}-gram "
                                               f"is not a {k - 1}-gram of the file")
                    ctx[i] = c
                    words.append(gram[-1])
                texts.append(" ".join(gram))
                i += 1
            else:
                if i < want:
                    raise ModelFormatError(f"{path}: truncated: {i} of {want} {k}-grams before the end of file")
            bar.update(want)
            if k == 1:
                itos = _unigram_vocab(words, path)
                stoi = {t: j for j, t in enumerate(itos)}
                V = len(itos)
                wid = np.array([stoi[w] for w in words], dtype=np.int64)
                # unigram arrays are indexed by word id
                p1 = np.full(V, LOG_ZERO)
                b1 = np.zeros(V)
                p1[wid] = probs
                b1[wid] = bows
                has_unk = UNK in set(words)
                if not has_unk:
                    log.warning("%s: no <unk> unigram; OOV words get log10 p = %g (as KenLM)",
                                path, MISSING_UNK_LOGPROB)
                ctx_all.append(np.zeros(V, np.int64))
                word_all.append(np.arange(V, dtype=np.int32))
                lp_all.append(p1)
                bo_all.append(b1)
                ids_prev = {t: j for j, t in enumerate(itos)}
                continue
            try:
                wid = np.array([stoi[w] for w in words], dtype=np.int64)
            except KeyError as exc:
                raise ModelFormatError(f"{path}: word {exc.args[0]!r} of the {k}-grams is not a unigram") from None
            keys = ctx * V + wid
            perm = np.argsort(keys, kind="stable")
            if np.any(np.diff(keys[perm]) == 0):
                raise ModelFormatError(f"{path}: a {k}-gram is listed twice")
            ctx_all.append(ctx[perm])
            word_all.append(wid[perm].astype(np.int32))
            lp_all.append(probs[perm])
            bo_all.append(bows[perm])
            if k < N:
                ids_prev = {texts[j]: r for r, j in enumerate(perm.tolist())}
        bar.close()
    for k in range(N):
        lp_all[k][lp_all[k] <= LOG_ZERO] = -np.inf
    lp_all[0][itos.index(BOS)] = 0.0
    if not has_unk:
        lp_all[0][itos.index(UNK)] = MISSING_UNK_LOGPROB
    bo_all[-1] = np.zeros(0)
    vocab = Vocabulary(itos, np.zeros(len(itos), np.int64))
    return vocab, ctx_all, word_all, lp_all, bo_all


def _unigram_vocab(words: list[str], path) -> list[str]:
    seen = set()
    for w in words:
        if w in seen:
            raise ModelFormatError(f"{path}: unigram {w!r} is listed twice")
        seen.add(w)
    if BOS not in seen or EOS not in seen:
        raise ModelFormatError(f"{path}: the unigrams lack {BOS} or {EOS}")
    return list(DEFAULT_SPECIALS) + [w for w in words if w not in DEFAULT_SPECIALS]
