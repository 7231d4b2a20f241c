"""How the client folds K replicas' changed rows into the shared model after a round.

Each replica's change is, per weight matrix (syn0, syn1, syn1neg), the rows it changed, their
new values and how often its chunk used each row (the word's occurrences; 1 for a row only
sampled or a Huffman node). A worker folds its replicas' changes into one :class:`Folded` per
matrix (:class:`RowFolder`), so the client receives one update per worker, not per replica;
every combiner takes those (a list over workers of a tuple over matrices) and changes
``weights`` (the model's matrices) in place.

* ``average``: each changed row becomes the weighted mean of the replicas' rows (Spark MLlib's
  partition averaging, row-wise). A row that every replica moves advances only as far as one
  replica moved it, so quality falls as replicas grow.
* ``sum``: every replica's change added (what a parameter server receiving each replica's
  pushed deltas does: Downpour with one round of staleness). Right while the changes are small,
  but a row each replica has already driven to its local optimum (a frequent word's output row)
  moves K times too far: at K >= 3 it diverges.
* ``scaled`` (the default): ``sum`` with each row's sum scaled by how far the same touches
  would have moved it one after the other (:func:`sequential_gain`): 1 for a row the replicas
  touch a few times each (their changes add up, as in sequential SGD), down to 1/n for a row
  each of n replicas touches so often that it reaches its optimum on its own. The expected
  touches come from the word counts (:func:`touch_rates`), the per-touch contraction from the
  learning rate (:data:`RHO_PER_ALPHA`).

Tried and dropped (en6, 4 replicas, 100k words a round, one seed; README "word2vec on Dask"):
per-row block momentum (BMUF, mean change with momentum 1 - 1/n) 7.86 % analogy; averaging the
100 most frequent words' rows and adding the rest 13.35 % (300: 12.87 %, 1000: 9.67 %, 30:
diverged), which ``scaled`` matches without a cut-off to tune.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

METHODS = ("scaled", "average", "sum")


class Folded(NamedTuple):
    """One worker's replicas' changes to one weight matrix in a round."""
    rows: np.ndarray     #: int64 (n,): the rows any of them changed, ascending
    hits: np.ndarray     #: int64 (n,): how many of them changed each
    weight: np.ndarray   #: float64 (n,): the use weights added up
    total: np.ndarray    #: float32 (n, dim): the changes added up (weighted: times their weight);
    #: where ``hits == 1``, the one replica's new value itself (kept exact)


class RowFolder:
    """Adds replicas' changed rows (``rows``, new ``values``, use weights ``w``) against the
    model ``base`` they all started from, on the worker, so that one :class:`Folded` per
    matrix goes back to the client whatever the number of replicas. ``weighted``: add each
    change times its weight (for ``average``)."""

    def __init__(self, base: np.ndarray, weighted: bool) -> None:
        self.base, self.weighted = base, weighted
        self.total = np.zeros(base.shape, np.float32)
        self.hits = np.zeros(len(base), np.int64)
        self.weight = np.zeros(len(base), np.float64)
        self.last = np.empty_like(base)

    def add(self, rows: np.ndarray, values: np.ndarray, w: np.ndarray) -> None:
        change = values - self.base[rows]
        self.total[rows] += w[:, None].astype(np.float32) * change if self.weighted else change
        self.hits[rows] += 1
        self.weight[rows] += w
        self.last[rows] = values

    def folded(self) -> Folded:
        rows = np.flatnonzero(self.hits)
        total = self.total[rows]
        lone = self.hits[rows] == 1
        total[lone] = self.last[rows[lone]]
        return Folded(rows, self.hits[rows], self.weight[rows], total)


def fold(base: np.ndarray, changes: list, weighted: bool) -> Folded:
    """:class:`RowFolder` over a list of (rows, values, weights)."""
    folder = RowFolder(base, weighted)
    for rows, values, w in changes:
        folder.add(rows, values, w)
    return folder.folded()


def _gathered(old: np.ndarray, parts: list[Folded], weighted: bool):
    """The workers' folds of one matrix merged: the rows (ascending), replicas per row, their
    weights, the changes added up (float64, (n, dim); weighted: times their weights) and the
    new value of each row exactly one replica changed (NaN elsewhere)."""
    uniq, inverse = np.unique(np.concatenate([p.rows for p in parts]), return_inverse=True)
    n, dim = len(uniq), old.shape[1]
    hits, weight = np.zeros(n, np.int64), np.zeros(n, np.float64)
    change = np.zeros((n, dim), np.float64)
    lone_value = np.full((n, dim), np.nan, np.float32)
    base = old[uniq].astype(np.float64)
    at = 0
    for p in parts:
        idx = inverse[at:at + len(p.rows)]
        at += len(p.rows)
        hits[idx] += p.hits
        weight[idx] += p.weight
        total = p.total.astype(np.float64)
        lone = p.hits == 1   # the value, not a change
        total[lone] = (total[lone] - base[idx[lone]]) * (p.weight[lone, None] if weighted else 1.0)
        change[idx] += total
        lone_value[idx[lone]] = p.total[lone]
    return uniq, hits, weight, change, lone_value


def _combine(weights: tuple, updates: list, step, weighted: bool) -> None:
    """Each matrix's changed rows moved by ``step(m, rows, hits, weight, change)``; rows one
    replica changed take its value exactly."""
    for m, old in enumerate(weights):
        parts = [u[m] for u in updates if len(u[m].rows)]
        if not parts:
            continue
        uniq, hits, weight, change, lone_value = _gathered(old, parts, weighted)
        new = (old[uniq].astype(np.float64) + step(m, uniq, hits, weight, change)).astype(np.float32)
        single = hits == 1
        new[single] = lone_value[single]
        old[uniq] = new


def apply_average(weights: tuple, updates: list, state: dict | None = None) -> None:
    """Each changed row becomes the weighted mean of the replicas' rows (``updates``: per
    worker, one :class:`Folded` per matrix, folded with ``weighted=True``)."""
    _combine(weights, updates, lambda m, rows, hits, weight, change: change / weight[:, None], True)


def apply_sum(weights: tuple, updates: list, state: dict | None = None) -> None:
    """Every replica's change (against the model before the round) added to the model."""
    _combine(weights, updates, lambda m, rows, hits, weight, change: change, False)


