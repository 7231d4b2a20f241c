"""N-gram estimation on a Dask cluster, byte for byte the single-machine model.

The single-machine kernels (:func:`~lmkit.ngram.counts.count_ngrams`) and estimation steps
(:mod:`~lmkit.ngram.estimators`) run on partitions; Dask futures carry the data from worker
to worker, and only vocabulary-sized arrays and small tallies visit the client.

1. **Tally**: each line-aligned input range (at most :data:`RANGE_BYTES`) is read and
   tokenised on a worker; the client merges the token counts into the vocabulary, which is
   broadcast.
2. **Count**: each range is read again and encoded with the vocabulary (text never travels;
   nothing corpus-sized waits in memory between stages), counts its n-grams of every order and
   cuts them by first word into P word ranges (balanced by word frequency); each partition
   merges its pieces. A partition then holds *whole contexts* of every order (a context starts
   with the n-gram's first word), so every per-context sum is added in the single-machine order.
3. **Continuation counts** (shuffle by suffix): each partition sends the distinct suffixes of
   its n-grams, with how many n-grams end in each, to the partition owning the suffix.
4. **Count-of-counts** are summed on the client, which computes the discounts and the unigram
   distribution (one context: the whole vocabulary).
5. **Orders 2..N** in turn: alpha and gamma per partition; each n-gram's lower-order
   probability at its suffix comes back from the suffix's owner (the inverse of stage 3).
6. **Output**: ARPA lines are spelled on the workers, partition by partition, and written in
   order by the client (word ranges in id order give the single-machine n-gram order).
"""
from __future__ import annotations

import logging
import operator
import os
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._io import atomic_write
from ..cluster import on_worker, split_inputs, tally_vocabulary
from ..errors import ConfigError, CorpusError
from ..progress import progress
from ..text import BOS_ID, Corpus, Tokenizer, Vocabulary, encode_corpus, utf8_blob
from ..text.corpus import Span
from . import _kernels as K
from .arpa import ARPA_END, arpa_header, arpa_text, section_start
from .counts import MAX_ORDER, count_ngrams, merge_pieces, summed
from .estimators import (
    Options,
    OrderInput,
    Smoothing,
    backoff_order,
    check_options,
    check_pruning,
    context_backoffs,
    count_of_counts,
    interpolate_order,
    interpolate_unigrams,
    log10,
    prune_thresholds,
)

log = logging.getLogger(__name__)
#: the largest input range a task reads (bytes of text): more ranges than partitions for a
#: large corpus, so that a worker's memory follows the range, not the corpus
RANGE_BYTES = 32 << 20
#: pieces merged by one task (a tree of merges for many input ranges)
MERGE_FAN_IN = 8
#: ARPA lines spelled per task (the client holds a few such pieces at a time)
ARPA_LINES = 1 << 18


# ---------------------------------------------------------------------- worker-side data
@dataclass
class _Part:
    """The n-grams of orders 2..N whose first word lies in ``[lo, hi)``, per order (index
    k-2): sorted unique rows (int32 ``[n, k]``), raw counts, context index (order 2: word - lo;
    above: row of the prefix in this partition's order k-1)."""
    lo: int
    hi: int
    rows: list[np.ndarray]
    count: list[np.ndarray]
    ctx: list[np.ndarray]

    def n_ctx(self, k: int) -> int:
        return self.hi - self.lo if k == 2 else len(self.rows[k - 3])


@dataclass
class _Suffixes:
    """A partition's distinct suffixes per order k >= 3 (index k-3): sorted unique rows
    ``[u, k-1]``, how many of its n-grams end in each, each n-gram's suffix index, and the
    cuts of the suffix list by owner partition."""
    rows: list[np.ndarray]
    mult: list[np.ndarray]
    inverse: list[np.ndarray]
    cuts: list[np.ndarray]


