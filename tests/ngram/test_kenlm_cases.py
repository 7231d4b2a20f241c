"""KenLM's own test models and expectations (lm/model_test.cc of github kpu/kenlm, run on its
lm/test.arpa and lm/test_nounk.arpa, copied to tests/data/kenlm/), through lmkit's sentence API,
and the kenlm module side by side on the same files."""
from pathlib import Path

import kenlm
import pytest

from lmkit.ngram import NgramModel

DATA = Path(__file__).parent.parent / "data" / "kenlm"


@pytest.fixture(scope="module")
def test_arpa():
    return NgramModel.load(DATA / "test.arpa", quiet=True)


@pytest.fixture(scope="module")
def nounk_arpa():
    return NgramModel.load(DATA / "test_nounk.arpa", quiet=True)


def check(model, sentence, expected, bos, eos=False, lengths=True):
    got = list(model.full_scores(sentence, bos=bos, eos=eos))
    assert [p for p, _, _ in got] == pytest.approx([p for p, _ in expected], abs=1e-3 * 1.0)
    if lengths:
        assert [n for _, n, _ in got] == [n for _, n in expected]


def test_continuation(test_arpa):   # model_test.cc: Continuation
    check(test_arpa, "looking on a little the biarritz not_found more .",
          [(-0.484652, 2), (-0.348837, 3), (-0.0155266, 4), (-0.00306122, 5), (-4.04005, 1),
           (-1.9889, 1), (-2.29666, 1), (-1.20632 - 20.0, 1), (-0.51363, 2), (-0.0191651, 3)],
          bos=True, eos=True)
    check(test_arpa, "looking on a little more loin",
          [(-0.484652, 2), (-0.348837, 3), (-0.0155266, 4), (-0.00306122, 5), (-0.00181395, 5),
           (-0.0432557, 5)], bos=True)


@pytest.mark.parametrize("word, expected", [
    ("looking", (-0.4846522, 2)),
    (",", (-1.383514 + -0.4149733, 1)),                  # , probability plus <s> backoff
    ("this_is_not_found", (-1.995635 + -0.4149733, 1)),  # <unk> probability plus <s> backoff
])
def test_starters(test_arpa, word, expected):   # model_test.cc: Starters
    check(test_arpa, word, [expected], bos=True)


def test_blanks_probabilities(test_arpa):   # model_test.cc: Blanks
    check(test_arpa, "also would consider higher looking",
          [(-1.687872, 1), (-2, 2), (-3, 3), (-4, 4), (-5, 5)], bos=False)
    check(test_arpa, "also would consider not_found",
          [(-1.687872, 1), (-2, 2), (-3, 3), (-1.995635 - 7.0 - 0.30103, 1)], bos=False)
    # "higher looking" is not in the file: a blank, whose length counts as KenLM counts it
    check(test_arpa, "higher looking not_found",
          [(-1.509559, 1), (-1.285941 - 0.30103, 2), (-1.995635 - 0.4771212, 1)], bos=False)
    check(test_arpa, "higher looking consider",
          [(-1.509559, 1), (-1.285941 - 0.30103, 2), (-1.687872 - 0.4771212, 1)], bos=False)
    check(test_arpa, "would consider higher looking",
          [(-1.687872, 1), (-1.687872 - 0.30103, 2), (-1.509559 - 0.30103, 3), (-1.285941 - 0.30103, 4)],
          bos=False)


def test_blanks_are_never_written_back(tmp_path, test_arpa):
    assert [int(b.sum()) for b in test_arpa.blank] == [0, 5, 2, 1, 0]
    test_arpa.save(tmp_path / "again.arpa")
    again = (tmp_path / "again.arpa").read_text().split("\n")
    assert again[1:6] == ["ngram 1=37", "ngram 2=47", "ngram 3=11", "ngram 4=6", "ngram 5=4"]
    assert not any(line.endswith("\thigher looking") for line in again)
    test_arpa.save(tmp_path / "m.lmk")                  # the native format keeps the masks
    native = NgramModel.load(tmp_path / "m.lmk")
    assert [int(b.sum()) for b in native.blank] == [0, 5, 2, 1, 0]
    assert list(native.full_scores("would consider higher looking", bos=False)) == \
        list(test_arpa.full_scores("would consider higher looking", bos=False))


