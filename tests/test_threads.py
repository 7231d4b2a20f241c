"""The thread-pool settings the lmkit command makes before numpy and numba load, and SciPy
kept out of its process."""
import gzip
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


def test_the_command_keeps_scipy_out_and_trains_the_same_model(tmp_path, brown_path):
    """numba would import SciPy (installed here by the test extra) at start-up and its BLAS at
    the first compiled call; the command blocks it, loads numba all the same, and its model
    equals the one trained in a process where SciPy is loaded."""
    import importlib.util
    assert importlib.util.find_spec("scipy") is not None, "SciPy (from the test extra) is needed here"
    report = ("import atexit, sys; atexit.register(lambda: print(sorted(m for m, v in sys.modules.items() "
              "if m.split('.')[0] == 'scipy' and v is not None), 'numba' in sys.modules, file=sys.stderr)); ")
    text = tmp_path / "t.txt"
    with gzip.open(brown_path, "rt", encoding="utf-8") as f:
        text.write_text("".join(line for _, line in zip(range(2000), f)), encoding="utf-8")
    cli = report + "import runpy; runpy.run_module('lmkit.cli.main', run_name='__main__')"
    out = subprocess.run([sys.executable, "-c", cli, "-q", "ngram", "train", str(text), "-o",
                          str(tmp_path / "a.arpa"), "--order", "3"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "[] True"
    with_scipy = ("import scipy, sys; from lmkit.cli.main import main; "
                  "sys.exit(main(['-q', 'ngram', 'train', sys.argv[1], '-o', sys.argv[2], '--order', '3']))")
    subprocess.run([sys.executable, "-c", with_scipy, str(text), str(tmp_path / "b.arpa")], check=True)
    assert (tmp_path / "a.arpa").read_bytes() == (tmp_path / "b.arpa").read_bytes()
