"""word2vec on a Dask cluster: synchronous rounds of K model replicas.

Each replica holds one shard of the corpus on its worker (the input ranges, read and encoded
there) and trains the single-machine numba kernel on it, a chunk at a time, starting each round
from the last averaged model. After every round (about ``sync_words`` corpus words over all
replicas) the client averages the rows the replicas changed, each replica's row weighted by how
often its chunk used it (the word's occurrences; 1 for rows only sampled), and the next round
starts from the result (``method="sum"`` adds every replica's change instead, as a parameter
server receiving each replica's pushed deltas would). The learning rate follows global word
progress: a round's chunks all train with the rate of the words processed before and after it
over every replica.

K may exceed the workers (logical replicas: more tasks per round). With one replica and
``sync_words`` equal to ``batch_words`` this is the single-process trainer with one thread, bit
for bit (tested).
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..cluster import on_worker, split_inputs, tally_vocabulary
from ..errors import ConfigError, CorpusError
from ..progress import progress
from ..text import Corpus, Tokenizer, Vocabulary, encode_corpus
from ..text.corpus import Span
from . import _kernels as K

log = logging.getLogger(__name__)


@dataclass
class _Shard:
    """One replica's text on its worker: ids (int32), sentence offsets and its chunks
    (first sentence, end sentence, words before)."""
    ids: np.ndarray
    offsets: np.ndarray
    chunks: list[tuple[int, int, int]]


@on_worker
def _encode_shard(spans: list[Span], tokenizer: Tokenizer, strict: bool, vocab: Vocabulary,
                  chunk_words: int) -> _Shard:
    from .word2vec import _plan_jobs
    if not spans:
        return _Shard(np.zeros(0, np.int32), np.zeros(1, np.int64), [])
    enc = encode_corpus(Corpus(spans, tokenizer, strict=strict, quiet=True), vocab)
    offsets = np.ascontiguousarray(enc.offsets, dtype=np.int64)
    return _Shard(np.ascontiguousarray(enc.ids, dtype=np.int32), offsets, _plan_jobs(offsets, chunk_words))


def _chunk_words(shard: _Shard) -> list[int]:
    return [int(shard.offsets[hi] - shard.offsets[lo]) for lo, hi, _ in shard.chunks]


def _given(value):
    """``value`` as a task result (recomputed if the worker holding it dies)."""
    return value


@on_worker
def _train_chunk(shard: _Shard, j: int, weights, tables, settings, a0: float, a1: float, seed: int):
    """Chunk ``j`` of a shard trained from ``weights`` (copied: they are shared): per matrix,
    the rows it changed, their new values and weights; and (loss, predictions, words)."""
    from .word2vec import NO_HOT_ROWS
    lo, hi, _ = shard.chunks[j]
    mine = tuple(w.copy() for w in weights)
    loss, n_pred, n_words = K.train_job((shard.ids, shard.offsets), mine, tables, settings,
                                        (lo, hi, 1, a0, a1, seed), NO_HOT_ROWS)
    used = np.bincount(shard.ids[shard.offsets[lo]:shard.offsets[hi]], minlength=len(weights[0]))
    out = []
    for m, (old, new) in enumerate(zip(weights, mine)):
        rows = np.flatnonzero(np.any(old != new, axis=1)) if len(old) else np.zeros(0, np.int64)
        # syn0 and syn1neg rows are words (weight: the word's occurrences in the chunk, at least
        # 1 for a row only sampled); syn1 rows are Huffman nodes (weight 1)
        w = np.ones(len(rows), np.int64) if m == 1 else np.maximum(used[rows], 1)
        out.append((rows, new[rows], w))
    return out, (loss, n_pred, n_words)


def _apply_sum(weights: tuple, updates: list) -> None:
    """Every replica's change added to the shared model (what a parameter server receiving
    each replica's pushed deltas does; Downpour with one round of staleness)."""
    for m, old in enumerate(weights):
        deltas = [(rows, values - old[rows]) for rows, values, _ in (u[m] for u in updates) if len(rows)]
        for rows, delta in deltas:   # every delta taken against the model before the round
            old[rows] += delta


def _average(weights: tuple, updates: list) -> None:
    """Each matrix's changed rows become the weighted mean of the replicas' new rows
    (a row one replica changed takes its value exactly)."""
    for m, old in enumerate(weights):
        parts = [u[m] for u in updates if len(u[m][0])]
        if not parts:
            continue
        rows = np.concatenate([p[0] for p in parts])
        uniq, inverse = np.unique(rows, return_inverse=True)
        num = np.zeros((len(uniq), old.shape[1]), np.float64)
        den = np.zeros(len(uniq), np.float64)
        hits = np.bincount(inverse, minlength=len(uniq))
        base = old[uniq].astype(np.float64)
        at = 0
        for r, values, w in parts:
            idx = inverse[at:at + len(r)]
            at += len(r)
            num[idx] += w[:, None] * (values.astype(np.float64) - base[idx])
            den[idx] += w
        mean = (base + num / den[:, None]).astype(np.float32)
        single = hits == 1   # exactly the one replica's value (no rounding through the mean)
        at = 0
        for r, values, _ in parts:
            idx = inverse[at:at + len(r)]
            at += len(r)
            lone = single[idx]
            mean[idx[lone]] = values[lone]
        old[uniq] = mean


