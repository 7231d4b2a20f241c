"""Thread-pool settings for a process that mixes BLAS calls with numba parallel kernels.

Training a neural model alternates, hundreds of times a second, between numpy products
(OpenBLAS's thread pool) and numba ``prange`` kernels (numba's OpenMP pool). Out of the box
both pools keep their idle threads spinning after each call (OpenBLAS for about 2^28 cycles,
libgomp for a few hundred thousand spins), so with as many threads as cores whichever pool runs
next shares its cores with the other pool's spinning threads. Measured on this project's 2-core
machine (benchmarks/neural_bench.py; 1-layer LSTM 256, class softmax over 10k words): 15-16k
words/s out of the box, 24k with idle threads that sleep at once; sigmoid RNN 100 with
hierarchical softmax: 151k -> 183k.

Both settings are environment variables that each library reads when it loads, so they must be
set before numpy (OpenBLAS) and before numba's first parallel kernel (libgomp). The ``lmkit``
command sets them first thing; Python users who want the same set them before importing numpy
(``OMP_WAIT_POLICY=passive OPENBLAS_THREAD_TIMEOUT=4``). Values already in the environment are
kept.
"""
from __future__ import annotations

import os
from collections.abc import MutableMapping

#: environment variable -> value that makes idle pool threads sleep at once
QUIET_POOLS = {
    "OMP_WAIT_POLICY": "passive",         # libgomp (numba's "omp" threading layer)
    "OPENBLAS_THREAD_TIMEOUT": "4",       # OpenBLAS: spin 2^4 cycles, not 2^28, before sleeping
}


def quiet_thread_pools(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set :data:`QUIET_POOLS` in ``environ`` (default ``os.environ``) where not set already;
    returns what was set. Effective only before numpy and numba's parallel layer load."""
    env = os.environ if environ is None else environ
    done = {}
    for name, value in QUIET_POOLS.items():
        if name not in env:
            env[name] = done[name] = value
    return done
