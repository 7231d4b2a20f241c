"""KenLM's "blank" n-grams: the missing suffixes of listed n-grams, added at load time.

An ARPA file may list ``also would consider higher looking`` without ``higher looking``
(pruned or hand-made models do). KenLM then stores the missing suffixes as blanks: entries
whose probability is what backing off gives anyway and whose backoff is 0, so that a lookup
walking from the last word leftwards reaches the longer n-gram, and the n-gram length it
reports counts the blank. lmkit adds the same entries (flagged, and never written back to an
ARPA file), so probabilities stay exactly as they were and ``full_scores`` reports KenLM's
n-gram lengths.
"""
from __future__ import annotations

import numpy as np

from . import _kernels as K


def ngram_rows(ctx: list[np.ndarray], word: list[np.ndarray]) -> list[np.ndarray]:
    """Every n-gram as a row of word ids: int64 [n_k, k] per order, in (context, word) order
    (which is lexicographic order of the rows)."""
    rows = [word[0].astype(np.int64)[:, None]]
    for k in range(1, len(word)):
        rows.append(np.concatenate([rows[k - 1][ctx[k]], word[k].astype(np.int64)[:, None]], axis=1))
    return rows


def _row_keys(rows: np.ndarray) -> np.ndarray:
    """A structured view so that rows can be compared and searched as single values."""
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()


def missing_suffixes(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Per order, the rows (int64 [m, k]) that are suffixes of longer listed or blank n-grams
    but not listed themselves; order 1 never misses (every word is a unigram)."""
    N = len(rows)
    blanks = [np.zeros((0, k + 1), np.int64) for k in range(N)]
    for k in range(N - 1, 0, -1):                 # order k + 1 down to order 2
        longer = np.concatenate([rows[k], blanks[k]]) if len(blanks[k]) else rows[k]
        suffixes = np.unique(longer[:, 1:], axis=0)
        have = _row_keys(rows[k - 1])
        found = np.isin(_row_keys(suffixes), have)
        if k - 1 > 0:
            blanks[k - 1] = suffixes[~found]
    return blanks


def add_blanks(model) -> None:
    """Insert the blanks of an ARPA-loaded :class:`~lmkit.ngram.NgramModel` in place: their
    probabilities from the model as it is (backing off), backoff 0, ``model.blank`` masks."""
    if model.suffixes_closed():
        return                      # every suffix is listed (Kneser-Ney models always are)
    rows = ngram_rows(model.ctx, model.word)
    blanks = missing_suffixes(rows)
    if not any(len(b) for b in blanks):
        return
    new_lp = [_backed_off(model, b) if len(b) else np.zeros(0) for b in blanks]
    ctx, word, lp, bo, mask = [model.ctx[0]], [model.word[0]], [model.log_probs[0]], [model.log_backoffs[0]], \
        [np.zeros(len(model.word[0]), bool)]
    lower = rows[0]                               # the previous order's rows, blanks included, sorted
    for k in range(1, model.order):
        merged = np.concatenate([rows[k], blanks[k]])
        order = np.lexsort(merged.T[::-1])
        merged = merged[order]
        is_blank = order >= len(rows[k])
        values = np.concatenate([model.log_probs[k], new_lp[k]])[order]
        if k < model.order - 1:
            backs = np.concatenate([model.log_backoffs[k], np.zeros(len(blanks[k]))])[order]
        else:
            backs = model.log_backoffs[k]
        ctx.append(K.prefix_ids(merged, lower))
        lower = merged
        word.append(merged[:, -1].astype(np.int32))
        lp.append(values)
        bo.append(backs)
        mask.append(is_blank)
    model.ctx = [np.ascontiguousarray(c, dtype=np.int64) for c in ctx]
    model.word = [np.ascontiguousarray(w, dtype=np.int32) for w in word]
    model.log_probs = [np.ascontiguousarray(p, dtype=np.float32) for p in lp]
    model.log_backoffs = [np.ascontiguousarray(b, dtype=np.float32) for b in bo]
    model.blank = mask
    model._tables = None
    model._suffix_closed = True     # what the blanks are for


def _backed_off(model, rows: np.ndarray) -> np.ndarray:
    """log10 p(w_k | w_1 .. w_k-1) of each row under the model as it is."""
    n, k = rows.shape
    ids = rows.astype(np.int32).ravel()
    offsets = np.arange(n + 1, dtype=np.int64) * k
    lp, _ = model.score_encoded((ids, offsets), bos=False, eos=False)
    return lp.reshape(n, k)[:, -1]
