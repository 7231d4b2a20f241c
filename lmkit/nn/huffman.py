"""Huffman trees over word counts: the paths hierarchical softmax output layers walk
(word2vec's and a neural language model's)."""
from __future__ import annotations

import heapq

import numpy as np

from ._kernels import huffman_paths


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
    codes, points, lengths = huffman_paths(parent, branch, V)
    return codes, points, lengths
