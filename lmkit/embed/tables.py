"""The small tables word2vec trains with: Huffman codes for hierarchical softmax, an alias
table for negative sampling, and sub-sampling keep probabilities."""
from __future__ import annotations

import numpy as np

from ..nn.huffman import huffman_codes  # noqa: F401 (re-exported: word2vec builds its tree with it)


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