@dataclass
class _Adjusted:
    """Kneser-Ney adjusted counts per order k >= 2 (index k-2), and, per order k >= 3 and
    requesting partition q, where q's suffixes sit in this partition's order k-1."""
    kn: list[np.ndarray]
    where: list[list[np.ndarray]]


@dataclass
class _Step:
    """One partition after order k: p_k (float64), log10 p_k (float32), keep mask, and the
    float32 log10 backoff of the contexts (order k-1 n-grams of this partition; order 2: the
    words lo..hi-1)."""
    p: np.ndarray
    logprob: np.ndarray
    keep: np.ndarray
    ctx_backoff: np.ndarray


def _nbytes(obj) -> int:
    """Bytes held by a stage result's arrays (Dask's memory manager needs it to spill in time)."""
    total = 0
    for value in vars(obj).values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            for arr in item if isinstance(item, list) else [item]:
                total += getattr(arr, "nbytes", 0)
    return total


try:   # tell Dask how large the stage results are (it cannot see into dataclasses)
    from dask.sizeof import sizeof as _dask_sizeof
    for _cls in (_Part, _Suffixes, _Adjusted, _Step):
        _dask_sizeof.register(_cls)(_nbytes)
except ImportError:   # the module still imports without the 'dask' extra
    pass


# ---------------------------------------------------------------------- stage functions (tasks)
def _group_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct int64 keys, each input key's index among them, and where each distinct
    key first occurs in the input."""
    if len(keys) == 0:
        return keys, np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    srt = keys[order]
    starts = np.empty(len(srt), bool)
    starts[0] = True
    np.not_equal(srt[1:], srt[:-1], out=starts[1:])
    inverse = np.empty(len(keys), np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return srt[starts], inverse, order[starts]


@on_worker
def _count_range(span: Span, tokenizer: Tokenizer, strict: bool, vocab: Vocabulary, order: int,
                 bounds: np.ndarray):
    """Unigram counts (int64 [V]) and, per partition p and order k >= 2, the range's n-grams
    whose first word lies in partition p: (context, word, count), the context being the first
    word for bigrams and the row of the prefix within the same piece of order k-1 above."""
    P = len(bounds) - 1
    V = len(vocab)
    pieces: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in range(P)]
    encoded = encode_corpus(Corpus(span, tokenizer, strict=strict, quiet=True), vocab)
    if encoded.n_sentences == 0:   # no line starts in this range
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64))
        return np.zeros(V, np.int64), [[empty] * (order - 1) for _ in range(P)]
    counts = count_ngrams(encoded, order, V, quiet=True, allow_empty=True, release_corpus=True)
    cut = np.asarray(bounds, np.int64)          # order 1: word ids cut at the word ranges
    for k in range(2, order + 1):
        oc = counts.orders[k - 1]
        ctx = oc.ctx
        below = cut
        cut = np.searchsorted(ctx, below)       # contexts are sorted: each partition is a slice
        for p in range(P):
            a, b = cut[p], cut[p + 1]
            pieces[p].append((ctx[a:b] - below[p], oc.word[a:b], oc.count[a:b]))
    return counts.orders[0].count, pieces


def _given(value):
    """``value`` as a task result: unlike scattered data, Dask recomputes it if the worker
    holding it dies."""
    return value


def _piece(result, p: int):
    return result[1][p]


def _unigrams_of(result) -> np.ndarray:
    return result[0]


@on_worker
def _combine(V: int, *pieces) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pieces of one partition (per order k >= 2: context, word, count, the context being the
    first word's offset in the partition for bigrams, else the prefix's row one order down)
    merged into one piece of the same form (:func:`lmkit.ngram.counts.merge_pieces`, the
    single-machine chunked counter's merge)."""
    return list(merge_pieces(V, len(pieces), len(pieces[0]), lambda i, k: pieces[i][k - 2]))


