"""word2vec on a Dask cluster: K model replicas, each on its own shard of the corpus.

Each replica holds one shard (input ranges read and encoded on the worker it is pinned to) and
trains the single-machine numba kernel on it a chunk at a time. Two ways to keep the replicas
together:

* synchronous rounds (``scaled``, ``average``, ``sum``): every replica trains its next chunk
  from the same model, the client folds the rows they changed into it
  (:mod:`lmkit.embed.combine`) and the next round starts from the result, about ``sync_words``
  corpus words later. K may exceed the workers (logical replicas: a worker's replicas train one
  after the other in one task). The learning rate of a round follows the words processed over
  every replica before and after it. With one replica and ``sync_words`` equal to
  ``batch_words`` this is the single-process trainer with one thread, bit for bit (tested).
* asynchronous ``downpour`` (:mod:`lmkit.embed.downpour`): replicas push their changes to a
  parameter-server Dask actor and pull the rows others changed, each at its own pace.
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
from .combine import COMBINERS, METHODS, RHO_PER_ALPHA, RowFolder, touch_rates

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


def _changed_rows(shard: _Shard, j: int, base: tuple, mine: tuple) -> list:
    """Per matrix, the rows chunk ``j`` changed (``base`` -> ``mine``), their new values and
    weights (syn0 and syn1neg rows are words: the word's occurrences in the chunk, at least 1
    for a row only sampled; syn1 rows are Huffman nodes: weight 1)."""
    lo, hi, _ = shard.chunks[j]
    used = np.bincount(shard.ids[shard.offsets[lo]:shard.offsets[hi]], minlength=len(base[0]))
    out = []
    for m, (old, new) in enumerate(zip(base, mine)):
        rows = K.changed_rows(old, new) if len(old) else np.zeros(0, np.int64)
        w = np.ones(len(rows), np.int64) if m == 1 else np.maximum(used[rows], 1)
        out.append((rows, new[rows], w))
    return out


@on_worker
def _train_replicas(shards: list, j: int, weights, tables, settings, a0: float, a1: float, seeds: list[int],
                    weighted: bool):
    """Chunk ``j`` of each replica's shard trained from ``weights`` (not changed: they are
    shared), one replica after the other on one working copy whose changed rows are put back
    after each: the replicas' changes folded per matrix (:class:`~lmkit.embed.combine.RowFolder`)
    and per replica (loss, predictions, words)."""
    from .word2vec import NO_HOT_ROWS
    mine = tuple(w.copy() for w in weights)
    folders = [RowFolder(w, weighted) for w in weights]
    stats = []
    for shard, seed in zip(shards, seeds):
        lo, hi, _ = shard.chunks[j]
        stats.append(K.train_job((shard.ids, shard.offsets), mine, tables, settings, (lo, hi, 1, a0, a1, seed),
                                 NO_HOT_ROWS))
        for folder, (rows, values, w), work, old in zip(folders, _changed_rows(shard, j, weights, mine), mine,
                                                         weights):
            folder.add(rows, values, w)
            work[rows] = old[rows]
    return tuple(f.folded() for f in folders), stats


@dataclass
class _Plan:
    """What both ways of training share: the replicas' shard futures and the worker each is
    pinned to, words per chunk of each shard, the kernel's tables and settings."""
    shards: list
    homes: list[str]
    sizes: list[list[int]]
    tables: object
    settings: tuple
    n_tokens: int
    n_epochs: int

    @property
    def replicas(self) -> int:
        return len(self.shards)


def _alpha(schedule: tuple[float, float, int], words: float) -> float:
    """The learning rate after ``words`` words of a (start, floor, total words) schedule:
    linear decay, floored."""
    a, b, total = schedule
    return float(max(a - (a - b) * (words / max(total, 1)), b))


def _schedule(model, plan: _Plan) -> tuple[float, float, int]:
    return model.config.start_alpha, model.config.min_alpha, plan.n_tokens * plan.n_epochs