def test_unknowns(test_arpa):   # model_test.cc: Unknowns
    check(test_arpa, "not_found not_found2 not_found3", [(-1.995635, 1), (-15.0, 2), (-17.0, 2)], bos=False)
    check(test_arpa, "not_found however not_found3", [(-1.995635, 1), (-4, 2), (-6, 3)], bos=False)


def test_missing_unk_scores_minus_100(nounk_arpa):   # model_test.cc: NoUnkCheck
    scores = list(nounk_arpa.full_scores("not_found", bos=False, eos=False))
    assert scores == [(pytest.approx(-100.0), 1, True)]
    assert nounk_arpa.perplexity("a little not_found").perplexity < float("inf")


@pytest.mark.parametrize("name", ["test.arpa", "test_nounk.arpa"])
@pytest.mark.parametrize("sentence", ["looking on a little the biarritz not_found more .",
                                      "also would consider higher looking", "not_found however not_found3",
                                      "would consider higher looking", "higher looking consider",
                                      "a little not_found", ""])
def test_same_numbers_as_the_kenlm_module(name, sentence):
    ours = NgramModel.load(DATA / name, quiet=True)
    theirs = kenlm.Model(str(DATA / name))
    for bos in (True, False):
        for eos in (True, False):
            a = list(ours.full_scores(sentence, bos=bos, eos=eos))
            b = list(theirs.full_scores(sentence, bos=bos, eos=eos))
            assert [p for p, _, _ in a] == pytest.approx([p for p, _, _ in b], abs=1e-4)
            assert [(n, o) for _, n, o in a] == [(n, o) for _, n, o in b]   # n-gram lengths, OOV flags
            assert ours.score(sentence, bos=bos, eos=eos) == pytest.approx(
                theirs.score(sentence, bos=bos, eos=eos), abs=1e-3)
    if sentence:
        assert ours.perplexity(sentence).perplexity == pytest.approx(theirs.perplexity(sentence), rel=1e-4)


@pytest.mark.parametrize("name", ["test.arpa", "test_nounk.arpa"])
def test_stateful_calls_equal_the_kenlm_module(name):
    from lmkit.ngram import State
    ours = NgramModel.load(DATA / name, quiet=True)
    theirs = kenlm.Model(str(DATA / name))
    words = ["looking", "on", "a", "little", "the", "biarritz", "not_found", "more", ".", "also", "would", "consider", "higher", "looking", "</s>"]
    for start in ("BeginSentenceWrite", "NullContextWrite"):
        a, a2, b, b2 = State(), State(), kenlm.State(), kenlm.State()
        getattr(ours, start)(a)
        getattr(theirs, start)(b)
        for w in words:
            x = ours.BaseFullScore(a, w, a2)
            y = theirs.BaseFullScore(b, w, b2)
            assert x.log_prob == pytest.approx(y.log_prob, abs=1e-4) and (x.ngram_length, x.oov) == (y.ngram_length, y.oov), w
            assert ours.BaseScore(a, w, State()) == pytest.approx(theirs.BaseScore(b, w, kenlm.State()), abs=1e-4)
            a, a2, b, b2 = a2, a, b2, b
    assert ("looking" in ours) == ("looking" in theirs) and ("zzz" in ours) == ("zzz" in theirs)
    s1, s2 = State(), State()
    ours.BeginSentenceWrite(s1)
    ours.BeginSentenceWrite(s2)
    assert s1 == s2 and hash(s1) == hash(s2) and len({s1, s2}) == 1