def apply_scaled(weights: tuple, updates: list, state: dict) -> None:
    """``sum`` with each row's sum scaled so that the n replicas that changed it move it as
    far as their touches would one after the other (see :func:`sequential_gain`):
    ``state["touches"][m]``: expected touches per replica and round of each row of matrix m
    (float64), ``state["rho"]``: the contraction of one touch (:data:`RHO_PER_ALPHA` x the round's
    learning rate)."""
    def step(m, rows, hits, weight, change):
        return change * sequential_gain(state["touches"][m][rows], hits, state["rho"])[:, None]
    _combine(weights, updates, step, False)


def sequential_gain(touches: np.ndarray, replicas: np.ndarray, rho: float) -> np.ndarray:
    """How far n replicas' summed changes to a row should be scaled: a row that contracts
    towards its optimum by ``rho`` per touch covers ``1 - (1 - rho)^T`` of the distance in one
    replica's T touches, so n replicas' sum covers n times that, where the same n T touches in
    sequence cover ``1 - (1 - rho)^(n T)``. The ratio: 1 for few touches (the changes add up),
    1/n for many (each replica reached the optimum on its own)."""
    one = -np.expm1(np.log1p(-rho) * np.maximum(touches, 1e-12))
    together = -np.expm1(np.log1p(-rho) * np.maximum(touches, 1e-12) * replicas)
    return np.where(replicas > 1, together / (replicas * one), 1.0)


#: a touch's contraction per unit of learning rate (rho = RHO_PER_ALPHA x alpha), measured on
#: en6 (skip-gram NS 5, dim 100, 100k words a round, analogy %, one replica 13.28): with 4
#: replicas 0.2 -> 13.18, 0.4 -> 13.14; with 10 replicas 0.1 diverged, 0.2 -> 9.22,
#: 0.4 -> 12.87, 0.8 -> 12.20 (benchmarks/w2v_replicas_sim.py, one seed each)
RHO_PER_ALPHA = 0.4


def touch_rates(counts: np.ndarray, keep: np.ndarray, points: np.ndarray, code_lens: np.ndarray,
                n_nodes: int, *, window: int, negative: int, cbow: bool, n_words: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected updates of each row of (syn0, syn1, syn1neg) per corpus word (float64 arrays).

    A word is kept with probability ``keep[w]``; it predicts (skip-gram: is predicted from)
    about ``window + 1`` context words (the window shrinks at random: (window + 1) / 2 a
    side on average); its input row is updated once per use as context. Each prediction
    updates the target's output row and ``negative`` sampled rows (unigram^ns_exponent), or
    the Huffman nodes on the target's path. Only the target's update counts for syn1neg: a
    sampled negative's update is small (most are easy, sigmoid(f) near 0), and counting them
    damps the output rows too much (measured on en6, 4 replicas: analogy 12.36 % against 13.18 %
    without them, 13.28 % on one replica). ``counts[0]`` (<unk>) is never trained.
    """
    counts = counts.astype(np.float64).copy()
    counts[0] = 0
    kept = counts * keep / max(n_words, 1)           # kept occurrences per corpus word
    uses = window + 1.0
    preds = kept * (1.0 if cbow else uses)          # predictions per corpus word, by target
    syn0 = kept * uses
    syn1neg = preds if negative > 0 else np.zeros(0)
    syn1 = np.zeros(n_nodes, np.float64)
    for depth in range(int(code_lens.max(initial=0)) if n_nodes else 0):
        on_path = code_lens > depth
        np.add.at(syn1, points[on_path, depth], preds[on_path])
    return syn0, syn1, syn1neg


COMBINERS = {"average": apply_average, "sum": apply_sum, "scaled": apply_scaled}
