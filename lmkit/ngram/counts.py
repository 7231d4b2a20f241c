"""Counting n-grams of an encoded corpus into arrays (no Python dicts of tuples).

Each sentence is wrapped as ``<s> w1 ... wn </s>``; n-grams never cross sentences and
``<s>`` only ever stands first. Order k's n-grams are kept sorted by (prefix id, word), so
that every context's continuations are one contiguous run.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, CorpusError
from ..progress import progress
from ..text import BOS_ID, EOS_ID, EncodedCorpus, id_counts
from . import _kernels as K

log = logging.getLogger(__name__)
MAX_ORDER = 10


@dataclass
class OrderCounts:
    """The n-grams of one order k: arrays of length n_k, sorted by (ctx, word)."""
    ctx: np.ndarray      # int64: id of the (k-1)-word prefix in order k-1 (0 for unigrams)
    word: np.ndarray     # int32: last word
    count: np.ndarray    # int64: raw count in the corpus
    suffix: np.ndarray   # int64: id of the (k-1)-word suffix in order k-1 (-1 for unigrams)
    first: np.ndarray    # int32: first word (to spot n-grams starting with <s>)

    def __len__(self) -> int:
        return len(self.word)

    def keys(self, vocab_size: int) -> np.ndarray:
        return self.ctx * vocab_size + self.word


@dataclass
class NgramCounts:
    """Raw counts of orders 1..N. ``orders[k - 1]`` holds order k; unigram ids are word ids
    (every vocabulary entry is a unigram, possibly with count 0)."""
    order: int
    vocab_size: int
    orders: list[OrderCounts] = field(default_factory=list)
    n_sentences: int = 0
    n_tokens: int = 0

    def sizes(self) -> list[int]:
        return [len(o) for o in self.orders]


def count_ngrams(corpus: EncodedCorpus, order: int, vocab_size: int | None = None,
                 quiet: bool | None = None, chunk_tokens: int | None = None,
                 release_corpus: bool = False, allow_empty: bool = False) -> NgramCounts:
    """Count every n-gram of orders 1..``order`` in an encoded corpus.

    The vocabulary must have ``<unk>``, ``<s>``, ``</s>`` at ids 0, 1, 2. With
    ``chunk_tokens``, a larger corpus is counted in pieces of about that many tokens whose
    sorted counts are spilled to disk and merged (lmplz's external-sort idea): memory then
    grows with the number of distinct n-grams, not with the corpus. ``release_corpus``: the
    caller built ``corpus`` only to count it, so its ids are dropped (the corpus becomes empty)
    as soon as they are copied into the padded token stream: one corpus less in memory.
    ``allow_empty``: sentences without a token still count (``<s> </s>``; one piece of a
    larger corpus may hold only empty lines).
    """
    if chunk_tokens is not None and corpus.n_tokens > chunk_tokens:
        return _count_in_chunks(corpus, order, vocab_size, chunk_tokens, quiet)
    if not 1 <= order <= MAX_ORDER:
        raise ConfigError(f"order must be between 1 and {MAX_ORDER}, got {order}")
    if vocab_size is None:
        if corpus.vocab is None:
            raise ConfigError("vocab_size is needed for a corpus without a vocabulary")
        vocab_size = len(corpus.vocab)
    if corpus.n_tokens == 0 and not (allow_empty and corpus.n_sentences):
        raise CorpusError("the corpus holds no tokens; nothing to count")
    ids = np.ascontiguousarray(corpus.ids, dtype=np.int32)
    offsets = np.ascontiguousarray(corpus.offsets, dtype=np.int64)
    if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ConfigError(f"corpus ids must lie in [0, {vocab_size}) for this vocabulary")
    if corpus.n_tokens + 2 * corpus.n_sentences >= 2 ** 32:
        raise ConfigError(f"{corpus.n_tokens} tokens are too many to count in memory at once (at most "
                          "2**32 with the sentence marks); count in pieces with chunk_tokens= (--chunk-tokens)")
    tok = K.pad_sentences(ids, offsets, BOS_ID, EOS_ID)
    result = NgramCounts(order, vocab_size, n_sentences=corpus.n_sentences, n_tokens=corpus.n_tokens)
    del ids, offsets
    if release_corpus:
        corpus.ids, corpus.offsets = np.zeros(0, np.int32), np.zeros(1, np.int64)
    uni_count = id_counts(tok, vocab_size)
    words = np.arange(vocab_size, dtype=np.int32)
    result.orders.append(OrderCounts(ctx=np.zeros(vocab_size, np.int64), word=words, count=uni_count,
                                     suffix=np.full(vocab_size, -1, np.int64), first=words))
    small = np.int32 if len(tok) < 2 ** 31 - 1 else np.int64   # positions and ids
    prev_ids = tok.astype(small, copy=False)
    by_word = K.positions_by_word(tok, vocab_size, np.empty(0, small))
    word_start = np.zeros(vocab_size + 1, np.int64)
    np.cumsum(uni_count, out=word_start[1:])
    bar = progress(range(2, order + 1), desc="counting", unit="order", quiet=quiet)
    for _ in bar:
        lower = result.orders[-1]
        ctx, word, count, suffix, prev_ids = K.count_next_order(prev_ids, len(lower), tok, by_word, word_start,
                                                                BOS_ID, EOS_ID)
        result.orders.append(OrderCounts(ctx=ctx, word=word, count=count, suffix=suffix, first=lower.first[ctx]))
    log.debug("n-gram counts: %s", result.sizes())
    return result


def adjusted_counts(counts: NgramCounts) -> list[np.ndarray]:
    """Kneser-Ney's adjusted counts, per order, as KenLM's lmplz computes them.

    The highest order, and every n-gram that starts with ``<s>`` (unigram ``<s>`` aside),
    keep raw counts; other lower-order n-grams get their continuation count, the number of
    distinct words seen before them (``<s>`` included). ``<s>`` and ``<unk>`` get 0.
    """
    out = []
    N = counts.order
    for k in range(1, N + 1):
        oc = counts.orders[k - 1]
        if k == N:
            adj = oc.count.copy()
        else:
            adj = np.bincount(counts.orders[k].suffix, minlength=len(oc)).astype(np.int64)
            if k > 1:
                starts_bos = oc.first == BOS_ID
                adj[starts_bos] = oc.count[starts_bos]
        if k == 1:
            adj[BOS_ID] = 0
        out.append(adj)
    return out


def summed(inverse: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per group (``inverse``: each value's group in 0..n-1), the sum of its int64 values
    (exact below 2**53)."""
    return np.bincount(inverse, weights=values, minlength=n).astype(np.int64)


#: one counted piece's order k (>= 2): (context, word, count), sorted by (context, word); the
#: context is the prefix's row in the piece's own order k - 1, for bigrams the first word's id
#: (less an offset the caller chose)
PieceOrder = tuple[np.ndarray, np.ndarray, np.ndarray]


def merge_pieces(V: int, n_pieces: int, orders: int, piece_order) -> Iterator[PieceOrder]:
    """Merge separately counted pieces of a corpus, order by order (2 .. ``orders`` + 1):
    ``piece_order(i, k)`` gives piece i's order k (:data:`PieceOrder`). An n-gram's key is
    (merged row of its prefix) x V + word; each piece's keys are sorted, so one k-way merge per
    order (numba) merges them, counts summed: memory holds one order of the pieces at a time
    and one int64 per n-gram for the order below, never a sort of everything. Yields the
    merged orders in the same form."""
    where = [np.zeros(0, np.int64)] * n_pieces   # per piece: merged row of each of its n-grams one order down
    Vi = np.int64(V)
    for k in range(2, orders + 2):
        parts = [piece_order(i, k) for i in range(n_pieces)]
        keys = np.concatenate([np.asarray(ctx, np.int64) if k == 2 else where[i][ctx]
                               for i, (ctx, _, _) in enumerate(parts)]) * Vi
        keys += np.concatenate([word for _, word, _ in parts])
        sizes = np.cumsum([0] + [len(word) for _, word, _ in parts])
        uniq, inverse = K.merge_sorted_runs(keys, sizes)
        del keys
        where = [inverse[sizes[i]:sizes[i + 1]] for i in range(n_pieces)]
        count = summed(inverse, np.concatenate([cnt for _, _, cnt in parts]), len(uniq))
        del parts
        yield uniq // Vi, (uniq % Vi).astype(np.int32), count


def _count_in_chunks(corpus: EncodedCorpus, order: int, vocab_size: int | None, chunk_tokens: int,
                     quiet: bool | None) -> NgramCounts:
    """Count pieces of about ``chunk_tokens`` tokens, spill each piece's sorted n-grams to disk,
    then merge them order by order (lmplz's external-sort idea; :func:`merge_pieces`)."""
    import tempfile
    from pathlib import Path
    if vocab_size is None:
        if corpus.vocab is None:
            raise ConfigError("an encoded corpus without a vocabulary needs vocab_size")
        vocab_size = len(corpus.vocab)
    if not 1 <= order <= MAX_ORDER:
        raise ConfigError(f"order must be between 1 and {MAX_ORDER}, got {order}")
    offsets = np.asarray(corpus.offsets, dtype=np.int64)
    bounds = _chunk_bounds(offsets, chunk_tokens)
    with tempfile.TemporaryDirectory(prefix="lmkit-counts-") as tmp_name:
        tmp = Path(tmp_name)
        uni = _spill_chunks(corpus, offsets, bounds, order, vocab_size, tmp, quiet)
        result = NgramCounts(order, vocab_size, n_sentences=corpus.n_sentences, n_tokens=corpus.n_tokens)
        words = np.arange(vocab_size, dtype=np.int32)
        result.orders.append(OrderCounts(ctx=np.zeros(vocab_size, np.int64), word=words, count=uni,
                                         suffix=np.full(vocab_size, -1, np.int64), first=words))

        pieces = [f"{c}" for c in range(len(bounds) - 1)]
        while len(pieces) > MERGE_FAN_IN:       # a tree of merges: memory holds MERGE_FAN_IN pieces
            pieces = [_merge_spilled(tmp, pieces[i:i + MERGE_FAN_IN], order, vocab_size, f"m{i}.{pieces[0]}")
                      for i in range(0, len(pieces), MERGE_FAN_IN)]
        merged = merge_pieces(vocab_size, len(pieces), order - 1, _spilled_reader(tmp, pieces))
        for k, (ctx, word, count) in enumerate(merged, start=2):
            result.orders.append(_order_from(ctx, word, count, result.orders[-1], vocab_size, k))
    return result


#: spilled pieces merged at once by the chunked counter (more are merged as a tree)
MERGE_FAN_IN = 8


def _spilled_reader(tmp, names: list[str]):
    """``piece_order(i, k)`` for :func:`merge_pieces` over spilled pieces (memory-mapped)."""
    def piece_order(i: int, k: int) -> PieceOrder:
        ctx, word, count = (np.load(tmp / f"{part}{k}.{names[i]}.npy", mmap_mode="r")
                            for part in ("ctx", "word", "count"))
        return ctx, word, count
    return piece_order


def _merge_spilled(tmp, names: list[str], order: int, vocab_size: int, out: str) -> str:
    """Merge spilled pieces ``names`` into one spilled piece ``out`` (the same form), deleting
    its inputs; return its name."""
    merged = merge_pieces(vocab_size, len(names), order - 1, _spilled_reader(tmp, names))
    for k, arrays in enumerate(merged, start=2):
        for part, arr in zip(("ctx", "word", "count"), arrays):
            np.save(tmp / f"{part}{k}.{out}.npy", arr)
    for name in names:
        for k in range(2, order + 1):
            for part in ("ctx", "word", "count"):
                (tmp / f"{part}{k}.{name}.npy").unlink()
    return out


def _chunk_bounds(offsets: np.ndarray, chunk_tokens: int) -> list[int]:
    """Sentence indices cutting the corpus into pieces of about ``chunk_tokens`` tokens."""
    bounds = [0]
    while bounds[-1] < len(offsets) - 1:
        nxt = int(np.searchsorted(offsets, offsets[bounds[-1]] + chunk_tokens, side="left"))
        bounds.append(min(max(nxt, bounds[-1] + 1), len(offsets) - 1))
    return bounds


def _spill_chunks(corpus: EncodedCorpus, offsets: np.ndarray, bounds: list[int], order: int, vocab_size: int,
                  tmp, quiet: bool | None) -> np.ndarray:
    """Count each piece (two at a time: the counting kernels release the GIL); write its
    (context, word, count) per order to ``tmp``; return the unigram counts."""
    from concurrent.futures import ThreadPoolExecutor

    from ..text import EncodedCorpus as EC
    from ..text import read_ids

    def count_piece(c: int) -> np.ndarray:
        lo, hi = bounds[c], bounds[c + 1]
        ids = read_ids(corpus.ids, offsets[lo], offsets[hi])
        part = count_ngrams(EC(ids, offsets[lo:hi + 1] - offsets[lo]), order, vocab_size, quiet=True)
        for k in range(2, order + 1):
            oc = part.orders[k - 1]
            for name, arr in (("ctx", oc.ctx), ("word", oc.word), ("count", oc.count)):
                np.save(tmp / f"{name}{k}.{c}.npy", arr)
        return part.orders[0].count

    uni = np.zeros(vocab_size, dtype=np.int64)
    bar = progress(total=len(bounds) - 1, desc="counting chunks", unit="chunk", quiet=quiet)
    with ThreadPoolExecutor(max_workers=_COUNT_THREADS) as pool:
        for counts in pool.map(count_piece, range(len(bounds) - 1)):
            uni += counts
            bar.update(1)
    bar.close()
    return uni


#: pieces counted at once by the chunked counter
_COUNT_THREADS = 2


def _order_from(ctx: np.ndarray, word: np.ndarray, count: np.ndarray, lower: OrderCounts, vocab_size: int,
                k: int) -> OrderCounts:
    """Order k's arrays from its merged (context, word, count): suffix ids into order k - 1."""
    V = np.int64(vocab_size)
    suffix = word.astype(np.int64) if k == 2 else np.searchsorted(lower.keys(V), lower.suffix[ctx] * V + word)
    return OrderCounts(ctx=ctx, word=word, count=count, suffix=suffix, first=lower.first[ctx])
