"""Every code block of README.md runs as written (python and bash blocks, in order, in one
scratch folder that sees the shipped data/ as the repository root does). The two set-up
commands (fresh venv + pip install) are what CI itself runs, so they are not repeated here;
``text`` blocks are synopses, not code."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.S | re.M)


def readme_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(lang, code) for lang, code in BLOCK.findall(text) if "python3 -m venv" not in code]


def test_readme_has_runnable_blocks():
    kinds = [lang for lang, _ in readme_blocks()]
    assert kinds.count("python") >= 4 and kinds.count("bash") >= 2


@pytest.mark.slow
def test_every_readme_block_runs(tmp_path):
    (tmp_path / "data").symlink_to(ROOT / "data")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for i, (lang, code) in enumerate(readme_blocks()):
        cmd = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
        res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, f"README block {i + 1} ({lang}) failed:\n{code}\n--- stderr:\n{res.stderr[-3000:]}"
