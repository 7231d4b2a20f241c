"""The thread-pool settings the lmkit command makes before numpy and numba load."""
import os
import subprocess
import sys

from lmkit.threads import QUIET_POOLS, quiet_thread_pools


def test_defaults_are_set_and_values_already_there_are_kept():
    env = {"OMP_WAIT_POLICY": "active"}
    done = quiet_thread_pools(env)
    assert env["OMP_WAIT_POLICY"] == "active"
    assert env["OPENBLAS_THREAD_TIMEOUT"] == QUIET_POOLS["OPENBLAS_THREAD_TIMEOUT"]
    assert done == {"OPENBLAS_THREAD_TIMEOUT": QUIET_POOLS["OPENBLAS_THREAD_TIMEOUT"]}


def test_the_command_sets_them_before_numpy_loads():
    """They only work if numpy (OpenBLAS) is not loaded yet when the entry point runs."""
    code = ("import sys, lmkit.cli.main as m; loaded = 'numpy' in sys.modules; "
            "m.quiet_thread_pools(); import os, numpy; "
            "print(loaded, os.environ['OMP_WAIT_POLICY'], os.environ['OPENBLAS_THREAD_TIMEOUT'])")
    env = {k: v for k, v in os.environ.items() if k not in QUIET_POOLS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["False", "passive", "4"]
