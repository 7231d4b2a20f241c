"""How the client folds K replicas' changed rows into the shared model after a round.

An update is, per weight matrix (syn0, syn1, syn1neg), a triple ``(rows int64 (n,), values
float32 (n, dim), weights int64 (n,))``: the rows a replica changed, their new values and how
often its chunk used each row (the word's occurrences; 1 for a row only sampled or a Huffman
node). Every combiner changes ``weights`` (the model's matrices) in place.

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

Tried and dropped (en6, 4 replicas, 100k words a round, one seed): per-row block momentum
(BMUF, mean change with momentum 1 - 1/n) 7.86 % analogy; averaging the 100 most frequent
words' rows and adding the rest 13.35 % (300: 12.87 %, 1000: 9.67 %, 30: diverged), which is
what ``scaled`` does without a cut-off to tune.
"""
from __future__ import annotations

import numpy as np

METHODS = ("scaled", "average", "sum")


def _merged(old: np.ndarray, parts: list, total: bool = False
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list, np.ndarray | None]:
    """The rows any replica changed (sorted), the weighted mean change of each (float64,
    (n, dim)), how many replicas changed it, per part the positions of its rows in the merged
    list, and (``total``) the sum of the changes (float64, (n, dim))."""
    rows = np.concatenate([p[0] for p in parts])
    uniq, inverse = np.unique(rows, return_inverse=True)
    num = np.zeros((len(uniq), old.shape[1]), np.float64)
    den = np.zeros(len(uniq), np.float64)
    added = np.zeros_like(num) if total else None
    base = old[uniq].astype(np.float64)
    where, at = [], 0
    for r, values, w in parts:
        idx = inverse[at:at + len(r)]
        at += len(r)
        change = values.astype(np.float64) - base[idx]
        num[idx] += w[:, None] * change
        den[idx] += w
        if added is not None:
            added[idx] += change
        where.append(idx)
    return uniq, num / den[:, None], np.bincount(inverse, minlength=len(uniq)), where, added


def _lone_rows_exact(target: np.ndarray, parts: list, where: list, hits: np.ndarray) -> None:
    """Rows exactly one replica changed take its value (no rounding through a mean)."""
    single = hits == 1
    for (_, values, _), idx in zip(parts, where):
        lone = single[idx]
        target[idx[lone]] = values[lone]


def apply_average(weights: tuple, updates: list, state: dict | None = None) -> None:
    """Each matrix's changed rows become the weighted mean of the replicas' new rows."""
    for m, old in enumerate(weights):
        parts = [u[m] for u in updates if len(u[m][0])]
        if not parts:
            continue
        uniq, mean_change, hits, where, _ = _merged(old, parts)
        new = (old[uniq].astype(np.float64) + mean_change).astype(np.float32)
        _lone_rows_exact(new, parts, where, hits)
        old[uniq] = new


def apply_sum(weights: tuple, updates: list, state: dict | None = None) -> None:
    """Every replica's change (against the model before the round) added to the model."""
    for m, old in enumerate(weights):
        deltas = [(rows, values - old[rows]) for rows, values, _ in (u[m] for u in updates) if len(rows)]
        for rows, delta in deltas:
            old[rows] += delta


def apply_scaled(weights: tuple, updates: list, state: dict) -> None:
    """``sum`` with each row's sum scaled so that the n replicas that changed it move it as
    far as their touches would one after the other (see :func:`sequential_gain`):
    ``state["touches"][m]``: expected touches per replica and round of each row of matrix m
    (float64), ``state["rho"]``: the contraction of one touch (about 0.2 x the round's learning
    rate)."""
    for m, old in enumerate(weights):
        parts = [u[m] for u in updates if len(u[m][0])]
        if not parts:
            continue
        uniq, _, hits, where, added = _merged(old, parts, total=True)
        scale = sequential_gain(state["touches"][m][uniq], hits, state["rho"])
        new = (old[uniq].astype(np.float64) + added * scale[:, None]).astype(np.float32)
        _lone_rows_exact(new, parts, where, hits)
        old[uniq] = new


def sequential_gain(touches: np.ndarray, replicas: np.ndarray, rho: float) -> np.ndarray:
    """How far n replicas' summed changes to a row should be scaled: a row that contracts
    towards its optimum by ``rho`` per touch covers ``1 - (1 - rho)^T`` of the distance in one
    replica's T touches, so n replicas' sum covers n times that, where the same n T touches in
    sequence cover ``1 - (1 - rho)^(n T)``. The ratio: 1 for few touches (the changes add up),
    1/n for many (each replica reached the optimum on its own)."""
    one = -np.expm1(np.log1p(-rho) * np.maximum(touches, 1e-12))
    together = -np.expm1(np.log1p(-rho) * np.maximum(touches, 1e-12) * replicas)
    return np.where(replicas > 1, together / (replicas * one), 1.0)


#: a touch's contraction per unit of learning rate (rho = RHO_PER_ALPHA x alpha): measured on
#: en6 (skip-gram NS 5, dim 100, 4 replicas, 100k words a round), see the README
RHO_PER_ALPHA = 0.2


def touch_rates(counts: np.ndarray, keep: np.ndarray, points: np.ndarray, code_lens: np.ndarray,
                n_nodes: int, *, window: int, negative: int, cbow: bool, n_words: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
