import subprocess
import sys
from pathlib import Path

import pytest

from lmkit.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), *map(str, args)],
                          input=stdin, capture_output=True, text=True)


def test_version_and_help():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("lmkit ")
    out = run_cli("--help")
    assert out.returncode == 0 and "vocab" in out.stdout


def test_vocab_command_writes_counts(tmp_path, brown_path):
    out = tmp_path / "v.tsv"
    assert main(["-q", "vocab", str(brown_path), "-o", str(out), "--min-count", "5",
                 "--tokenizer", "whitespace", "--lowercase"]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[:4] == ["<unk>\t58040", "<s>\t57340", "</s>\t57340", "the\t69971"]


def test_vocab_from_stdin(tmp_path):
    out = tmp_path / "v.tsv"
    res = run_cli("vocab", "-", "-o", out, stdin="b a a\nc a\n")
    assert res.returncode == 0, res.stderr
    assert out.read_text().splitlines()[3:] == ["a\t3", "b\t1", "c\t1"]


@pytest.mark.parametrize("args, message", [
    (["vocab", "missing.txt", "-o", "v.tsv"], "missing.txt: no such file or directory"),
    (["vocab", "EMPTY", "-o", "v.tsv"], "corpus holds no tokens"),
    (["vocab", "README.md", "-o", "v.tsv", "--min-count", "zero"], "--min-count: 'zero' is not a whole number"),
    (["vocab", "README.md", "-o", "v.tsv", "--tokenizer", "bpe"], "argument --tokenizer: invalid choice"),
    (["vocab", "BAD", "-o", "v.tsv", "--strict"], "bad.txt:2: invalid UTF-8"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "bad.txt").write_bytes(b"ok\nnot \xff ok\n")
    args = [str(tmp_path / "empty.txt") if a == "EMPTY" else str(tmp_path / "bad.txt") if a == "BAD"
            else str(ROOT / a) if a == "README.md" else str(tmp_path / a) if a == "v.tsv" else a
            for a in args]
    res = run_cli(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(tmp_path, where):
    args = ["vocab", tmp_path / "missing.txt", "-o", tmp_path / "v.tsv"]
    res = run_cli(*(["--debug"] + args if where == "before" else args + ["--debug"]))
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_global_options_also_follow_the_command():
    from lmkit.cli.main import build_parser
    parser = build_parser()
    for argv, quiet, debug in [(["embed", "train", "c.txt", "-o", "v"], False, False),
                               (["-q", "embed", "train", "c.txt", "-o", "v"], True, False),
                               (["embed", "train", "c.txt", "-o", "v", "--quiet"], True, False),
                               (["--debug", "embed", "train", "c.txt", "-o", "v", "-q"], True, True)]:
        args = parser.parse_args(argv)
        assert (args.quiet, args.debug) == (quiet, debug), argv


@pytest.mark.parametrize("argv", [["ngram", "score", "m.bin", "t.txt", "--summary-only"],
                                  ["-q", "ngram", "train", "c.txt", "-o", "m.arpa", "--smoothing", "kn"],
                                  ["ngram", "build-binary", "m.arpa", "-o", "m.bin", "--layout", "trie"],
                                  ["ngram", "-q", "mix", "a", "b", "-o", "c", "--weights", "0.5", "0.5"]])
def test_a_command_line_builds_its_command_alone_and_parses_as_the_full_parser(argv):
    """`lmkit ngram CMD` gives CMD its arguments and the family's other commands only their
    name and help line (a short run's 5 ms); what it parses is what every command built parses."""
    from lmkit.cli.main import build_parser
    assert vars(build_parser(argv).parse_args(argv)) == vars(build_parser().parse_args(argv))


def test_scoring_does_not_load_the_smoothings():
    code = ("import sys; from lmkit.cli.main import build_parser; "
            "build_parser(['ngram', 'score', 'm.bin']).parse_args(['ngram', 'score', 'm.bin']); "
            "print('lmkit.ngram.estimators' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.strip() == "False", res.stdout + res.stderr


def test_replaced_utf8_lines_are_reported_once(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"ok\nnot \xff ok\nagain \xfe\n")
    res = run_cli("vocab", tmp_path / "bad.txt", "-o", tmp_path / "v.tsv")
    assert res.returncode == 0
    assert res.stderr.count("2 line(s) held invalid UTF-8") == 1


@pytest.mark.parametrize("args", [[], ["ngram"], ["embed"], ["translate"]])
def test_bare_commands_give_usage_and_one_error_line(args):
    res = subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), *args], capture_output=True, text=True)
    assert res.returncode == 2
    lines = res.stderr.strip().split("\n")
    assert lines[0].startswith("usage:") and lines[-1].endswith("--help)") and "a command is required" in lines[-1]
    assert len([ln for ln in lines if "error" in ln]) == 1


def test_api_misuse_raises_clear_errors():
    import numpy as np

    from lmkit import ConfigError
    from lmkit.embed import KeyedVectors
    from lmkit.ngram import NgramModel
    kv = KeyedVectors(["the", "cat", "sat"], np.eye(3, dtype=np.float32))
    with pytest.raises(ConfigError, match="topn"):
        kv.most_similar("the", topn=-3)
    with pytest.raises(ConfigError, match="list of words"):
        kv.neighbors("the")
    lm = NgramModel.train([["the", "cat", "sat"]], order=2, quiet=True)
    with pytest.raises(ConfigError, match="word must be a string"):
        lm.logprob(None)
    assert lm.logprob("cat", "the") == lm.logprob("cat", ["the"])   # a string context is words


def test_top_level_help_loads_no_model_family():
    # `lmkit --help` stays fast because no family (numpy, numba kernels) is imported for it
    code = ("import sys; from lmkit.cli.main import build_parser; build_parser(['--help']); "
            "print(sorted(m for m in ('numba', 'lmkit.ngram', 'lmkit.embed', 'lmkit.translate') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


def test_unforeseen_errors_are_one_line_and_debug_shows_the_traceback(monkeypatch, capsys, tmp_path):
    # the CLI's last resort (hardening cause 1): anything that escapes the readers' checks
    from lmkit.cli import main as cli_main
    from lmkit.cli import vocab as cli_vocab

    def boom(args):
        raise RuntimeError("something unforeseen")
    monkeypatch.setattr(cli_vocab, "run", boom)
    out = str(tmp_path / "x")
    assert cli_main.main(["vocab", "README.md", "-o", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError: something unforeseen; rerun with --debug" in err
    with pytest.raises(RuntimeError):
        cli_main.main(["--debug", "vocab", "README.md", "-o", out])


def test_word2vec_history_after_resume_covers_the_whole_run(tmp_path):
    from lmkit.embed import Word2Vec
    sents = [s.split() for s in ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 30]
    Word2Vec(dim=8, epochs=3, workers=1, seed=1, min_count=1).train(sents, quiet=True, checkpoint=tmp_path / "m",
                                                                     stop_after=1)
    model = Word2Vec.load(tmp_path / "m")
    model.train(sents, resume=True, quiet=True, checkpoint=tmp_path / "m")
    assert [h.epoch for h in model.history] == [1, 2, 3]
    assert [h.epoch for h in Word2Vec.load(tmp_path / "m").history] == [1, 2, 3]