def _part_from(lo: int, hi: int, piece) -> _Part:
    """A partition's arrays from its merged piece: rows spelled out order by order."""
    rows_k: list[np.ndarray] = []
    for k, (ctx, word, _) in enumerate(piece, start=2):
        rows = np.empty((len(word), k), np.int32)
        if k == 2:
            rows[:, 0] = ctx + lo
        else:
            rows[:, :-1] = rows_k[-1][ctx]
        rows[:, -1] = word
        rows_k.append(rows)
    return _Part(lo, hi, rows_k, [c for _, _, c in piece], [c for c, _, _ in piece])


def _suffixes(part: _Part, bounds: np.ndarray, V: int) -> _Suffixes:
    """Each order's distinct suffixes, found by one integer sort per order: a suffix's key is
    (index of its own prefix among the order below's suffixes) x V + word, which sorts as its
    words do."""
    out = _Suffixes([], [], [], [])
    below = part.rows[0][:, 1].astype(np.int64) if part.rows else None   # bigrams' suffixes: words
    for k in range(3, len(part.rows) + 2):
        rows = part.rows[k - 2]
        assert below is not None
        uniq, inverse, first = _group_keys(below[part.ctx[k - 2]] * np.int64(V) + rows[:, -1])
        u = np.ascontiguousarray(rows[first, 1:]) if len(rows) else np.zeros((0, k - 1), np.int32)
        out.rows.append(u)
        out.mult.append(np.bincount(inverse, minlength=len(uniq)).astype(np.int64))
        out.inverse.append(inverse)
        out.cuts.append(np.searchsorted(u[:, 0], bounds) if len(u) else np.zeros(len(bounds), np.int64))
        below = inverse
    return out


