"""Scoring text with a binary model (probing or trie layout) in numpy alone, for short
``lmkit ngram score`` runs, which would otherwise spend most of their time importing numba
and starting it (about 0.6 s against a few hundredths of a second of scoring Brown's test
set).

The rule is the scoring kernel's (:func:`lmkit.ngram._kernels.score_tokens`) and so is every
float64 addition, in the same order; only the loop is turned inside out: all positions of the
text at once, one order after another. A position's context of length k is the n-gram of
order k found at the position before it, so order k's lookups need only order k-1's results.
A trie's pairs (parent, word) are found by a search of the parent's children, which are
sorted by word, or, for the parents with long blocks of children and many pairs (``the``,
``<s>``), in a table of those children's words read once. Tests hold the two paths equal
bit for bit. The mapped file gets the checks a default
:meth:`NgramModel.load <lmkit.ngram.NgramModel.load>` gives it (header, every size) and the
lookups the same bounds (a probe reads at most its table's slots, a trie's records are those
of the order), so damaged contents can give wrong scores but never a read outside the file.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..text import BOS_ID, EOS_ID, EncodedCorpus
from ..text.vocab import PackedVocabulary
from .binfile import (
    F_BASE,
    F_LP_BITS,
    F_PTR,
    F_RECORD,
    F_SIZE,
    F_WORD,
    HASH_MULT,
    MAGIC,
    RAW,
    SLOT_WORDS,
    Mapped,
    floats_from_codes,
    open_mapped,
    probing_sizes,
    trie_layout,
)

#: trie blocks (a parent's children) this long or longer may be read whole (see
#: :meth:`QuickModel._read_blocks`): when their pairs' search steps times _STEP_COST exceed
#: the block's records plus a table row's entries times _ENTRY_COST (costs relative to
#: reading one record), for at most _TABLE_ENTRIES entries in all
_LONG_BLOCK = 64
_STEP_COST = 2
_ENTRY_COST = 0.05
_TABLE_ENTRIES = 1 << 22
#: a trie order whose parents number at most this many times the pairs has every parent's
#: pointer read once, and its pairs counted per parent in an array
_DENSE = 2


class QuickModel:
    """A binary model mapped for numpy scoring: what ``lmkit ngram score`` needs of an
    :class:`~lmkit.ngram.NgramModel` (``vocab``, ``order``, ``meta``, ``is_probability``,
    ``score_encoded``)."""

    def __init__(self, mapped: Mapped) -> None:
        path, header, arrays = mapped.path, mapped.header, mapped.arrays
        self.path = path
        self.order: int = header["order"]
        self.sizes: list[int] = header["sizes"]
        self.meta: dict = header["meta"]
        self.vocab: PackedVocabulary = mapped.vocab
        self.tokenizer = mapped.tokenizer
        self.layout: str = header["layout"]
        if self.layout == "trie":
            self.fields = trie_layout(path, arrays, self.sizes, len(self.vocab), header)
            self.bits, self.centers, self.gram_start = arrays["trie_bits"], arrays["centers"], arrays["gram_start"]
        else:
            self.start, self.cap = probing_sizes(path, arrays, self.order, self.sizes, len(self.vocab))
            self.slots = arrays["slots"]
            self.values = self.slots.view(np.float32)
        self.logprob, self.backoff = arrays["logprob"], arrays["backoff"]
        self.suffix_closed = bool(header.get("suffix_closed", False))
        mapped.checked()

    @classmethod
    def open(cls, path: str | os.PathLike) -> QuickModel | None:
        """The model at ``path`` when it is a binary file (format version 2 on), else None
        (other models are scored by :class:`~lmkit.ngram.NgramModel`)."""
        path = Path(path)
        try:
            f = open(path, "rb")  # noqa: SIM115 (a with block below; only this open's error is caught)
        except OSError:
            return None
        with f:
            if f.read(len(MAGIC)) != MAGIC:
                return None
            mapped = open_mapped(path, f)
        if mapped.header["version"] < 2:
            return None
        return cls(mapped)

    @property
    def is_probability(self) -> bool:
        return bool(self.meta.get("is_probability", True))

    def score_encoded(self, corpus: EncodedCorpus | tuple[np.ndarray, np.ndarray], bos: bool = True,
                      eos: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`NgramModel.score_encoded <lmkit.ngram.NgramModel.score_encoded>`: per scored
        word (``</s>`` included when ``eos``) its log10 probability (float64) and the length of
        the n-gram used (int32)."""
        ids, offsets = (corpus.ids, corpus.offsets) if isinstance(corpus, EncodedCorpus) else corpus
        offsets = np.asarray(offsets, np.int64)
        words, first, history = _positions(np.asarray(ids, np.int64), offsets, bos, eos)
        N, V = self.order, np.int64(len(self.vocab))
        n = len(words)
        found = np.ones(n, np.int32)
        first = np.flatnonzero(first)
        grams = [np.full(n, -1, np.int64), words]   # grams[k]: slot of the k-gram ending there (-1: none)
        contexts = [np.full(n, -1, np.int64)]         # contexts[j]: the j-gram before the position
        for k in range(2, N + 1):
            ctx = np.empty(n, np.int64)
            ctx[1:] = grams[k - 1][:-1]
            ctx[first] = BOS_ID if k == 2 and bos else -1
            contexts.append(ctx)
            look = ctx >= 0
            if self.suffix_closed:
                look &= found == k - 1
            at = np.flatnonzero(look)
            hit = self._child(k, ctx[at], words[at]) if self.layout == "trie" else \
                self._probe(k, ctx[at] * V + words[at])
            g = np.full(n, -1, np.int64)
            g[at] = hit
            found[at[hit >= 0]] = k
            grams.append(g)
        return self._logprobs(found, grams, contexts, np.minimum(history, N - 1)), found

    def _logprobs(self, found: np.ndarray, grams: list[np.ndarray], contexts: list[np.ndarray],
                  full: np.ndarray) -> np.ndarray:
        """The kernel's sums: the longest n-gram's probability, then the backoffs of the longer
        contexts in increasing length (or, for additive smoothing, the uniform fallback)."""
        lp = np.empty(len(found), np.float64)
        for k in range(1, self.order + 1):
            at = np.flatnonzero(found == k)
            lp[at] = self._value(k, grams[k][at], 2)
        rest = np.flatnonzero(found <= full)    # the positions that back off (or fall back)
        if self.meta.get("fallback", "backoff") != "backoff":     # additive smoothing: uniform
            lp[rest] = float(-np.log10(len(self.vocab) - 1))
            ctx = np.stack(contexts)[full[rest], rest]          # the whole context's n-gram
            for j in range(1, self.order):
                pick = (full[rest] == j) & (ctx >= 0)
                lp[rest[pick]] += self._value(j, ctx[pick], 3)
            return lp
        unseen = float(self.meta.get("unseen_context_backoff", 0.0))
        shortest, longest = found[rest], full[rest]
        for j in range(1, self.order):
            at = rest[(shortest <= j) & (j <= longest)]
            ctx = contexts[j][at]
            known = ctx >= 0
            lp[at[known]] += self._value(j, ctx[known], 3)
            lp[at[~known]] += unseen
        return lp

    def _value(self, k: int, ids: np.ndarray, column: int) -> np.ndarray:
        """Probabilities (column 2) or backoffs (3) of order k's n-grams ``ids`` (word ids for
        unigrams, else slots or trie records), float64."""
        if self.layout == "trie":
            which = F_LP_BITS + column - 2            # the record's code column
            width = self.fields[k, which]
            if width > 0:
                codes = self._field(k, ids, which)
                at = self.fields[k, which + 2]
                if at != RAW:
                    return self.centers[at + codes].astype(np.float64)
                return floats_from_codes(codes, int(width)).astype(np.float64)
            floats = self.logprob if column == 2 else self.backoff
            return floats[self.gram_start[k] + ids].astype(np.float64)
        if k == 1:
            return (self.logprob if column == 2 else self.backoff)[ids].astype(np.float64)
        return self.values[2 * SLOT_WORDS * (self.start[k] + ids) + column].astype(np.float64)

    def _field(self, k: int, records: np.ndarray, column: int) -> np.ndarray:
        """Field ``column`` of order k's ``records`` (int64), as the kernel's ``read_bits``."""
        f = self.fields[k]
        at = f[F_BASE] + records * f[F_RECORD] + int(f[F_WORD:column].sum())
        return _read_bits(self.bits, at, int(f[column]))

    def _child(self, k: int, parents: np.ndarray, words: np.ndarray) -> np.ndarray:
        """The trie record of each (parent of order k-1, word) at order k (-1 absent), as the
        kernel's ``trie_child`` (pointers clamped to the order's records), every pair at once:
        the pairs of the busiest long blocks looked up in a table (:meth:`_read_blocks`), the
        others searched for (:meth:`_search`)."""
        n = self.fields[k, F_SIZE]
        m = int(self.fields[k - 1, F_SIZE])
        dense = m <= _DENSE * len(parents)      # few parents for the pairs (as order 1's words)
        if dense:                               # read every parent's pointer once
            ptr = np.minimum(self._field(k - 1, np.arange(m + 1), F_PTR), n)
            lo = ptr[parents]
            length = ptr[parents + 1] - lo
        else:
            lo = np.minimum(self._field(k - 1, parents, F_PTR), n)
            length = np.minimum(self._field(k - 1, parents + 1, F_PTR), n) - lo
        out = np.full(len(parents), -1, np.int64)
        self._read_blocks(k, parents, lo, length, words, out, m if dense else 0)
        todo = np.flatnonzero(length > 0)
        if len(todo):
            out[todo] = self._search(k, lo[todo], length[todo], words[todo])
        return out

    def _read_blocks(self, k: int, parents: np.ndarray, lo: np.ndarray, length: np.ndarray, words: np.ndarray,
                     out: np.ndarray, dense: int) -> None:
        """Look up the pairs whose block (their parent's children: ``lo``, ``length``) is long
        and shared by enough pairs that reading it whole costs less than searching it for each
        pair: the chosen blocks' words go into a table (block x the pairs' distinct words ->
        record) and their pairs read their records there (``out``; their ``length`` set to 0).
        ``dense``: the number of parents when the pairs are counted in an array over them
        (else 0: counted by sorting)."""
        long = np.flatnonzero(length >= _LONG_BLOCK)
        if not len(long):
            return
        p = parents[long]
        if dense:
            pairs = np.bincount(p, minlength=dense)
            group = np.flatnonzero(pairs)                     # the distinct parents, ascending
            pairs = pairs[group]
            one = np.empty(dense, np.int64)
            one[p] = long                                     # a pair of each parent
            first = one[group]
        else:
            group, i, pairs = np.unique(p, return_index=True, return_counts=True)
            first = long[i]
        start, size = lo[first], length[first]
        n, V = int(self.fields[k, F_SIZE]), len(self.vocab)
        seen = np.zeros(V, bool)
        seen[words] = True
        column = np.cumsum(seen) - 1                          # the table's column of each word
        width = int(column[-1]) + 1
        gain = pairs * np.frexp(size - 1)[1] * _STEP_COST - size - width * _ENTRY_COST
        chosen = np.flatnonzero(gain > 0)
        chosen = chosen[np.argsort(-gain[chosen], kind="stable")[:_TABLE_ENTRIES // width]]
        if not len(chosen):
            return
        chosen.sort()
        rows, start, size = len(chosen), start[chosen], size[chosen]
        records = np.arange(int(size.sum())) + np.repeat(start - np.cumsum(size) + size, size)
        word = self._field(k, records, F_WORD)
        keep = word < V                                       # damaged ids are left out
        keep[keep] = seen[word[keep]]
        table = np.full((rows, width), -1, np.int32 if n < 2 ** 31 else np.int64)
        table[np.repeat(np.arange(rows), size)[keep], column[word[keep]]] = records[keep]
        if dense:
            row_of = np.full(dense, -1, np.int64)
            row_of[group[chosen]] = np.arange(rows)
            r = row_of[p]
        else:
            row_of = np.full(len(group), -1, np.int64)
            row_of[chosen] = np.arange(rows)
            r = row_of[np.searchsorted(group, p)]
        mine = r >= 0
        at = long[mine]
        out[at] = table[r[mine], column[words[at]]]
        length[at] = 0

    def _search(self, k: int, lo: np.ndarray, length: np.ndarray, words: np.ndarray) -> np.ndarray:
        """The record of each word among order k's records ``lo .. lo + length - 1`` (sorted by
        word; lengths >= 1), or -1: a branchless search for the last record whose word is <=
        the word. A range of n records takes ceil(log2 n) halvings: with the searches ordered
        by that count, those still going at each step are a prefix of the arrays."""
        steps = np.frexp(length - 1)[1].astype(np.int8)    # ceil(log2 n); n < 2**53
        order = np.argsort(-steps, kind="stable")
        active = np.cumsum(np.bincount(steps)[::-1])[::-1]  # active[t]: searches with > t steps
        base, length, w = lo[order], length[order], words[order]
        for t in range(1, len(active)):
            m = int(active[t])
            half = length[:m] >> 1
            mid = base[:m] + half
            np.copyto(base[:m], mid, where=self._field(k, mid, F_WORD) <= w[:m])
            length[:m] -= half
        out = np.empty(len(order), np.int64)
        out[order] = np.where(self._field(k, base, F_WORD) == w, base, -1)
        return out

    def _probe(self, k: int, keys: np.ndarray) -> np.ndarray:
        """The slot of each key in order k's table (-1 absent): linear probing from the home
        slot, every key at once, at most ``cap`` steps."""
        cap, base = int(self.cap[k]), int(self.start[k])
        out = np.full(len(keys), -1, np.int64)
        if cap == 0 or not len(keys):
            return out
        table = self.slots[SLOT_WORDS * base:SLOT_WORDS * (base + cap):SLOT_WORDS]   # the slots' keys
        h = keys.astype(np.uint64) * HASH_MULT
        pos = (((h >> np.uint64(32)) * np.uint64(cap)) >> np.uint64(32)).astype(np.int64)
        todo = np.arange(len(keys))
        for _ in range(cap):
            there = table[pos]
            hit = np.flatnonzero(there == keys)
            out[todo[hit]] = pos[hit]
            there[hit] = -1                           # found: the probe ends as at an empty slot
            go = np.flatnonzero(there != -1)
            if not len(go):
                break
            todo, keys, pos = todo[go], keys[go], pos[go] + 1
            pos[pos == cap] = 0
        return out


def _read_bits(bits: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """The ``width``-bit unsigned fields starting at bits ``at`` of ``bits`` (int64)."""
    if width == 0:
        return np.zeros(len(at), np.int64)
    q = at >> 6
    s = (at & 63).astype(np.uint64)
    v = bits[q] >> s
    spill = np.flatnonzero(s + np.uint64(width) > np.uint64(64))   # s > 0 there
    v[spill] |= bits[q[spill] + 1] << (np.uint64(64) - s[spill])
    if width < 64:
        v &= (np.uint64(1) << np.uint64(width)) - np.uint64(1)
    return v.astype(np.int64)


def _positions(ids: np.ndarray, offsets: np.ndarray, bos: bool, eos: bool) -> tuple[np.ndarray, ...]:
    """Per scored position: the word (int64, ``</s>`` closing each sentence when ``eos``),
    whether it starts its sentence, and the words of context before it (``<s>`` counted)."""
    lengths = np.diff(offsets)
    scored = lengths + (1 if eos else 0)
    starts = np.zeros(len(scored), np.int64)
    starts[1:] = np.cumsum(scored)[:-1]
    n = int(scored.sum())
    words = np.full(n, EOS_ID, np.int64)
    sentence = np.repeat(np.arange(len(scored)), lengths)
    words[np.arange(len(ids)) + (sentence if eos else 0)] = ids
    first = np.zeros(n, bool)
    first[starts[scored > 0]] = True
    history = np.arange(n) - np.repeat(starts, scored) + (1 if bos else 0)
    return words, first, history
