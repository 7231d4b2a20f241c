"""Asynchronous word2vec replicas around a parameter server (Downpour SGD, Dean et al. 2012).

The parameter server is a Dask actor holding the shared model and, per row, the clock of the
last exchange that changed it. Each replica runs as one long task on its own worker: it copies
the model once, then trains its shard a chunk (``sync_words / K`` words) at a time on its own
copy and exchanges with the server: it pushes every row it moved (its new values and the values
it started from) and gets back, in the same actor call, every row any replica changed since its
previous exchange, so that afterwards its copy equals the server's model. How a push is folded
in with the others' changes made meanwhile: :class:`ParameterServer`.
Replicas never wait for each other; a replica's model misses at most the changes the others
pushed while it trained its last chunk (about ``sync_words`` words: the staleness). The learning
rate follows the words all replicas have pushed. The exchanges' order depends on timing, so
runs are not bit-for-bit repeatable; the server's state lives in one worker, so a lost worker
ends the run with an error (the synchronous methods survive it).
"""
from __future__ import annotations

import time

import numpy as np

from ..cluster import on_worker
from . import _kernels as K
from .combine import RHO_PER_ALPHA
from .distributed import _alpha, _changed_rows, _pinned, _schedule, _touch_rates


class ParameterServer:
    """The shared model (Dask actor): ``weights`` (syn0, syn1, syn1neg) float32; per row the
    clock of the last exchange that changed it; the words pushed, bytes received and sent.

    A push is the replica's new rows ``v`` and the rows it started its chunk from (``b``, what it
    last saw of the server). Meanwhile the server's rows became ``s`` (the other replicas'
    pushes). The push sets each row to ``v + q (s - b)`` with ``q = (1 - rho)^T`` (T: the row's
    expected touches in the pushing replica's chunk; rho from the learning rate, as for
    :func:`lmkit.embed.combine.sequential_gain`): a row that contracts towards its optimum by
    rho per touch, touched T times after the others' changes, keeps q of those changes on top of
    the replica's own. A row nobody else changed takes the replica's value exactly; a row the
    replica touched a few times gets the others' changes nearly whole (changes add up, as in
    classic Downpour); one it drove to its optimum keeps its own value. n pushes from one base
    add up to the ``scaled`` combination of the same changes (tested). ``rates``: expected
    touches per corpus word of each row (:func:`lmkit.embed.combine.touch_rates`).
    """

    def __init__(self, weights: tuple, rates: tuple) -> None:
        self.weights = tuple(np.array(w, dtype=np.float32) for w in weights)
        self.changed_at = [np.zeros(len(w), np.int64) for w in self.weights]
        self.rates = rates
        self.clock = 0
        self.words = 0
        self.bytes_in = 0
        self.bytes_out = 0

    def snapshot(self) -> tuple[int, int, tuple]:
        """(clock, words pushed, a copy of the model)."""
        return self.clock, self.words, tuple(w.copy() for w in self.weights)

    def exchange(self, pushes: list, words: int, since: int, alpha: float) -> tuple[int, int, list]:
        """Fold in a replica's ``pushes`` (per matrix: distinct rows int64 (n,), their new values
        and the values it started from, float32 (n, dim)) made over ``words`` words at learning
        rate ``alpha``; return (clock, words pushed, per matrix the rows changed after clock
        ``since`` and their values)."""
        self.clock += 1
        log_keep = np.log1p(-RHO_PER_ALPHA * alpha)
        for m, (rows, values, base) in enumerate(pushes):
            if not len(rows):
                continue
            keep = np.exp(log_keep * self.rates[m][rows] * words).astype(np.float32)
            others = self.weights[m][rows] - base
            self.weights[m][rows] = values + keep[:, None] * others
            self.changed_at[m][rows] = self.clock
            self.bytes_in += rows.nbytes + values.nbytes + base.nbytes
        self.words += int(words)
        fresh = []
        for m, w in enumerate(self.weights):
            idx = np.flatnonzero(self.changed_at[m] > since)
            fresh.append((idx, w[idx]))
            self.bytes_out += idx.nbytes + w.itemsize * idx.size * w.shape[1]
        return self.clock, self.words, fresh

    def progress(self) -> tuple[int, int, int, int]:
        """(exchanges, words pushed, bytes received, bytes sent)."""
        return self.clock, self.words, self.bytes_in, self.bytes_out