def _suffixes_for(sfx: _Suffixes, p: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The suffixes partition ``p`` owns, per order k >= 3: (rows, multiplicities)."""
    return [(r[c[p]:c[p + 1]], m[c[p]:c[p + 1]]) for r, m, c in zip(sfx.rows, sfx.mult, sfx.cuts)]


@on_worker
def _adjusted(part: _Part, order: int, *incoming) -> _Adjusted:
    """Continuation counts of this partition's n-grams from every partition's suffixes."""
    kn: list[np.ndarray] = []
    where: list[list[np.ndarray]] = []
    for k in range(2, order + 1):
        raw = part.count[k - 2]
        if k == order:
            kn.append(raw.copy())
            continue
        cont = np.zeros(len(raw), np.int64)
        at_q = []
        for got in incoming:   # from each partition q: suffixes of its order-(k+1) n-grams
            rows, mult = got[k - 2]
            idx = K.match_rows(np.ascontiguousarray(rows), part.rows[k - 2])
            if len(idx) and idx.min() < 0:
                raise AssertionError("a suffix is missing from the partition that owns it")
            cont += summed(idx, mult, len(raw))
            at_q.append(idx)
        starts_bos = part.rows[k - 2][:, 0] == BOS_ID
        cont[starts_bos] = raw[starts_bos]
        kn.append(cont)
        where.append(at_q)
    return _Adjusted(kn, where)


def _bigram_followers(part: _Part, V: int) -> np.ndarray:
    """Distinct words before each word in this partition's bigrams (int64 [V])."""
    return np.bincount(part.rows[0][:, 1], minlength=V).astype(np.int64) if part.rows else np.zeros(V, np.int64)


def _order_input(part: _Part, adj: _Adjusted, k: int) -> OrderInput:
    return OrderInput(k, part.count[k - 2], adj.kn[k - 2], part.ctx[k - 2], part.n_ctx(k))


def _tallies(part: _Part, adj: _Adjusted, sm: Smoothing, thresholds: list[int] | None):
    """Per order k >= 2: count-of-counts of what the smoothing discounts, n-grams kept."""
    coc, kept = [], []
    for k in range(2, len(part.rows) + 2):
        coc.append(count_of_counts(sm.discounted(_order_input(part, adj, k))))
        kept.append(int((part.count[k - 2] > thresholds[k - 1]).sum()) if thresholds else len(part.count[k - 2]))
    return coc, kept


@on_worker
def _order_step(part: _Part, adj: _Adjusted, sfx: _Suffixes, k: int, sm: Smoothing, const, opts: Options,
                thresholds: list[int] | None, n_words: int, p_unigram, *answers) -> _Step:
    """Order k of one partition: the same steps :func:`~lmkit.ngram.estimators.estimate` runs."""
    o = _order_input(part, adj, k)
    alpha, gamma = sm.seen(o, const, n_words, opts)
    keep = part.count[k - 2] > thresholds[k - 1] if thresholds else np.ones(len(alpha), bool)
    how = sm.assembly(opts)
    if how in ("interpolate", "backoff"):
        if k == 2:
            lower = p_unigram[part.rows[0][:, 1]]
        else:
            lower = np.concatenate(answers)[sfx.inverse[k - 3]] if answers else np.zeros(0)
        if how == "interpolate":
            assert gamma is not None   # interpolating smoothings weigh every context
            p, gamma = interpolate_order(alpha, gamma, o.ctx, keep, lower)
            bo = context_backoffs(gamma, o.ctx, o.n_ctx)
        else:
            bo = backoff_order(alpha, o.ctx, o.n_ctx, keep, lower)
            p = alpha
    elif how == "scores":
        p, bo = alpha, np.full(o.n_ctx, float(np.log10(opts.stupid_alpha)))
    else:   # uniform (additive)
        assert gamma is not None
        p, bo = alpha, np.log10(gamma)
    return _Step(p, log10(p).astype(np.float32), keep, bo.astype(np.float32))   # float32 as the model keeps them


def _answer(step: _Step, adj: _Adjusted, k: int, q: int) -> np.ndarray:
    """p_{k-1} of this partition at the suffixes partition ``q`` asked for (its order k)."""
    return step.p[adj.where[k - 3][q]]


@on_worker
def _arpa_piece(part: _Part, k: int, lo: int, hi: int, step: _Step, above: _Step | None,
                words: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The ARPA lines of this partition's order-k n-grams ``lo..hi-1`` (uint8 bytes);
    ``words``: the vocabulary's :func:`utf8_blob`."""
    blob, offsets = words
    backoff = None if above is None else above.ctx_backoff[lo:hi]
    return arpa_text(part.rows[k - 2][lo:hi], step.logprob[lo:hi], backoff,
                     step.keep[lo:hi], blob, offsets)


def _order_sizes(part: _Part) -> list[int]:
    return [len(c) for c in part.count]


def _model_piece(part: _Part, k: int, step: _Step, above: _Step | None, below: _Step | None):
    """Order k's kept n-grams: context (global word id for k = 2, else the kept index of the
    prefix within this partition's order k-1), word, float32 log10 prob and backoff."""
    keep = step.keep
    if k == 2:
        ctx = part.rows[0][:, 0].astype(np.int64)[keep]
    else:
        assert below is not None
        ctx = (np.cumsum(below.keep) - 1)[part.ctx[k - 2]][keep]
    backoff = np.zeros(0, np.float32) if above is None else above.ctx_backoff[keep]
    return ctx, part.rows[k - 2][:, -1][keep], step.logprob[keep], backoff


# ---------------------------------------------------------------------- client side
def word_ranges(counts: np.ndarray, parts: int) -> np.ndarray:
    """Cuts ``[P + 1]`` of the word ids into ``parts`` ranges of about equal token mass (the
    n-grams starting with a word grow with its count); each range holds at least one word."""
    V = len(counts)
    parts = max(1, min(parts, V))
    cum = np.cumsum(np.maximum(counts, 1), dtype=np.float64)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, parts) / parts, side="right")
    bounds = np.concatenate([[0], cuts, [V]]).astype(np.int64)
    for i in range(1, parts):   # strictly increasing: every range non-empty
        bounds[i] = max(bounds[i], bounds[i - 1] + 1)
    for i in range(parts - 1, 0, -1):
        bounds[i] = min(bounds[i], bounds[i + 1] - 1)
    return bounds


