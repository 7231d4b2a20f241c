"""Target-vocabulary shortlists for decoding (Marian's lexical shortlist, CTranslate2's
vocabulary map): a batch is decoded over the target words that can plausibly appear in its
translations instead of the whole vocabulary, so the output layer's product and softmax shrink
from V columns to a few hundred or thousand.

A batch's shortlist is the union of the ``frequent`` most frequent target words (the four
special tokens always included) and, for every source word in the batch, its ``per_word`` most
probable translations t(target | source) under IBM Model 1 estimated on the training pairs.
Probabilities are renormalised over the shortlist, as Marian and CTranslate2 do.

File: ``shortlist.npz`` in the model folder (no pickle): ``format`` and ``version``, ``frequent``
int32 [F] and ``translations`` int32 [source vocabulary, K] (-1 where a source word has fewer
than K translations).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._arrays import sorted_union, sorted_unique
from .._io import atomic_path, load_npz
from ..checks import Range
from ..errors import ConfigError, ModelFormatError
from ._kernels import ibm1_em, sentence_pair_keys

log = logging.getLogger(__name__)

FORMAT = "lmkit-shortlist"
VERSION = 1
FILE = "shortlist.npz"
N_SPECIALS = 4           # <unk> <s> </s> <pad>: ids 0..3 of every lmkit vocabulary
#: allowed settings of :func:`build_shortlist` (shared with the CLI)
SHORTLIST_RANGES = {
    "frequent": Range(0, 10**7, integer=True),
    "per_word": Range(0, 10**5, integer=True),
    "iterations": Range(0, 1000, integer=True),
}
#: sentences whose pair keys are collected (and de-duplicated) at a time
_KEY_BLOCK = 4096


@dataclass
class Shortlist:
    frequent: np.ndarray       # int32 [F]: target ids always decoded (specials first)
    translations: np.ndarray   # int32 [source vocabulary, K]: best target ids per source word, -1 padding

    def columns(self, src: np.ndarray) -> np.ndarray:
        """The sorted target ids (int64) to decode a batch of source ids ``src`` (any shape;
        padding included) over."""
        words = sorted_unique(src)
        words = words[(words >= 0) & (words < self.translations.shape[0])]
        cand = self.translations[words].ravel()
        return sorted_union(self.frequent, cand[cand >= 0]).astype(np.int64)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write ``path`` atomically (npz, no pickle)."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, format=np.array(FORMAT), version=np.array(VERSION, np.int64),
                     frequent=self.frequent.astype(np.int32), translations=self.translations.astype(np.int32))

    @classmethod
    def load(cls, path: str | os.PathLike, src_vocab: int, tgt_vocab: int) -> Shortlist:
        """Read ``path`` and check it against the model's vocabulary sizes: format, version,
        shapes, types and every id."""
        path = Path(path)
        if not path.exists():
            raise ModelFormatError(f"{path}: no shortlist (build one with `lmkit translate shortlist`)")
        z = load_npz(path)
        for name in ("format", "version", "frequent", "translations"):
            if name not in z:
                raise ModelFormatError(f"{path}: array {name!r} is missing; not an lmkit shortlist")
        if z["format"].shape != () or str(z["format"]) != FORMAT:
            raise ModelFormatError(f"{path}: format {z['format']!r}, expected {FORMAT!r}")
        if z["version"].shape != () or not np.issubdtype(z["version"].dtype, np.integer) \
                or int(z["version"]) != VERSION:
            raise ModelFormatError(f"{path}: version {z['version']!r}, this lmkit reads version {VERSION}")
        frequent, trans = z["frequent"], z["translations"]
        if frequent.ndim != 1 or frequent.dtype != np.int32:
            raise ModelFormatError(f"{path}: 'frequent' must be int32 [F], got {frequent.dtype} {frequent.shape}")
        if trans.ndim != 2 or trans.dtype != np.int32 or trans.shape[0] != src_vocab:
            raise ModelFormatError(f"{path}: 'translations' must be int32 [{src_vocab}, K] (the model's source "
                                   f"vocabulary), got {trans.dtype} {trans.shape}")
        if frequent.size and (frequent.min() < 0 or frequent.max() >= tgt_vocab):
            raise ModelFormatError(f"{path}: 'frequent' holds ids outside the target vocabulary [0, {tgt_vocab})")
        if not np.isin(np.arange(N_SPECIALS), frequent).all():
            raise ModelFormatError(f"{path}: 'frequent' lacks a special token id (0..{N_SPECIALS - 1})")
        if trans.size and (trans.min() < -1 or trans.max() >= tgt_vocab):
            raise ModelFormatError(f"{path}: 'translations' holds ids outside [-1, {tgt_vocab})")
        return cls(frequent, trans)


def build_shortlist(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], src_vocab: int, tgt_vocab: int,
                    frequent: int = 100, per_word: int = 50, iterations: int = 5) -> Shortlist:
    """A shortlist from encoded sentence pairs (source and target id arrays, no <s>/</s>):
    the ``frequent`` most frequent target words plus the specials, and each source word's
    ``per_word`` most probable translations after ``iterations`` EM passes of IBM Model 1."""
    if len(src) != len(tgt):
        raise ConfigError(f"{len(src)} source sentences but {len(tgt)} target sentences")
    for name, value in (("frequent", frequent), ("per_word", per_word), ("iterations", iterations)):
        SHORTLIST_RANGES[name].check(name, value)
    src_flat, src_off = _flatten(src, src_vocab, "source")
    tgt_flat, tgt_off = _flatten(tgt, tgt_vocab, "target")
    counts = np.bincount(tgt_flat, minlength=tgt_vocab)
    counts[:N_SPECIALS] = 0
    top = np.argsort(-counts, kind="stable")[:frequent]
    top = top[counts[top] > 0]
    freq_ids = sorted_union(np.arange(N_SPECIALS), top).astype(np.int32)
    keys = _pair_keys(src_flat, src_off, tgt_flat, tgt_off, src_vocab, tgt_vocab)
    prob = ibm1_em(src_flat, src_off, tgt_flat, tgt_off, keys, src_vocab, tgt_vocab, iterations)
    trans = _best_translations(keys, prob, src_vocab, tgt_vocab, per_word)
    log.info("shortlist: %d frequent target words, %d translations per source word (IBM Model 1, %d "
             "iterations over %d pairs, %d word pairs)", len(freq_ids), per_word, iterations, len(src), len(keys))
    return Shortlist(freq_ids, trans)


def _flatten(sents: Sequence[np.ndarray], vocab: int, side: str) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(s) for s in sents), np.int64, len(sents))
    off = np.zeros(len(sents) + 1, np.int64)
    np.cumsum(lengths, out=off[1:])
    flat = np.concatenate([np.asarray(s, np.int64) for s in sents]) if len(sents) else np.zeros(0, np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= vocab):
        raise ConfigError(f"{side} ids outside the vocabulary [0, {vocab})")
    return flat.astype(np.int32), off


def _pair_keys(src_flat, src_off, tgt_flat, tgt_off, src_vocab: int, tgt_vocab: int) -> np.ndarray:
    """Sorted unique keys of the co-occurring (source or NULL, target) pairs, collected a block
    of sentences at a time so memory follows the distinct pairs, not every occurrence. Each
    block's distinct keys wait in a list that is merged into the result only once it outgrows
    it (so the merges cost a constant number of sorts per key, not one per block)."""
    keys = np.zeros(0, np.int64)
    pending: list[np.ndarray] = []
    waiting = 0
    n = len(src_off) - 1
    for lo in range(0, n, _KEY_BLOCK):
        block = sorted_unique(sentence_pair_keys(src_flat, src_off, tgt_flat, tgt_off, lo, min(n, lo + _KEY_BLOCK),
                                             src_vocab, tgt_vocab))
        pending.append(block)
        waiting += len(block)
        if waiting > len(keys):
            keys = sorted_union(keys, *pending)
            pending, waiting = [], 0
    return sorted_union(keys, *pending) if pending else keys


def _best_translations(keys: np.ndarray, prob: np.ndarray, src_vocab: int, tgt_vocab: int,
                       per_word: int) -> np.ndarray:
    """int32 [src_vocab, per_word]: each source word's targets by falling t(t|s), -1 padding;
    ties go to the smaller target id. The NULL word's row is not kept."""
    src_ids, tgt_ids = keys // tgt_vocab, keys % tgt_vocab
    order = np.lexsort((tgt_ids, -prob, src_ids))     # by source, then probability down, then id
    s_sorted, t_sorted = src_ids[order], tgt_ids[order]
    starts = np.searchsorted(s_sorted, np.arange(src_vocab + 1))
    rank = np.arange(len(order)) - starts[s_sorted]
    keep = (rank < per_word) & (s_sorted < src_vocab)
    out = np.full((src_vocab, per_word), -1, np.int32)
    out[s_sorted[keep], rank[keep]] = t_sorted[keep]
    return out
