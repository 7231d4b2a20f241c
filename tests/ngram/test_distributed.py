"""n-gram estimation on a Dask LocalCluster (2 worker processes): the same ARPA bytes and the
same model as one machine, whatever the partitions, with pruning, across files and faults."""
import gzip
import os
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")   # the 'dask' extra; CI installs it with 'test'

from lmkit.cli.main import main  # noqa: E402
from lmkit.cluster import connect, split_inputs  # noqa: E402
from lmkit.errors import ConfigError, CorpusError  # noqa: E402
from lmkit.ngram import NgramModel  # noqa: E402
from lmkit.ngram.distributed import train_on_cluster, word_ranges  # noqa: E402
from lmkit.text import Corpus, Span, Tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WS = Tokenizer("whitespace")


@pytest.fixture
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    """About 60k tokens of Shakespeare, with runs of empty lines (sentences without words)
    at the start, so that with many partitions one range holds only empty lines."""
    folder = tmp_path_factory.mktemp("dist")
    body = (ROOT / "data" / "tinyshakespeare.txt").read_bytes()[:300_000]
    path = folder / "ts.txt"
    path.write_bytes(b"\n" * 3000 + body)
    return path


def _single(path, tmp_path, name, **kw):
    model = NgramModel.train(Corpus(path, WS, quiet=True), quiet=True, **kw)
    out = tmp_path / name
    model.save(out, quiet=True)
    return model, out.read_bytes()


def _dist(client, path, tmp_path, name, partitions, **kw):
    est = train_on_cluster(client, path, partitions=partitions, tokenizer=WS, quiet=True, **kw)
    out = tmp_path / name
    est.write_arpa(out, quiet=True)
    return est, out.read_bytes()


@pytest.mark.parametrize("order", [3, 5])
@pytest.mark.parametrize("prune", [None, [0, 1, 1]])
def test_mkn_arpa_is_byte_identical_for_1_3_7_partitions(client, text, tmp_path, order, prune):
    _, want = _single(text, tmp_path, "one.arpa", order=order, smoothing="mkn", prune=prune)
    for partitions in (1, 3, 7):
        _, got = _dist(client, text, tmp_path, f"p{partitions}.arpa", partitions, order=order, smoothing="mkn",
                       prune=prune)
        assert got == want, (order, prune, partitions)


def test_a_tree_of_merges_and_many_small_ranges(client, text, tmp_path, monkeypatch):
    """Ranges capped in size (more ranges than partitions) and merged two at a time."""
    monkeypatch.setattr("lmkit.ngram.distributed.MERGE_FAN_IN", 2)
    monkeypatch.setattr("lmkit.ngram.distributed.RANGE_BYTES", 40_000)
    assert len(split_inputs(text, 3, max_bytes=40_000)) >= 8
    _, want = _single(text, tmp_path, "one.arpa", order=4, prune=[0, 0, 1])
    _, got = _dist(client, text, tmp_path, "dist.arpa", 3, order=4, prune=[0, 0, 1])
    assert got == want


@pytest.mark.parametrize("smoothing,interpolate,prune", [
    ("kn", True, None), ("wb", True, [0, 0, 1]), ("katz", True, None), ("abs", False, None),
    ("mkn", False, [0, 1]), ("stupid", True, None), ("mle", True, None), ("add-backoff", True, None)])
def test_every_backoff_smoothing_is_byte_identical(client, text, tmp_path, smoothing, interpolate, prune):
    _, want = _single(text, tmp_path, "one.arpa", order=3, smoothing=smoothing, interpolate=interpolate, prune=prune)
    _, got = _dist(client, text, tmp_path, "dist.arpa", 4, order=3, smoothing=smoothing, interpolate=interpolate,
                   prune=prune)
    assert got == want


@pytest.mark.parametrize("order", [1, 2, 4])
def test_gathered_model_equals_the_single_machine_model(client, text, order):
    one = NgramModel.train(Corpus(text, WS, quiet=True), order, quiet=True)
    many = NgramModel.train(Corpus(text, WS, quiet=True), order, client=client, partitions=3, quiet=True)
    assert one.meta == many.meta and one.vocab.itos == many.vocab.itos
    for name in ("ctx", "word", "log_probs", "log_backoffs"):
        for a, b in zip(getattr(one, name), getattr(many, name)):
            np.testing.assert_array_equal(a, b)


def test_additive_model_gathers_but_is_no_arpa(client, text, tmp_path):
    one = NgramModel.train(Corpus(text, WS, quiet=True), 3, "add", quiet=True)
    est = train_on_cluster(client, text, 3, "add", partitions=3, tokenizer=WS, quiet=True)
    many = est.to_model()
    for a, b in zip(one.log_probs + one.log_backoffs, many.log_probs + many.log_backoffs):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="not a backoff model"):
        est.write_arpa(tmp_path / "add.arpa")
    assert not (tmp_path / "add.arpa").exists()