class DistributedEstimate:
    """A model estimated on a cluster, still in the workers' memory: write it as ARPA
    (streamed, partition by partition) or gather it into an :class:`NgramModel`."""

    def __init__(self, client, vocab: Vocabulary, order: int, parts: list,
                 steps: list[list], unigram_logprob: np.ndarray, unigram_backoff: np.ndarray, kept: list[int],
                 meta: dict, tokenizer: Tokenizer) -> None:
        self.client = client
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.order = order
        self._parts = parts
        self._steps = steps            # [k - 2][partition]
        self.unigram_logprob = unigram_logprob
        self.unigram_backoff = unigram_backoff
        self.sizes = [len(vocab)] + kept
        self.meta = meta

    def _above(self, k: int, p: int):
        return self._steps[k - 1][p] if k < self.order else None

    def write_arpa(self, path: str | os.PathLike, quiet: bool | None = None) -> None:
        """The ARPA file, byte-identical to ``lmkit ngram train`` on one machine, written
        atomically; pieces are spelled on the workers and fetched one at a time."""
        if self.meta.get("fallback") == "uniform":
            raise ConfigError(f"{path}: an additive ('add') model is not a backoff model and cannot be "
                              "written as ARPA; save it as .lmk, or train with 'add-backoff'")
        if self.meta.get("unseen_context_backoff", 0.0):
            log.warning("%s: ARPA readers will not apply stupid backoff's factor after contexts "
                        "the model never saw; lmkit's .lmk format keeps it", path)
        blob, offsets = utf8_blob(self.vocab.itos)
        words = self.client.submit(_given, (blob, offsets), pure=False)
        V = len(self.vocab)
        sizes = self.client.gather([self.client.submit(_order_sizes, part) for part in self._parts])
        jobs = [(k, p, lo, min(lo + ARPA_LINES, n)) for k in range(2, self.order + 1)
                for p, n in enumerate(s[k - 2] for s in sizes) for lo in range(0, n, ARPA_LINES)]
        bar = progress(total=sum(self.sizes), desc="writing ARPA", unit="n-gram", quiet=quiet)

        def spell(job):
            k, p, lo, hi = job
            return self.client.submit(_arpa_piece, self._parts[p], k, lo, hi, self._steps[k - 2][p],
                                      self._above(k, p), words)

        with atomic_write(path, "wb") as out:
            out.write(arpa_header(self.sizes))
            out.write(section_start(1))
            backoff = self.unigram_backoff.astype(np.float32) if self.order > 1 else None
            out.write(arpa_text(np.arange(V, dtype=np.int32)[:, None], self.unigram_logprob.astype(np.float32),
                                backoff, np.ones(V, bool), blob, offsets))
            bar.update(V)
            window = 2 * max(1, len(self.client.scheduler_info().get("workers", {})))
            pending = deque(spell(job) for job in jobs[:window])   # pieces in flight, written in order
            headed = 1   # orders whose heading is written
            for i, (k, _, lo, hi) in enumerate(jobs):
                while headed < k:
                    headed += 1
                    out.write(section_start(headed))
                fut = pending.popleft()
                if i + window < len(jobs):
                    pending.append(spell(jobs[i + window]))
                out.write(fut.result())
                fut.release()
                bar.update(hi - lo)
            while headed < self.order:   # orders with no n-gram at all
                headed += 1
                out.write(section_start(headed))
            out.write(ARPA_END)
        bar.close()

    def to_model(self):
        """The whole model gathered into the client's memory."""
        from .model import NgramModel
        V = len(self.vocab)
        ctx = [np.zeros(V, np.int64)]
        word = [np.arange(V, dtype=np.int32)]
        logprob = [self.unigram_logprob.astype(np.float32)]
        backoff = [self.unigram_backoff.astype(np.float32) if self.order > 1 else np.zeros(0, np.float32)]
        kept_before = [0] * len(self._parts)   # per partition: kept n-grams of order k-1 before it
        for k in range(2, self.order + 1):
            futs = [self.client.submit(_model_piece, part, k, self._steps[k - 2][p], self._above(k, p),
                                       self._steps[k - 3][p] if k > 2 else None)
                    for p, part in enumerate(self._parts)]
            got = self.client.gather(futs)
            ctx.append(np.concatenate([c + (kept_before[p] if k > 2 else 0) for p, (c, _, _, _) in enumerate(got)]))
            word.append(np.concatenate([g[1] for g in got]))
            logprob.append(np.concatenate([g[2] for g in got]))
            backoff.append(np.concatenate([g[3] for g in got]))
            kept_before = np.concatenate([[0], np.cumsum([len(g[1]) for g in got])[:-1]]).tolist()
        return NgramModel(self.vocab, ctx, word, logprob, backoff, dict(self.meta), self.tokenizer)


