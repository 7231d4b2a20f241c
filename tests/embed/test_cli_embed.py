import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmkit.embed import KeyedVectors

ROOT = Path(__file__).resolve().parents[2]


def run(tool, *args, stdin=None):
    return subprocess.run([sys.executable, str(ROOT / "bin" / tool), *map(str, args)], input=stdin,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, small_sentences):
    path = tmp_path_factory.mktemp("emb") / "small.txt"
    path.write_text("\n".join(" ".join(s) for s in small_sentences) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_train_then_query(tmp_path, corpus_file):
    out = tmp_path / "v.bin"
    res = run("lmkit", "-q", "embed", "train", corpus_file, "-o", out, "--binary", "--dim", "20",
              "--epochs", "2", "--min-count", "3", "--save-vocab", tmp_path / "vocab.tsv",
              "--save-model", tmp_path / "model")
    assert res.returncode == 0, res.stderr
    kv = KeyedVectors.load_word2vec_format(out, binary=True)
    assert kv.dim == 20 and "the" in kv
    assert (tmp_path / "vocab.tsv").read_text().splitlines()[1].startswith("the\t")
    res = run("lmkit", "embed", "neighbors", out, "the", "zzzq", "-k", "3")
    assert res.returncode == 2 and res.stdout.startswith("the\t") and len(res.stdout.split("\t")[1].split()) == 3
    assert "'zzzq' is not in the vocabulary" in res.stderr
    res = run("lmkit", "embed", "neighbors", out, stdin="of\nand\n")
    assert res.returncode == 0 and [ln.split("\t")[0] for ln in res.stdout.splitlines()] == ["of", "and"]
    res = run("lmkit", "embed", "analogy", out, "he", "his", "she", "-k", "2")
    assert res.returncode == 0 and res.stdout.startswith("he:his::she:?\t")   # neighbors' format
    assert len(res.stdout.split("\t")[1].split()) == 2
    res = run("lmkit", "embed", "convert", out, tmp_path / "native", "--native", "--limit", "50")
    assert res.returncode == 0, res.stderr
    native = KeyedVectors.load(tmp_path / "native")
    assert native.words == kv.words[:50] and np.array_equal(native.vectors, kv.vectors[:50])
    res = run("lmkit", "embed", "neighbors", tmp_path / "native", "the", "--limit", "10", "-k", "3")
    assert res.returncode == 0 and all(w.split(":")[0] in kv.words[:10] for w in res.stdout.split("\t")[1].split())
    res = run("lmkit", "embed", "analogy", out, "he", "his", "zzzq")
    assert res.returncode == 2 and "zzzq" in res.stderr and "Traceback" not in res.stderr


def test_resume_from_cli(tmp_path, corpus_file):
    args = ["-q", "embed", "train", corpus_file, "-o", tmp_path / "v.txt", "--dim", "10", "--epochs", "2",
            "--min-count", "3", "--workers", "1", "--save-model", tmp_path / "m"]
    assert run("lmkit", *args).returncode == 0
    res = run("lmkit", *args, "--resume")   # already finished: nothing more to do
    assert res.returncode == 0, res.stderr


def test_c_tool_flags(tmp_path, corpus_file):
    out = tmp_path / "c.txt"
    res = run("word2vec", "-train", corpus_file, "-output", out, "-size", "12", "-window", "3", "-cbow", "0",
              "-hs", "1", "-negative", "0", "-iter", "1", "-threads", "2", "-min-count", "3", "-binary", "0")
    assert res.returncode == 0, res.stderr
    assert out.read_text().split("\n")[0].split()[1] == "12"
    res = run("word2vec", "-train", corpus_file, "-size")
    assert res.returncode == 2 and "-size needs a value" in res.stderr
    # -save-vocab / -read-vocab round trip, -classes (k-means classes), -debug 0 (silent)
    common = ["-train", corpus_file, "-size", "8", "-iter", "1", "-min-count", "3", "-threads", "1", "-debug", "0"]
    res = run("word2vec", *common, "-output", tmp_path / "a.txt", "-save-vocab", tmp_path / "vocab.txt")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    res = run("word2vec", *common, "-output", tmp_path / "b.txt", "-read-vocab", tmp_path / "vocab.txt")
    assert res.returncode == 0, res.stderr
    words = lambda p: [ln.split(" ")[0] for ln in p.read_text().splitlines()[1:]]  # noqa: E731
    assert words(tmp_path / "a.txt") == words(tmp_path / "b.txt")
    res = run("word2vec", *common, "-output", tmp_path / "classes.txt", "-classes", "5")
    assert res.returncode == 0, res.stderr
    lines = [ln.split(" ") for ln in (tmp_path / "classes.txt").read_text().splitlines()]
    assert [w for w, _ in lines] == words(tmp_path / "a.txt") and {int(c) for _, c in lines} <= set(range(5))


@pytest.mark.parametrize("args, message", [
    (["embed", "train", "missing.txt", "-o", "v.txt"], "no such file"),
    (["embed", "train", "CORPUS", "-o", "v.txt", "--dim", "0"], "--dim: '0' must be a whole number in [1, 10000]"),
    (["embed", "train", "CORPUS", "-o", "v.txt", "--negative", "0"], "hierarchical softmax"),
    (["embed", "train", "CORPUS", "-o", "v.txt", "--min-count", "100000"], "no word occurs"),
    (["embed", "neighbors", "missing.bin", "x"], "no such vectors file"),
    (["embed", "evaluate", "BADVEC", "--pairs", "x"], "expected a 'count dim' header"),
])
def test_errors(tmp_path, corpus_file, args, message):
    (tmp_path / "bad.vec").write_text("not vectors\n")
    args = [str(corpus_file) if a == "CORPUS" else str(tmp_path / "bad.vec") if a == "BADVEC"
            else str(tmp_path / a) if a.endswith((".txt", ".bin")) else a for a in args]
    res = run("lmkit", *args)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