def _plan(model, client, sources, replicas: int, sync: int, partitions: int | None, epochs: int | None,
          tokenizer: Tokenizer, strict: bool, run: str) -> _Plan:
    """Vocabulary (built on the cluster if the model has none) and the replicas' shards, each
    encoded on the worker it stays on."""
    from .word2vec import SPECIALS, SYNC_WORDS
    c = model.config
    spans = split_inputs(sources, partitions or 2 * replicas, max_bytes=32 << 20)
    if model.vocab is None:
        vocab, _, _ = tally_vocabulary(client, spans, tokenizer, strict, min_count=c.min_count,
                                       max_size=c.max_vocab_size, specials=SPECIALS, key=f"lmkit-w2v-tally-{run}")
        if len(vocab) <= 1:
            raise CorpusError(f"no word occurs at least min_count={c.min_count} times")
        model.vocab = vocab
        model._init_weights()
    addresses = sorted(client.scheduler_info().get("workers", {})) or [None]
    homes = [addresses[r % len(addresses)] for r in range(replicas)]
    vocab_f = client.submit(_given, model.vocab, pure=False)
    shards = [client.submit(_encode_shard, spans[r::replicas], tokenizer, strict, vocab_f, max(1, sync // replicas),
                            key=f"lmkit-w2v-shard-{run}-{r}", **_pinned(homes[r])) for r in range(replicas)]
    sizes = client.gather([client.submit(_chunk_words, s) for s in shards])
    n_tokens = sum(map(sum, sizes))
    if n_tokens == 0:
        raise CorpusError("the corpus holds no tokens")
    tables_f = client.submit(_given, tuple(model._train_tables()), pure=False)
    settings = (c.window, c.negative, c.hs, not c.sg, c.max_sentence, SYNC_WORDS)
    return _Plan(shards, homes, sizes, tables_f, settings, n_tokens, epochs or c.epochs)


def _pinned(address: str | None) -> dict:
    """submit() options keeping a task on ``address`` while that worker lives."""
    return {"workers": [address], "allow_other_workers": True} if address else {}


def _record_epoch(model, loss: float, n_pred: int, n_words: int, seconds: float, alpha: float, replicas: int) -> None:
    from .word2vec import EpochStats
    model.epochs_done += 1
    model.words_done += n_words
    model.history.append(EpochStats(model.epochs_done, loss / max(n_pred, 1), n_words, seconds,
                                    n_words / seconds if seconds > 0 else float("inf"), alpha))
    log.info("epoch %d: loss %.4f, %.0f words/s on %d replicas", model.epochs_done,
             model.history[-1].loss, model.history[-1].words_per_second, replicas)


def _touch_rates(model, plan: _Plan) -> tuple:
    """Expected touches of each row of (syn0, syn1, syn1neg) per corpus word."""
    c = model.config
    keep, points, _, code_lens = model._train_tables()[:4]
    return touch_rates(model.vocab.counts, keep, points, code_lens, len(model.syn1), window=c.window,
                       negative=c.negative, cbow=not c.sg, n_words=plan.n_tokens)


def _scaling_state(model, plan: _Plan, sync: int) -> dict:
    """What ``scaled`` needs: each row's expected touches per replica and round."""
    return {"touches": tuple(r * (sync / plan.replicas) for r in _touch_rates(model, plan))}


def _train_rounds(model, client, plan: _Plan, method: str, sync: int, bar) -> None:
    """Synchronous rounds: every replica trains its chunk j from the same model, the client
    folds the changes in with ``method`` (see :mod:`lmkit.embed.combine`). The replicas pinned
    to one worker train in one task, so each worker receives the model once a round."""
    from .word2vec import _job_seed
    combine = COMBINERS[method]
    state = _scaling_state(model, plan, sync) if method == "scaled" else {}
    K_rep, schedule = plan.replicas, _schedule(model, plan)
    before = [np.concatenate([[0], np.cumsum(s)]).astype(np.int64) for s in plan.sizes]   # words before chunk j
    weights = (model.syn0, model.syn1, model.syn1neg)
    groups: dict = {}
    for r, home in enumerate(plan.homes):
        groups.setdefault(home, []).append(r)
    a1 = _alpha(schedule, 0)
    traffic = {"rounds": 0, "bytes_sent": 0, "bytes_received": 0, "combine_seconds": 0.0}
    model_bytes = sum(w.nbytes for w in weights)
    for e in range(plan.n_epochs):
        t0 = time.perf_counter()
        loss, n_pred, n_words = 0.0, 0, 0
        seed_epoch = model.epochs_done
        done = plan.n_tokens * e
        for j in range(max(map(len, plan.sizes))):
            lo_words = done + sum(int(bw[min(j, len(bw) - 1)]) for bw in before)
            hi_words = done + sum(int(bw[min(j + 1, len(bw) - 1)]) for bw in before)
            a0, a1 = _alpha(schedule, lo_words), _alpha(schedule, hi_words)
            w_f = client.submit(_given, weights, pure=False)
            futs = []
            for home, members in groups.items():
                reps = [r for r in members if j < len(plan.sizes[r])]
                if reps:
                    futs.append(client.submit(_train_replicas, [plan.shards[r] for r in reps], j, w_f, plan.tables,
                                              plan.settings, a0, a1,
                                              [_job_seed(model.config.seed, seed_epoch, j * K_rep + r) for r in reps],
                                              method == "average", pure=False, **_pinned(home)))
            results = client.gather(futs)
            t_combine = time.perf_counter()
            state["rho"] = RHO_PER_ALPHA * a0
            updates = [folded for folded, _ in results]
            combine(weights, updates, state)
            traffic["rounds"] += 1
            traffic["bytes_sent"] += model_bytes * len(futs)
            traffic["bytes_received"] += sum(a.nbytes for u in updates for part in u for a in part)
            traffic["combine_seconds"] += time.perf_counter() - t_combine
            for _, stats in results:
                for l_sum, n_p, n_w in stats:
                    loss, n_pred, n_words = loss + l_sum, n_pred + n_p, n_words + n_w
            bar.update(hi_words - lo_words)
            w_f.release()
        _record_epoch(model, loss, n_pred, n_words, time.perf_counter() - t0, a1, K_rep)
    model.sync_traffic = traffic


def train_on_cluster(model, client, sources: Corpus | str | os.PathLike | Sequence[str | os.PathLike], *,
                     replicas: int | None = None, sync_words: int | None = None, method: str = "scaled",
                     partitions: int | None = None,
                     epochs: int | None = None, tokenizer: Tokenizer | None = None, strict: bool = False,
                     quiet: bool | None = None):
    """Train ``model`` (a :class:`~lmkit.embed.Word2Vec`; its vocabulary is built on the
    cluster if it has none) on the cluster behind ``client``.

    ``replicas``: model replicas K (default: the workers; more than the workers are logical
    replicas, trained one after the other); ``sync_words``: corpus words over all replicas
    between synchronisations (default ``K x batch_words``); ``method``: ``scaled``, ``average``
    or ``sum`` (synchronous rounds, see :mod:`lmkit.embed.combine`) or ``downpour``
    (asynchronous: each replica exchanges its changes with a parameter-server actor every
    ``sync_words / K`` of its words, see :mod:`lmkit.embed.downpour`); ``partitions``: input
    ranges (default: 2 per replica).
    """
    known = METHODS + ("downpour",)
    if method not in known:
        raise ConfigError(f"method must be one of {', '.join(known)}, got {method!r}")
    c = model.config
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    K_rep = replicas or workers
    if K_rep < 1:
        raise ConfigError(f"replicas must be >= 1, got {K_rep}")
    sync = sync_words or K_rep * c.batch_words
    if sync < K_rep:
        raise ConfigError(f"sync_words ({sync}) must be at least the number of replicas ({K_rep})")
    if method == "downpour" and K_rep > workers:
        raise ConfigError(f"downpour runs its {K_rep} replicas at once: it needs as many workers, "
                          f"the cluster has {workers} (synchronous methods take logical replicas)")
    if isinstance(sources, Corpus):
        tokenizer, strict, sources = sources.tokenizer, sources.strict, sources.paths
    plan = _plan(model, client, sources, K_rep, sync, partitions, epochs, tokenizer or Tokenizer(), strict,
                 uuid.uuid4().hex[:8])
    bar = progress(total=plan.n_tokens * plan.n_epochs, desc="word2vec (cluster)", unit="word", quiet=quiet)
    try:
        if method == "downpour":
            from .downpour import train_downpour
            epochs_seen = train_downpour(model, client, plan, bar)
            for loss, n_pred, n_words, seconds, alpha in epochs_seen:
                _record_epoch(model, loss, n_pred, n_words, seconds, alpha, K_rep)
        else:
            _train_rounds(model, client, plan, method, sync, bar)
    finally:
        bar.close()
    model._wv = None
    return model