def train_on_cluster(client, sources: Corpus | str | os.PathLike | Sequence[str | os.PathLike], order: int = 3,
                     smoothing: str = "mkn", *, partitions: int | None = None, vocab: Vocabulary | None = None,
                     min_count: int = 1, discount: float | None = None, interpolate: bool = True,
                     stupid_alpha: float = 0.4, prune=None, tokenizer: Tokenizer | None = None,
                     strict: bool = False, quiet: bool | None = None) -> DistributedEstimate:
    """Count and estimate an n-gram model on the Dask cluster behind ``client``.

    ``sources``: files or directories every worker can read (or a :class:`Corpus` of them,
    whose tokenizer and strictness are used). ``partitions``: input ranges and word-range
    partitions (default: twice the workers). Other arguments as in :meth:`NgramModel.train`.
    """
    if not 1 <= order <= MAX_ORDER:
        raise ConfigError(f"order must be between 1 and {MAX_ORDER}, got {order}")
    sm = check_options(order, smoothing, discount, stupid_alpha, prune)
    thresholds = prune_thresholds(prune, order)
    check_pruning(sm, thresholds is not None and any(thresholds[1:]))
    opts = Options([], discount, interpolate, stupid_alpha)
    sm.check(opts)
    if isinstance(sources, Corpus):
        tokenizer, strict, sources = sources.tokenizer, sources.strict, sources.paths
    tokenizer = tokenizer or Tokenizer()
    n_parts = partitions or 2 * max(1, len(client.scheduler_info().get("workers", {})))
    run = uuid.uuid4().hex[:8]
    submit = client.submit
    bar = progress(total=6, desc="cluster stages", unit="stage", quiet=quiet)

    # 1. read and tokenise each range where it lies; vocabulary on the client, broadcast
    spans = split_inputs(sources, n_parts, max_bytes=RANGE_BYTES)
    vocab, n_sentences, n_tokens = tally_vocabulary(client, spans, tokenizer, strict, vocab=vocab,
                                                    min_count=min_count, key=f"lmkit-tally-{run}")
    if vocab.unk_id < 0:
        raise CorpusError("the vocabulary has no <unk>; it cannot encode unseen tokens")
    V = len(vocab)
    vocab_future = submit(_given, vocab, pure=False, key=f"lmkit-vocab-{run}")
    bar.update()

    # 2. count each range; cut by first word; merge per partition
    counts_hint = vocab.counts.copy()
    counts_hint[BOS_ID] = n_sentences
    bounds = word_ranges(counts_hint, n_parts)
    P = len(bounds) - 1
    counted = [submit(_count_range, span, tokenizer, strict, vocab_future, order, bounds, key=f"lmkit-count-{run}-{i}")
               for i, span in enumerate(spans)]
    unigram_count = np.sum(client.gather([submit(_unigrams_of, c) for c in counted]), axis=0)
    parts = []
    for p in range(P):
        pieces = [submit(_piece, c, p) for c in counted]
        while len(pieces) > 1:   # a tree of merges: no task holds more than MERGE_FAN_IN pieces
            pieces = [submit(_combine, V, *pieces[i:i + MERGE_FAN_IN], key=f"lmkit-merge-{run}-{p}-{len(pieces)}-{i}")
                      for i in range(0, len(pieces), MERGE_FAN_IN)]
        parts.append(submit(_part_from, int(bounds[p]), int(bounds[p + 1]), pieces[0],
                            key=f"lmkit-part-{run}-{p}"))
    del counted
    bar.update()

    # 3. continuation counts: suffixes to their owners
    sfx = [submit(_suffixes, part, bounds, V, key=f"lmkit-suffixes-{run}-{p}") for p, part in enumerate(parts)]
    adj = [submit(_adjusted, part, order, *[submit(_suffixes_for, s, p) for s in sfx], key=f"lmkit-adjusted-{run}-{p}")
           for p, part in enumerate(parts)]
    bar.update()

    # 4. count-of-counts, discounts, unigrams on the client
    kn1 = None
    if sm.uses_kn:
        if order > 1:
            kn1 = np.sum(client.gather([submit(_bigram_followers, part, V) for part in parts]), axis=0)
        else:
            kn1 = unigram_count.copy()
        kn1[BOS_ID] = 0
    o1 = OrderInput(1, unigram_count, kn1, np.zeros(V, np.int64), 1)
    per_part = client.gather([submit(_tallies, part, a, sm, thresholds) for part, a in zip(parts, adj)])
    coc = [count_of_counts(sm.discounted(o1))] + [np.sum([t[0][k] for t in per_part], axis=0)
                                                   for k in range(order - 1)]
    kept = [int(sum(t[1][k] for t in per_part)) for k in range(order - 1)]
    consts = sm.constants(coc, opts)
    n_words = V - 1
    alpha1, gamma1 = sm.seen(o1, consts[0], n_words, opts)
    how = sm.assembly(opts)
    if how == "interpolate":
        assert gamma1 is not None
        p1 = interpolate_unigrams(alpha1, gamma1, n_words)
    elif how == "backoff":
        p1 = sm.unigram(alpha1, gamma1, n_words)
    else:
        p1 = alpha1
    p1_future = submit(_given, p1, pure=False, key=f"lmkit-unigrams-{run}")
    bar.update()

    # 5. orders 2..N: lower-order probabilities fetched from the suffixes' owners
    steps: list[list] = []
    for k in range(2, order + 1):
        row = []
        for q in range(P):
            answers = []
            if k > 2 and how in ("interpolate", "backoff"):
                answers = [submit(_answer, steps[-1][p], adj[p], k, q) for p in range(P)]
            row.append(submit(_order_step, parts[q], adj[q], sfx[q], k, sm, consts[k - 1], opts, thresholds,
                              n_words, p1_future, *answers, key=f"lmkit-order{k}-{run}-{q}"))
        steps.append(row)
    if order > 1:
        unigram_backoff = np.concatenate(client.gather([submit(operator.attrgetter("ctx_backoff"), s)
                                                        for s in steps[0]]))
    else:
        unigram_backoff = np.zeros(0)
    bar.update()

    logprob1 = log10(p1).copy()
    if how != "scores":
        logprob1[BOS_ID] = 0.0
    discounts = sm.discounts(consts)
    meta = {"smoothing": smoothing, "order": order, "is_probability": how != "scores",
            "counts": [V] + kept, "n_tokens": n_tokens, "n_sentences": n_sentences,
            "fallback": "uniform" if how == "uniform" else "backoff",
            "unseen_context_backoff": float(np.log10(stupid_alpha)) if how == "scores" else 0.0}
    if discounts is not None:
        meta["discounts"] = discounts[:, 1:].tolist()
    bar.update()
    bar.close()
    return DistributedEstimate(client, vocab, order, parts, steps, logprob1,
                               unigram_backoff, kept, meta, tokenizer)