def test_directory_of_plain_and_compressed_files(client, text, tmp_path):
    """Ranges of plain files and whole compressed files, in the reader's (sorted) order; a
    vocabulary with min_count."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = text.read_bytes().split(b"\n")
    (folder / "a.txt").write_bytes(b"\n".join(lines[:6000]) + b"\n")
    with gzip.open(folder / "b.txt.gz", "wb") as f:
        f.write(b"\n".join(lines[6000:9000]) + b"\n")
    (folder / "c.txt").write_bytes(b"\n".join(lines[9000:]))   # no final newline
    spans = split_inputs(folder, 5)
    assert [s.path.endswith("b.txt.gz") for s in spans].count(True) == 1
    _, want = _single(folder, tmp_path, "one.arpa", order=4, min_count=2)
    _, got = _dist(client, folder, tmp_path, "dist.arpa", 5, order=4, min_count=2)
    assert got == want


def test_word_ranges_tile_the_vocabulary():
    counts = np.array([0, 50, 50, 0, 1000, 3, 3, 3, 1, 1, 1])
    for parts in (1, 2, 3, 7, 11, 40):
        b = word_ranges(counts, parts)
        assert b[0] == 0 and b[-1] == len(counts) and np.all(np.diff(b) >= 1)
        assert len(b) - 1 == min(parts, len(counts))


def test_split_inputs_cover_every_line_once(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"".join(b"line %d\n" % i + b"\n" * (i % 3) for i in range(500)))
    whole = list(Corpus(path, WS, quiet=True))
    for parts in (1, 2, 7, 64):
        got = []
        for span in split_inputs(path, parts):
            got += list(Corpus(span, WS, quiet=True))
        assert got == whole


class _KillOnce(distributed.WorkerPlugin):
    """Kills its worker process the first time a task of ``prefix`` starts (a flag file makes
    it once per test, whichever worker restarts)."""

    def __init__(self, prefix, flag):
        self.prefix, self.flag = prefix, flag

    def transition(self, key, start, finish, **kwargs):
        name = key if isinstance(key, str) else str(key)
        if finish == "executing" and name.startswith(self.prefix) and not os.path.exists(self.flag):
            open(self.flag, "w").close()
            os._exit(1)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_killed_mid_run_changes_nothing(text, tmp_path, workers):
    """With one worker, everything it held (the vocabulary too) is recomputed from lineage."""
    _, want = _single(text, tmp_path, "one.arpa", order=4)
    flag = tmp_path / "killed"
    with connect(f"local:{workers}") as c:
        c.register_plugin(_KillOnce("lmkit-order3", str(flag)))
        _, got = _dist(c, text, tmp_path, "dist.arpa", 4, order=4)
    assert flag.exists(), "no worker was killed"
    assert got == want


def test_errors_name_the_path_and_the_worker(client, tmp_path):
    from lmkit.cluster import tally_range
    fut = client.submit(tally_range, Span(str(tmp_path / "gone.txt"), 0, 10), WS, False)
    with pytest.raises(CorpusError, match=r"gone.txt: no such file \(on worker tcp://"):
        fut.result()


def test_cli_cluster_matches_one_machine(text, tmp_path, capsys):
    one, many = tmp_path / "one.arpa", tmp_path / "many.arpa"
    assert main(["-q", "ngram", "train", str(text), "-o", str(one), "--order", "3"]) == 0
    assert main(["-q", "ngram", "train", str(text), "-o", str(many), "--order", "3",
                 "--cluster", "local:2", "--partitions", "3"]) == 0
    assert one.read_bytes() == many.read_bytes()


def test_cli_cluster_errors_are_one_line(text, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "m.arpa")
    assert main(["ngram", "train", str(text), "-o", out, "--cluster", "local:0"]) == 2
    assert "local:N needs a number of workers" in capsys.readouterr().err
    monkeypatch.setattr("lmkit.cluster.CONNECT_TIMEOUT", 2.0)   # 15 s by default
    assert main(["ngram", "train", str(text), "-o", out, "--cluster", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Dask scheduler answered within 2 s" in err
    assert main(["ngram", "train", "-", "-o", out, "--cluster", "local:1"]) == 2
    assert "not standard input" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "distributed", None)   # as without the 'dask' extra
    assert main(["ngram", "train", str(text), "-o", out, "--cluster", "local:1"]) == 2
    assert "pip install 'lmkit[dask]'" in capsys.readouterr().err
    assert not os.path.exists(out)


@pytest.mark.slow
def test_ctrl_c_stops_the_cluster_the_command_started(text, tmp_path):
    import signal
    import subprocess
    import time

    import psutil
    big = tmp_path / "big.txt"
    big.write_bytes(text.read_bytes() * 200)   # long enough that the run cannot end before the signal
    proc = subprocess.Popen([sys.executable, str(ROOT / "bin" / "lmkit"), "-q", "ngram", "train", str(big),
                             "-o", str(tmp_path / "m.arpa"), "--order", "5", "--cluster", "local:2"],
                            stderr=subprocess.PIPE, text=True)
    me = psutil.Process(proc.pid)
    deadline = time.time() + 60
    workers: list = []
    while time.time() < deadline and proc.poll() is None:
        workers = me.children(recursive=True)
        if len(workers) >= 3:   # two worker processes (and multiprocessing's resource tracker)
            break
        time.sleep(0.2)
    assert len(workers) >= 3 and proc.poll() is None, proc.poll() is not None and proc.communicate()[1]
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in err
    gone, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"orphan worker processes: {alive}"
    assert not (tmp_path / "m.arpa").exists()


def test_both_paths_refuse_pruning_additive_smoothing_alike(client, text):
    with pytest.raises(ConfigError, match="count pruning does not apply to add smoothing") as one:
        NgramModel.train(Corpus(text, WS, quiet=True), 3, "add", prune=[0, 1], quiet=True)
    with pytest.raises(ConfigError) as many:
        train_on_cluster(client, text, 3, "add", prune=[0, 1], tokenizer=WS, quiet=True)
    assert str(one.value) == str(many.value)
