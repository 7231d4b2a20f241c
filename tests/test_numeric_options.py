"""Numeric settings are checked in one place (lmkit.checks): finite, in range, whole where
they must be; the command line and the API constructors refuse the same values with the same
words. (Issue: hardening, cause 5.)"""
import subprocess
import sys

import pytest

from lmkit import ConfigError
from lmkit.checks import Range
from lmkit.embed import Word2Vec
from lmkit.translate import Seq2SeqConfig, TrainConfig

from .conftest import ROOT

BROWN = str(ROOT / "data" / "brown.txt.gz")
TS = str(ROOT / "data" / "tinyshakespeare.txt")


@pytest.mark.parametrize("args, option", [
    (["embed", "train", BROWN, "-o", "V", "--alpha", "inf"], "--alpha"),
    (["embed", "train", BROWN, "-o", "V", "--alpha", "nan"], "--alpha"),
    (["embed", "train", BROWN, "-o", "V", "--negative", "1000000"], "--negative"),
    (["embed", "train", BROWN, "-o", "V", "--dim", "100000000"], "--dim"),
    (["embed", "train", BROWN, "-o", "V", "--sample", "-1"], "--sample"),
    (["embed", "train", BROWN, "-o", "V", "--min-alpha", "nan"], "--min-alpha"),
    (["embed", "train", BROWN, "-o", "V", "--window", "2.5"], "--window"),
    (["embed", "train", BROWN, "-o", "V", "--seed", "-1"], "--seed"),
    (["ngram", "train", TS, "-o", "M.arpa", "--discount", "nan"], "--discount"),
    (["ngram", "train", TS, "-o", "M.arpa", "--discount", "-1"], "--discount"),
    (["ngram", "train", TS, "-o", "M.arpa", "--prune", "0", "-1"], "--prune"),
    (["ngram", "prune", "M.arpa", "--threshold", "nan", "-o", "P.arpa"], "--threshold"),
    (["ngram", "prune", "M.arpa", "--threshold", "inf", "-o", "P.arpa"], "--threshold"),
    (["ngram", "generate", "M.arpa", "--seed", "-1"], "--seed"),
    (["ngram", "mix", "A", "B", "--weights", "nan", "1", "-o", "X"], "--weights"),
    (["translate", "train", "--train-src", TS, "--train-tgt", TS, "-o", "T", "--lr", "1e9"], "--lr"),
    (["translate", "train", "--train-src", TS, "--train-tgt", TS, "-o", "T", "--clip", "-1"], "--clip"),
    (["translate", "train", "--train-src", TS, "--train-tgt", TS, "-o", "T", "--dropout", "1"], "--dropout"),
    (["translate", "train", "--train-src", TS, "--train-tgt", TS, "-o", "T", "--layers", "1000"], "--layers"),
    (["translate", "decode", "T", "--length-penalty", "nan"], "--length-penalty"),
    (["translate", "decode", "T", "--beam", "0"], "--beam"),
    (["translate", "decode", "T", "--max-len-ratio", "inf"], "--max-len-ratio"),
])
@pytest.mark.slow
def test_cli_refuses_out_of_range_numbers(tmp_path, args, option):
    res = subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), *args], capture_output=True,
                         text=True, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and option in res.stderr and "Traceback" not in res.stderr
    assert not list(tmp_path.iterdir())        # nothing written


def test_cli_rejects_mixing_weights_that_are_all_zero(tmp_path):
    model = tmp_path / "m.lmk"
    subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), "-q", "ngram", "train", TS, "-o", str(model),
                    "--order", "2"], check=True)
    res = subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), "ngram", "mix", str(model), str(model),
                          "--weights", "0", "0", "-o", str(tmp_path / "x.lmk")], capture_output=True, text=True)
    assert res.returncode == 2 and "must not all be 0" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("kwargs, name", [
    (dict(alpha=float("inf")), "alpha"), (dict(alpha=float("nan")), "alpha"), (dict(negative=10**6), "negative"),
    (dict(dim=0), "dim"), (dict(sample=float("nan")), "sample"), (dict(epochs=2.5), "epochs"),
    (dict(alpha=0.01, min_alpha=0.1), "min_alpha"), (dict(workers=True), "workers"),
])
def test_word2vec_constructor_refuses_the_same(kwargs, name):
    with pytest.raises(ConfigError, match=name):
        Word2Vec(**kwargs)


@pytest.mark.parametrize("cls, kwargs, name", [
    (TrainConfig, dict(lr=1e9), "lr"), (TrainConfig, dict(clip=-1.0), "clip"),
    (TrainConfig, dict(lr_decay=float("nan")), "lr_decay"), (TrainConfig, dict(batch=0), "batch"),
    (Seq2SeqConfig, dict(src_vocab=10, tgt_vocab=10, dropout=1.0), "dropout"),
    (Seq2SeqConfig, dict(src_vocab=10, tgt_vocab=10, hidden=-1), "hidden"),
])
def test_translation_configs_refuse_the_same(cls, kwargs, name):
    with pytest.raises(ConfigError, match=name):
        cls(**kwargs).check()


def test_ngram_api_refuses_bad_discounts_and_prunes():
    from lmkit.ngram import NgramModel
    sents = [s.split() for s in ["a b c", "b c d", "a b d"]]
    for kwargs in (dict(smoothing="kn", discount=5.0), dict(smoothing="abs", discount=float("nan")),
                   dict(smoothing="mkn", discount=0.5), dict(prune=[0, 0, 0, 1])):
        with pytest.raises(ConfigError):
            NgramModel.train(sents, order=3, quiet=True, **kwargs)


@pytest.mark.parametrize("value, ok", [(0, False), (1, True), (5.5, True), (10, True), (10.5, False),
                                       (float("inf"), False), (float("nan"), False), (None, False), ("3", False)])
def test_range(value, ok):
    assert Range(1, 10).ok(value) is ok
