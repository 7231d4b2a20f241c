"""The small tables word2vec trains with: Huffman codes for hierarchical softmax, an alias
table for negative sampling, and sub-sampling keep probabilities."""
from __future__ import annotations

import heapq

import numpy as np


def huffman_codes(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Huffman tree over word counts, as the word2vec C tool builds it.

    Returns (codes uint8 [V, L], points int32 [V, L], lengths int32 [V]): for word w, the
    path from the root is ``points[w, :lengths[w]]`` (inner-node ids 0..V-2, root = V-2)
    and ``codes[w, d]`` is the branch (0 or 1) taken below ``points[w, d]``. Ties are
    broken by word id, so the tree is deterministic.
    """
    counts = np.asarray(counts, dtype=np.int64)
    V = len(counts)
    if V < 2:
        return np.zeros((V, 1), np.uint8), np.zeros((V, 1), np.int32), np.zeros(V, np.int32)
    heap = [(int(c), i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent = np.zeros(2 * V - 1, dtype=np.int64)
    branch = np.zeros(2 * V - 1, dtype=np.uint8)
    next_id = V
    while len(heap) > 1:
        c1, n1 = heapq.heappop(heap)
        c2, n2 = heapq.heappop(heap)
        parent[n1], branch[n1] = next_id, 0
        parent[n2], branch[n2] = next_id, 1
        heapq.heappush(heap, (c1 + c2, next_id))
        next_id += 1
    from ._kernels import huffman_paths
    codes, points, lengths = huffman_paths(parent, branch, V)
    return codes, points, lengths


def alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (vocabulary-sized): draw k uniformly, keep it with probability
    prob[k], else take alias[k]. Exact for the given weights, O(1) per draw."""
    w = np.asarray(weights, dtype=np.float64)
    V = len(w)
    p = w * V / w.sum()
    from ._kernels import alias_build
    prob, alias = alias_build(p)
    return prob.astype(np.float32), alias


def negative_sampling_table(counts: np.ndarray, power: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """Alias table of the unigram^power distribution (power 0.75 as word2vec)."""
    return alias_table(np.asarray(counts, dtype=np.float64) ** power)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """The C tool's sub-sampling: word w is kept with probability
    (sqrt(c_w / (sample * T)) + 1) * (sample * T) / c_w (capped at 1); ``sample=0`` keeps all."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones(len(counts), dtype=np.float32)
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    keep[~np.isfinite(keep)] = 1.0
    return np.minimum(keep, 1.0).astype(np.float32)