METHODS = ("average", "sum")


def train_on_cluster(model, client, sources: Corpus | str | os.PathLike | Sequence[str | os.PathLike], *,
                     replicas: int | None = None, sync_words: int | None = None, method: str = "average",
                     partitions: int | None = None,
                     epochs: int | None = None, tokenizer: Tokenizer | None = None, strict: bool = False,
                     quiet: bool | None = None):
    """Train ``model`` (a :class:`~lmkit.embed.Word2Vec`; its vocabulary is built on the
    cluster if it has none) on the cluster behind ``client``.

    ``replicas``: model replicas K (default: the workers); ``sync_words``: corpus words per
    round over all replicas between averagings (default ``K x batch_words``); ``method``:
    ``average`` (rows weighted by use) or ``sum`` (every replica's change added, as pushed to a
    parameter server); ``partitions``: input ranges (default: 2 per replica).
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    combine = _average if method == "average" else _apply_sum
    from .word2vec import SPECIALS, SYNC_WORDS, EpochStats, _job_seed
    c = model.config
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    K_rep = replicas or workers
    if K_rep < 1:
        raise ConfigError(f"replicas must be >= 1, got {K_rep}")
    sync = sync_words or K_rep * c.batch_words
    if sync < K_rep:
        raise ConfigError(f"sync_words ({sync}) must be at least the number of replicas ({K_rep})")
    if isinstance(sources, Corpus):
        tokenizer, strict, sources = sources.tokenizer, sources.strict, sources.paths
    tokenizer = tokenizer or Tokenizer()
    run = uuid.uuid4().hex[:8]
    spans = split_inputs(sources, partitions or 2 * K_rep, max_bytes=32 << 20)
    if model.vocab is None:
        vocab, _, _ = tally_vocabulary(client, spans, tokenizer, strict, min_count=c.min_count,
                                       max_size=c.max_vocab_size, specials=SPECIALS, key=f"lmkit-w2v-tally-{run}")
        if len(vocab) <= 1:
            raise CorpusError(f"no word occurs at least min_count={c.min_count} times")
        model.vocab = vocab
        model._init_weights()
    vocab_f = client.submit(_given, model.vocab, pure=False)
    shards = [client.submit(_encode_shard, spans[r::K_rep], tokenizer, strict, vocab_f, sync // K_rep,
                            key=f"lmkit-w2v-shard-{run}-{r}") for r in range(K_rep)]
    sizes = client.gather([client.submit(_chunk_words, s) for s in shards])
    n_tokens = sum(map(sum, sizes))
    if n_tokens == 0:
        raise CorpusError("the corpus holds no tokens")
    tables_f = client.submit(_given, tuple(model._train_tables()), pure=False)
    settings = (c.window, c.negative, c.hs, not c.sg, c.max_sentence, SYNC_WORDS)
    n_epochs = epochs or c.epochs
    total = n_tokens * n_epochs
    a, b = c.start_alpha, c.min_alpha
    rounds = max(map(len, sizes))
    before = [np.concatenate([[0], np.cumsum(s)]).astype(np.int64) for s in sizes]   # words before chunk j
    weights = (model.syn0, model.syn1, model.syn1neg)
    bar = progress(total=total, desc="word2vec (cluster)", unit="word", quiet=quiet)
    try:
        for e in range(n_epochs):
            t0 = time.perf_counter()
            loss, n_pred, n_words = 0.0, 0, 0
            seed_epoch = model.epochs_done
            done = n_tokens * e
            for j in range(rounds):
                lo_words = done + sum(int(bw[min(j, len(bw) - 1)]) for bw in before)
                hi_words = done + sum(int(bw[min(j + 1, len(bw) - 1)]) for bw in before)
                a0 = max(a - (a - b) * (lo_words / total), b)
                a1 = max(a - (a - b) * (hi_words / total), b)
                w_f = client.submit(_given, weights, pure=False)
                futs = [client.submit(_train_chunk, shards[r], j, w_f, tables_f, settings, a0, a1,
                                      _job_seed(c.seed, seed_epoch, j * K_rep + r))
                        for r in range(K_rep) if j < len(sizes[r])]
                results = client.gather(futs)
                combine(weights, [u for u, _ in results])
                for _, (l_sum, n_p, n_w) in results:
                    loss, n_pred, n_words = loss + l_sum, n_pred + n_p, n_words + n_w
                bar.update(hi_words - lo_words)
                w_f.release()
            dt = time.perf_counter() - t0
            model.epochs_done += 1
            model.words_done += n_words
            model.history.append(EpochStats(model.epochs_done, loss / max(n_pred, 1), n_words, dt,
                                            n_words / dt if dt > 0 else float("inf"), float(max(a1, b))))
            log.info("epoch %d: loss %.4f, %.0f words/s on %d replicas", model.epochs_done,
                     model.history[-1].loss, model.history[-1].words_per_second, K_rep)
    finally:
        bar.close()
    model._wv = None
    return model
