"""`lmkit neural train|score|generate` and `lmkit interpolate`: outputs, exit codes, one-line errors."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmkit.cli.main import main
from lmkit.neural import NeuralLM
from lmkit.ngram import NgramModel

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog ran", "on the mat the cat slept",
         "a dog and the cat", "the mat"] * 6
HELD = ["the cat sat on the log", "a dog sat"]
TEST = ["the dog sat on the mat", "a cat ran and the zebra slept"]


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), *map(str, args)],
                          input=stdin, capture_output=True, text=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("nlm")
    for name, lines in (("train", TRAIN), ("held", HELD), ("test", TEST)):
        (d / f"{name}.txt").write_text("\n".join(lines) + "\n")
    assert main(["-q", "neural", "train", str(d / "train.txt"), "-o", str(d / "run"), "--emb", "8", "--hidden", "8",
                 "--output", "class", "--epochs", "3", "--batch", "2", "--bptt", "5", "--valid",
                 str(d / "held.txt")]) == 0
    assert main(["-q", "ngram", "train", str(d / "train.txt"), "-o", str(d / "kn.arpa"), "--order", "3",
                 "--vocab", str(d / "run" / "model" / "vocab.tsv"), "--smoothing", "kn"]) == 0
    return d


def test_score_prints_the_lines_ngram_score_prints(files, capsys):
    assert main(["neural", "score", str(files / "run"), str(files / "test.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[1].endswith("\tOOV=1")
    summary = lines[-1]
    assert summary.startswith("sentences=2 tokens=15 OOVs=1 logprob=")
    assert "perplexity=" in summary and "excluding_OOVs=" in summary and "neural:lstm|" in summary
    model = NeuralLM.load(files / "run")
    ppl = model.perplexity([t.split() for t in TEST])
    assert f"perplexity={ppl.perplexity:.4f}" in summary
    assert main(["neural", "score", str(files / "run"), str(files / "test.txt"), "--per-word"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("the=2/") and "</s>=8/" in first


def test_generate_is_reproducible(files, capsys):
    assert main(["neural", "generate", str(files / "run"), "-n", "3", "--seed", "4"]) == 0
    a = capsys.readouterr().out
    assert main(["neural", "generate", str(files / "run"), "-n", "3", "--seed", "4"]) == 0
    assert capsys.readouterr().out == a and len(a.splitlines()) == 3


def test_resume_continues_a_run(files, tmp_path):
    out = tmp_path / "run"
    args = ["-q", "neural", "train", str(files / "train.txt"), "-o", str(out), "--emb", "4", "--hidden", "4",
            "--arch", "gru", "--output", "hs", "--batch", "2", "--bptt", "5"]
    assert main(args + ["--epochs", "1"]) == 0
    assert main(args + ["--epochs", "1"]) == 2           # refuses to overwrite a run
    assert main(args + ["--epochs", "2", "--resume"]) == 0
    assert '"epoch": 2' in (out / "history.json").read_text()


def test_interpolation_with_em_and_given_weights(files, capsys):
    args = ["interpolate", str(files / "kn.arpa"), str(files / "run"), str(files / "test.txt")]
    assert main(args + ["--heldout", str(files / "held.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("sentences=2 tokens=15 OOVs=1") and "interpolate:2|" in lines[-2]
    assert lines[-1].startswith("weights=") and "EM on" in lines[-1]
    w = [float(x) for x in lines[-1].split("=")[1].split()[:2]]
    assert sum(w) == pytest.approx(1.0, abs=1e-5)
    # weight 1 on the n-gram model reproduces `ngram score`
    assert main(args + ["--weights", "1", "0", "--summary-only"]) == 0
    mixed = capsys.readouterr().out.splitlines()[0]
    assert main(["ngram", "score", str(files / "kn.arpa"), str(files / "test.txt"), "--summary-only"]) == 0
    alone = capsys.readouterr().out.strip()
    assert mixed.split(" [")[0] == alone.split(" [")[0]


def test_one_line_errors_and_exit_2(files, tmp_path):
    other = tmp_path / "other.arpa"
    NgramModel.train([s.split() for s in ["x y z"] * 3], order=2, quiet=True).save(other, quiet=True)
    cases = [
        (["interpolate", files / "kn.arpa", other, files / "test.txt", "--weights", "1", "1"], "another vocabulary"),
        (["interpolate", files / "kn.arpa", files / "test.txt", "--weights", "1"], "at least two models"),
        (["interpolate", files / "kn.arpa", files / "run", files / "test.txt", "--weights", "1"], "needs 2 values"),
        (["neural", "score", tmp_path, files / "test.txt"], "config.json is missing"),
        (["neural", "train", files / "train.txt", "-o", tmp_path / "x", "--output", "class", "--tied"],
         "tied embeddings need"),
        (["neural", "train", files / "train.txt", "-o", tmp_path / "y", "--layers", "4"], "--layers"),
        (["neural", "train", tmp_path / "missing.txt", "-o", tmp_path / "z"], "missing.txt"),
        (["neural", "train", files / "train.txt", "-o", tmp_path / "w", "--resume"], "nothing to resume"),
    ]
    for args, message in cases:
        res = run_cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert message in res.stderr and "Traceback" not in res.stderr, (args, res.stderr)
        assert len(res.stderr.strip().splitlines()) <= 2, res.stderr   # usage line + error at most


def test_em_weights_match_a_brute_force_search():
    from lmkit.interpolate import InterpolatedLM, best_weights
    sents = [t.split() for t in TRAIN]
    vocab_model = NgramModel.train(sents, order=1, smoothing="kn", quiet=True)
    a = NgramModel.train(sents[:18], order=2, smoothing="wb", vocab=vocab_model.vocab, quiet=True)
    b = NgramModel.train(sents[18:], order=1, smoothing="kn", vocab=vocab_model.vocab, quiet=True)
    held = HELD + TEST
    lam, _, ppl = best_weights([a, b], held)
    grid = np.linspace(0, 1, 2001)
    ppls = [InterpolatedLM([a, b], [g, 1 - g]).perplexity(held).perplexity for g in grid]
    best = grid[int(np.argmin(ppls))]
    assert lam[0] == pytest.approx(best, abs=1e-3)
    assert ppl == pytest.approx(min(ppls), rel=1e-6) or ppl < min(ppls)