@on_worker
def _replica(shard, server, tables, settings, schedule: tuple[float, float, int], replicas: int,
             seeds: list[list[int]]) -> list[tuple[float, int, int, float, float]]:
    """One replica's whole run: per epoch (``seeds[e][j]`` seeds chunk j) its (loss sum,
    predictions, words, seconds, last learning rate). A chunk's learning rate falls from the
    rate at the words pushed so far to the rate ``replicas`` such chunks later (the others are
    assumed to progress at this replica's pace)."""
    from .word2vec import NO_HOT_ROWS
    clock, words, mine = server.snapshot().result()
    seen = tuple(w.copy() for w in mine)
    out = []
    for chunk_seeds in seeds:
        t0 = time.perf_counter()
        loss, n_pred, n_words, a1 = 0.0, 0, 0, _alpha(schedule, words)
        for j, (lo, hi, _) in enumerate(shard.chunks):
            chunk_words = int(shard.offsets[hi] - shard.offsets[lo])
            a0, a1 = _alpha(schedule, words), _alpha(schedule, words + replicas * chunk_words)
            l_sum, n_p, n_w = K.train_job((shard.ids, shard.offsets), mine, tables, settings,
                                          (lo, hi, 1, a0, a1, chunk_seeds[j]), NO_HOT_ROWS)
            loss, n_pred, n_words = loss + l_sum, n_pred + n_p, n_words + n_w
            pushes = [(rows, values, old[rows]) for (rows, values, _), old in zip(_changed_rows(shard, j, seen, mine),
                                                                                    seen)]
            clock, words, fresh = server.exchange(pushes, chunk_words, clock, a0).result()
            for (idx, values), w, s in zip(fresh, mine, seen):
                w[idx] = values
                s[idx] = values
        out.append((loss, n_pred, n_words, time.perf_counter() - t0, a1))
    return out


def train_downpour(model, client, plan, bar) -> list[tuple[float, int, int, float, float]]:
    """Run the replicas of ``plan`` (see :mod:`lmkit.embed.distributed`) against a
    parameter-server actor, copy its final model into ``model``; per epoch (loss sum,
    predictions, words, seconds of the slowest replica, last learning rate)."""
    from .word2vec import _job_seed
    c = model.config
    weights = (model.syn0, model.syn1, model.syn1neg)
    server = client.submit(ParameterServer, weights, _touch_rates(model, plan), actor=True).result()
    schedule = _schedule(model, plan)
    K_rep = plan.replicas
    futs = []
    for r in range(K_rep):
        seeds = [[_job_seed(c.seed, model.epochs_done + e, j * K_rep + r) for j in range(len(plan.sizes[r]))]
                 for e in range(plan.n_epochs)]
        futs.append(client.submit(_replica, plan.shards[r], server, plan.tables, plan.settings, schedule, K_rep,
                                  seeds, pure=False, **_pinned(plan.homes[r])))
    shown = 0
    try:
        while not all(f.done() for f in futs):
            time.sleep(0.25)
            words = server.progress().result()[1]
            bar.update(words - shown)
            shown = words
        per_replica = client.gather(futs)
        clock, words, final = server.snapshot().result()
        exchanges, _, bytes_in, bytes_out = server.progress().result()
    finally:
        client.cancel(futs)
    bar.update(words - shown)
    for w, f in zip(weights, final):
        w[...] = f
    model.sync_traffic = {"exchanges": exchanges, "bytes_pushed": bytes_in, "bytes_pulled": bytes_out}
    epochs = []
    for e in range(plan.n_epochs):
        rows = [rep[e] for rep in per_replica]
        epochs.append((sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows),
                       max(r[3] for r in rows), min(r[4] for r in rows)))
    return epochs
