import numpy as np
import pytest

from lmkit.embed import (
    alias_table,
    huffman_codes,
    keep_probabilities,
    negative_sampling_table,
)


def test_huffman_codes_by_hand():
    # counts 5, 3, 2, 1: merge (1,2) -> n4 (3); (3 [word 1], 3 [n4]) -> n5 (6); (5, 6) -> root n6
    codes, points, lengths = huffman_codes(np.array([5, 3, 2, 1]))
    assert lengths.tolist() == [1, 2, 3, 3]
    expect_codes = [[0], [1, 0], [1, 1, 1], [1, 1, 0]]
    expect_points = [[2], [2, 1], [2, 1, 0], [2, 1, 0]]   # inner nodes 0..2, root = V - 2
    for w in range(4):
        assert codes[w, :lengths[w]].tolist() == expect_codes[w]
        assert points[w, :lengths[w]].tolist() == expect_points[w]


def test_huffman_code_is_prefix_free_and_optimal_lengths():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 1000, size=300)
    codes, _, lengths = huffman_codes(counts)
    words = ["".join(map(str, codes[w, :lengths[w]])) for w in range(300)]
    assert len(set(words)) == 300
    assert not any(a != b and b.startswith(a) for a in words for b in words)
    assert sum(2.0 ** -lengths) == pytest.approx(1.0)  # a full binary tree
    # more frequent words never get longer codes
    order = np.argsort(-counts, kind="stable")
    assert (np.diff(lengths[order]) >= 0).sum() >= 0.95 * 299


def test_alias_table_reproduces_the_distribution_exactly():
    counts = np.array([100, 50, 20, 10, 5, 1, 1, 0])
    prob, alias = negative_sampling_table(counts)
    V = len(counts)
    p = prob.astype(np.float64) / V
    for k in range(V):
        p[alias[k]] += (1.0 - prob[k]) / V
    target = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(p, target, atol=1e-6)
    assert len(prob) == V  # vocabulary-sized, not a 1e8-entry table


def test_alias_sampling_frequencies():
    rng = np.random.default_rng(1)
    prob, alias = alias_table(np.array([1.0, 2.0, 3.0, 4.0]))
    k = rng.integers(0, 4, 400_000)
    draws = np.where(rng.random(400_000) < prob[k], k, alias[k])
    np.testing.assert_allclose(np.bincount(draws) / 400_000, [0.1, 0.2, 0.3, 0.4], atol=5e-3)


def test_keep_probabilities_follow_the_c_tool():
    counts = np.array([0, 1000, 100, 10, 1])
    keep = keep_probabilities(counts, 1e-2)
    t = 1e-2 * counts.sum()
    for c, k in zip(counts[1:], keep[1:]):
        assert k == pytest.approx(min(1.0, (np.sqrt(c / t) + 1) * t / c), rel=1e-6)
    assert keep[0] == 1.0
    assert (keep_probabilities(counts, 0) == 1).all()
