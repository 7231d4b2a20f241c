"""The sort-based distinct-value helpers against numpy's own unique and union1d."""
import numpy as np
import pytest

from lmkit._arrays import sorted_union, sorted_unique


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sorted_unique_and_union_equal_numpy(seed):
    rng = np.random.default_rng(seed)
    for n, hi in ((0, 5), (1, 5), (2, 1), (1000, 10), (5000, 10**12)):
        a = rng.integers(-hi, hi, n)
        b = rng.integers(-hi, hi, n // 2 + 1).astype(np.int32)
        got = sorted_unique(a)
        assert np.array_equal(got, np.unique(a)) and got.dtype == a.dtype
        assert np.array_equal(sorted_union(a, b), np.union1d(a, b))
    assert np.array_equal(sorted_unique(np.array([[3, 1], [3, 2]])), [1, 2, 3])
