"""The malloc settings the lmkit command makes (lmkit/allocator.py): freed numpy temporaries
are reused instead of being fresh memory, page faults and all, every time."""
import os
import subprocess
import sys

import pytest

import lmkit.cli.main as cli
from lmkit.allocator import keep_freed_memory

#: page faults of 50 rounds of two 2 MiB arrays made and freed, after the settings or not
_CHURN = """
import resource, sys
import numpy as np
if sys.argv[1] == "set":
    from lmkit.allocator import keep_freed_memory
    print(keep_freed_memory())
np.ones(1 << 17)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    a = np.ones(1 << 18)
    b = a * 2.0
    del a, b
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _churn(how: str, **extra: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | extra
    out = subprocess.run([sys.executable, "-c", _CHURN, how], capture_output=True, text=True, env=env, check=True)
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
def test_freed_arrays_are_reused_without_page_faults():
    """Out of the box each 2 MiB array is fresh memory (about 512 faults a round); with the
    settings the rounds reuse the same heap."""
    plain = int(_churn("plain")[0])
    set_, faults = _churn("set")
    assert set_ == "True"
    assert plain > 50 * 256 and int(faults) < plain / 10


def test_limits_in_the_environment_are_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert keep_freed_memory() is False
    assert _churn("set", MALLOC_MMAP_THRESHOLD_="131072")[0] == "False"


def test_the_command_sets_them_first(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("malloc") or True)
    monkeypatch.setattr(cli, "main", lambda: calls.append("main") or 0)
    monkeypatch.setattr(cli.gc, "freeze", lambda: None)
    with pytest.raises(SystemExit):
        cli.run()
    assert calls == ["malloc", "main"]
