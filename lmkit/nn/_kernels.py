"""numba kernels shared by the neural layers."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def scatter_add_rows(target, index, rows):
    """target[index[i]] += rows[i] for every i (repeated indices add up)."""
    n, d = rows.shape
    for i in range(n):
        t = index[i]
        for j in range(d):
            target[t, j] += rows[i, j]
