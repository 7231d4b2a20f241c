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
* ``momentum``: block momentum (BMUF, Chen & Huo, ICASSP 2016) applied per row: the mean
  change ``G`` of the replicas that touched the row feeds the row's momentum
  ``M = eta * M + G`` with ``eta = 1 - 1/n`` for a row n replicas touched, and the row moves by
  ``M``. A row one replica touched takes that replica's value; a row all K keep pushing the same
  way moves by their sum in the steady state (``G / (1 - eta) = K G``); a row each replica drives
  to the same optimum converges to it (heavy ball with step 1, stable for ``eta < 1``) instead
  of overshooting K-fold.
"""
from __future__ import annotations

import numpy as np

METHODS = ("average", "sum", "momentum")


def _merged(old: np.ndarray, parts: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """The rows any replica changed (sorted), the weighted mean change of each (float64,
    (n, dim)), how many replicas changed it, and per part the positions of its rows in the
    merged list."""
    rows = np.concatenate([p[0] for p in parts])
    uniq, inverse = np.unique(rows, return_inverse=True)
    num = np.zeros((len(uniq), old.shape[1]), np.float64)
    den = np.zeros(len(uniq), np.float64)
    base = old[uniq].astype(np.float64)
    where, at = [], 0
    for r, values, w in parts:
        idx = inverse[at:at + len(r)]
        at += len(r)
        num[idx] += w[:, None] * (values.astype(np.float64) - base[idx])
        den[idx] += w
        where.append(idx)
    return uniq, num / den[:, None], np.bincount(inverse, minlength=len(uniq)), where


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
        uniq, mean_change, hits, where = _merged(old, parts)
        new = (old[uniq].astype(np.float64) + mean_change).astype(np.float32)
        _lone_rows_exact(new, parts, where, hits)
        old[uniq] = new


def apply_sum(weights: tuple, updates: list, state: dict | None = None) -> None:
    """Every replica's change (against the model before the round) added to the model."""
    for m, old in enumerate(weights):
        deltas = [(rows, values - old[rows]) for rows, values, _ in (u[m] for u in updates) if len(rows)]
        for rows, delta in deltas:
            old[rows] += delta


def apply_momentum(weights: tuple, updates: list, state: dict) -> None:
    """Per-row block momentum (see the module's docstring); ``state`` keeps each matrix's
    momentum (float32, the matrix's shape) from round to round."""
    for m, old in enumerate(weights):
        parts = [u[m] for u in updates if len(u[m][0])]
        if not parts:
            continue
        mom = state.setdefault(m, np.zeros_like(old))
        uniq, mean_change, hits, where = _merged(old, parts)
        eta = 1.0 - 1.0 / hits
        step = eta[:, None] * mom[uniq].astype(np.float64) + mean_change
        new = (old[uniq].astype(np.float64) + step).astype(np.float32)
        _lone_rows_exact(new, parts, where, hits)
        mom[uniq] = (new.astype(np.float64) - old[uniq]).astype(np.float32)
        old[uniq] = new


COMBINERS = {"average": apply_average, "sum": apply_sum, "momentum": apply_momentum}
