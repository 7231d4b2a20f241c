"""Faults a real run meets: kill -9 during whole-folder saves, SIGTERM during writes, writes
to devices, symlinks and directories, file modes. (Issue: hardening, causes 3 and 4.)"""
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lmkit import ConfigError
from lmkit._io import atomic_folder, atomic_path, atomic_write
from lmkit.embed import KeyedVectors

from .conftest import ROOT

SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from lmkit.embed import KeyedVectors
    folder = sys.argv[1]
    words = [f"w{i}" for i in range(2000)]
    i = 0
    while True:
        i += 1
        KeyedVectors(words, np.full((2000, 50), i, np.float32)).save(folder)
        print(i, flush=True)
""")


@pytest.mark.slow
def test_kill_9_during_folder_saves_leaves_one_complete_folder(tmp_path):
    folder = tmp_path / "vecs"
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    rng = np.random.default_rng(0)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for trial in range(8):
        proc = subprocess.Popen([sys.executable, str(script), str(folder)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline()            # at least one save completed
        time.sleep(float(rng.uniform(0.0, 0.3)))
        proc.kill()
        proc.wait()
        proc.stdout.close()
        kv = KeyedVectors.load(folder)           # old complete or new complete, never a mix
        values = np.unique(np.asarray(kv.vectors))
        assert len(values) == 1 and len(kv) == 2000, trial
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".vecs.")]
    # a kill can leave the unfinished new folder beside it, never touching the real one
    assert all(".new-" in name for name in leftovers)


@pytest.mark.slow
def test_sigterm_during_cli_write_removes_the_temporary_file(tmp_path):
    out = tmp_path / "brown.vec"
    proc = subprocess.Popen([sys.executable, str(ROOT / "bin" / "lmkit"), "embed", "train",
                             str(ROOT / "data" / "brown.txt.gz"), "-o", str(out), "--epochs", "50", "-q"],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_atomic_writes_get_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as f:
            f.write("x")
        with atomic_path(tmp_path / "b.npy") as tmp:
            np.save(tmp, np.zeros(3))
        with atomic_folder(tmp_path / "c") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "b.npy").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == 0o755
    os.chmod(tmp_path / "a.txt", 0o640)          # an existing file keeps its mode
    with atomic_write(tmp_path / "a.txt") as f:
        f.write("y")
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o640


def test_writes_go_through_devices_and_symlinks(tmp_path):
    with atomic_write("/dev/null") as f:         # written through, never replaced
        f.write("x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with atomic_write(link) as f:
        f.write("new")
    assert link.is_symlink() and real.read_text() == "new"
    fifo = tmp_path / "fifo.npy"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    with atomic_path(fifo) as tmp:
        np.save(tmp, np.arange(3))
    data = reader.communicate(timeout=10)[0]
    assert data.startswith(b"\x93NUMPY") and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_directory_as_output_names_the_users_path(tmp_path):
    with pytest.raises(ConfigError, match=f"{tmp_path}: is a directory"), atomic_write(tmp_path) as f:
        f.write("x")
    res = subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), "vocab",
                          str(ROOT / "data" / "tinyshakespeare.txt"), "-o", str(tmp_path)],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert f"{tmp_path}: is a directory" in res.stderr and ".tmp" not in res.stderr


def test_output_to_stdout(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), "vocab",
                          str(ROOT / "data" / "tinyshakespeare.txt"), "-o", "-", "-q"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[0].split("\t")[0] == "<unk>"


def test_output_to_dev_stdout_through_a_pipe(tmp_path):
    res = subprocess.run(f"{sys.executable} {ROOT / 'bin' / 'lmkit'} -q vocab {ROOT / 'data' / 'tinyshakespeare.txt'} "
                         "-o /dev/stdout | cat", shell=True, capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("<unk>\t"), res.stderr
