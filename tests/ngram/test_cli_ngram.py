import subprocess
import sys
from pathlib import Path

import pytest

from lmkit.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), *map(str, args)],
                          input=stdin, capture_output=True, text=True)


@pytest.mark.slow
def test_train_score_generate(tmp_path, ts_split, capsys):
    train, test = ts_split
    model = tmp_path / "m.arpa.gz"
    assert main(["-q", "ngram", "train", str(train), "-o", str(model), "--order", "3"]) == 0
    assert main(["-q", "ngram", "score", str(model), str(test), "--summary-only"]) == 0
    summary = capsys.readouterr().out.strip()
    assert summary.startswith("sentences=3277 tokens=23617 OOVs=1604")
    assert "perplexity=434.70" in summary and "excluding_OOVs=272.45" in summary
    assert "order:3|" in summary
    assert main(["-q", "ngram", "generate", str(model), "-n", "3", "--seed", "7"]) == 0
    first = capsys.readouterr().out
    assert main(["-q", "ngram", "generate", str(model), "-n", "3", "--seed", "7"]) == 0
    assert capsys.readouterr().out == first and len(first.splitlines()) == 3


def test_score_from_stdin_per_word(tmp_path, ts_split):
    model = tmp_path / "m.lmk"
    assert run_cli("-q", "ngram", "train", ts_split[0], "-o", model, "--order", "2",
                   "--smoothing", "wb").returncode == 0
    res = run_cli("ngram", "score", model, "--per-word", stdin="First Citizen:\n")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("First=2/") and lines[0].endswith("</s>=2/" + lines[0].split("</s>=2/")[1])
    assert lines[-1].startswith("sentences=1 tokens=3 OOVs=0")


@pytest.mark.parametrize("args, message", [
    (["ngram", "train", "TRAIN", "-o", "m.arpa", "--order", "11"], "--order must be between 1 and 10"),
    (["ngram", "train", "TRAIN", "-o", "m.arpa", "--smoothing", "foo"], "invalid choice: 'foo'"),
    (["ngram", "train", "EMPTY", "-o", "m.arpa"], "no tokens"),
    (["ngram", "score", "missing.arpa", "TRAIN"], "missing.arpa: no such model file"),
    (["ngram", "score", "BAD", "TRAIN"], "not an ARPA file"),
])
def test_errors_exit_2_with_one_line(tmp_path, ts_split, args, message):
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "bad.arpa").write_text("garbage\n")
    repl = {"TRAIN": str(ts_split[0]), "EMPTY": str(tmp_path / "empty.txt"),
            "BAD": str(tmp_path / "bad.arpa")}
    args = [repl.get(a, str(tmp_path / a) if a.endswith(".arpa") else a) for a in args]
    res = run_cli(*args)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_convert_between_arpa_and_native(tmp_path):
    import subprocess
    import sys

    from lmkit.ngram import NgramModel

    from ..conftest import ROOT, TEST_DATA
    arpa = TEST_DATA / "kenlm" / "test.arpa"
    lmk, back = tmp_path / "m.lmk", tmp_path / "back.arpa.gz"
    for src, dst in ((arpa, lmk), (lmk, back)):
        res = subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), "-q", "ngram", "convert", str(src), str(dst)],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    a, b = NgramModel.load(arpa, quiet=True), NgramModel.load(back, quiet=True)
    for sentence in ("looking on a little more", "also would consider higher looking", "zzz"):
        assert list(a.full_scores(sentence)) == list(b.full_scores(sentence))
    assert NgramModel.load(lmk).sizes == a.sizes
