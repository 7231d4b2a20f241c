"""sacreBLEU's own test cases (test/test_bleu.py and test/test_chrf.py of github mjpost/sacrebleu,
Apache 2.0) run against lmkit's BLEU and chrF, and the same calls side by side with the
installed sacrebleu."""
import pytest

from lmkit.translate.bleu import (
    bleu_from_statistics,
    corpus_bleu,
    corpus_chrf,
    sentence_bleu,
    sentence_chrf,
)

sacrebleu = pytest.importorskip("sacrebleu", reason="sacrebleu is in the 'test' extra")
EPSILON = 1e-8


def raw_corpus_bleu(hyps, refs, floor=0.01):   # sacreBLEU's raw_corpus_bleu
    return corpus_bleu(hyps, refs, tokenize="none", smooth_method="floor", smooth_value=floor,
                       use_effective_order=True)


@pytest.mark.parametrize("hyps, refs, expected", [
    (["this is a test", "another test"], [["ref1", "ref2"]], 0.0),   # 0 with no match (#141)
    (["this is a test"], [["this is a test"]], 1.0),
    (["this is a fest"], [["this is a test"]], 0.223606797749979)])
def test_raw_bleu(hyps, refs, expected):
    assert abs(raw_corpus_bleu(hyps, refs).score / 100 - expected) < EPSILON


REFS = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]


@pytest.mark.parametrize("hyps, kwargs, expected", [
    (HYPS, {}, 48.530827), (("", "", ""), {}, 0.0), (HYPS, {"tokenize": "none"}, 49.1919566),
    (HYPS, {"tokenize": "13a"}, 48.530827), (HYPS, {"tokenize": "intl"}, 43.91623493),
    (HYPS, {"smooth_method": "none"}, 48.530827)])
def test_corpus_bleu_two_references(hyps, kwargs, expected):
    assert abs(corpus_bleu(list(hyps), REFS, **kwargs).score - expected) < 1e-4


@pytest.mark.parametrize("hyps, refs, expected", [
    (["test"], [["a test"]], 0.3678794411714425), (["a test"], [["a test"]], 1.0),
    (["a little test"], [["a test"]], 0.03218297948685433)])
def test_effective_order(hyps, refs, expected):
    assert abs(raw_corpus_bleu(hyps, refs).score / 100 - expected) < EPSILON


def test_statistics():
    r = raw_corpus_bleu(["am I am a character sequence"], [["I am a symbol string sequence a a"]])
    assert (r.counts, r.totals) == ([4, 2, 1, 0], [6, 5, 4, 3])


def test_scoring_and_offset():
    assert abs(bleu_from_statistics([9, 7, 5, 3], [10, 8, 6, 4], 11, 11).score / 100 - 0.8375922397) < EPSILON
    hyp, ref = ["am I am a character sequence"], [["I am a symbol string sequence a a"]]
    assert abs(raw_corpus_bleu(hyp, ref, 0.0).score / 100 - 0) < EPSILON
    assert abs(raw_corpus_bleu(hyp, ref, None).score / 100 - 0.1555722182) < EPSILON


@pytest.mark.parametrize("stats, offset", [
    (([0, 0, 0, 0], [4, 4, 2, 1], 0, 1), 0.0), (([0, 0, 0, 0], [10, 11, 12, 0], 14, 10), 0.0),
    (([0, 0, 0, 0], [0, 0, 0, 0], 0, 0), 0.0), (([6, 5, 4, 0], [6, 5, 4, 3], 6, 6), 0.0),
    (([0, 0, 0, 0], [0, 0, 0, 0], 0, 0), 0.1), (([0, 0, 0, 0], [0, 0, 0, 0], 1, 5), 0.01)])
def test_degenerate_statistics(stats, offset):
    assert bleu_from_statistics(*stats, smooth_method="floor", smooth_value=offset).score == 0.0


@pytest.mark.parametrize("order, expected", [(1, "77.65"), (2, "60.50"), (3, "53.93"), (4, "48.53"),
                                             (5, "46.14"), (6, "43.28")])
def test_max_ngram_order(order, expected):
    assert f"{corpus_bleu(HYPS, REFS, max_order=order).score:.2f}" == expected


def test_no_match_is_zero_for_every_smoothing():   # the bug report's case, and sacreBLEU's #141
    for smooth in ("exp", "floor", "add-k", "none"):
        assert corpus_bleu(["this is a cat"], ["okay thanks"], smooth_method=smooth).score == 0.0
        assert sentence_bleu("this is a cat", ["okay thanks"], smooth_method=smooth).score == 0.0


CHRF_CASES = [
    (["abcdefg"], ["hijklmnop"], 0.0), (["a"], ["b"], 0.0), ([""], ["b"], 0.0), ([""], ["ref"], 0.0),
    ([""], ["reference"], 0.0), (["aa"], ["ab"], 8.3333), (["a", "b"], ["a", "c"], 8.3333),
    (["a"], ["a"], 16.6667), (["a b c"], ["a b c"], 50.0), (["a b c"], ["abc"], 50.0),
    ([" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."],
     ["risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."], 63.361730),
    ([" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "],
     ["Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."], 64.1302698),
    (["Niemand hat die Absicht, eine Mauer zu errichten"], ["Niemand hat die Absicht, eine Mauer zu errichten"], 100.0)]


@pytest.mark.parametrize("hyps, refs, expected", CHRF_CASES)
def test_chrf(hyps, refs, expected):
    assert abs(corpus_chrf(hyps, [refs], beta=3, eps_smoothing=True).score - expected) < 1e-4


@pytest.mark.parametrize("hyps, refs, expected", [
    (["a"], ["a"], 100.0), ([""], ["reference"], 0.0), (["a b c"], ["a b c"], 100.0), (["a b c"], ["abc"], 100.0),
    ([""], ["c"], 0.0), (["a", "b"], ["a", "c"], 50.0), (["aa"], ["ab"], 25.0)])
def test_chrf_effective_order(hyps, refs, expected):
    assert abs(corpus_chrf(hyps, [refs], beta=3).score - expected) < 1e-4


@pytest.mark.parametrize("hyps, refs, expected", [
    (["Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."],
     ["Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."], 67.3481606),
    (["risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."],
     ["risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."], 65.2414427)])
def test_chrf_keep_whitespace(hyps, refs, expected):
    assert abs(corpus_chrf(hyps, [refs], beta=3, whitespace=True).score - expected) < 1e-4


@pytest.mark.parametrize("hyp, refs, expected", [
    ("Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
     ["Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře."], 39.14078509),
    ("Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
     ["A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři."], 31.22557079),
    ("Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
     ["Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli."], 57.15704367)])
def test_chrf_sentence_level(hyp, refs, expected):
    assert abs(sentence_chrf(hyp, refs, eps_smoothing=True).score - expected) < 1e-4


@pytest.mark.parametrize("tokenize", ["13a", "none", "intl", "char"])
@pytest.mark.parametrize("smooth", ["exp", "floor", "add-k", "none"])
@pytest.mark.parametrize("lowercase", [False, True])
def test_bleu_side_by_side(tokenize, smooth, lowercase):
    a = corpus_bleu(HYPS, REFS, tokenize=tokenize, smooth_method=smooth, lowercase=lowercase)
    b = sacrebleu.corpus_bleu(HYPS, REFS, tokenize=tokenize, smooth_method=smooth, lowercase=lowercase)
    assert a.score == pytest.approx(b.score, abs=1e-9)
    assert (a.sys_len, a.ref_len) == (b.sys_len, b.ref_len)
    if smooth != "add-k":      # sacreBLEU reports add-k's smoothed counts; lmkit the true ones
        assert (a.counts, a.totals) == (b.counts, b.totals)
    for hyp, r1, r2 in zip(HYPS, *REFS):
        s = sentence_bleu(hyp, [r1, r2], tokenize=tokenize, smooth_method=smooth, lowercase=lowercase)
        t = sacrebleu.sentence_bleu(hyp, [r1, r2], tokenize=tokenize, smooth_method=smooth, lowercase=lowercase)
        assert s.score == pytest.approx(t.score, abs=1e-9)


@pytest.mark.parametrize("word_order", [0, 2])
@pytest.mark.parametrize("lowercase", [False, True])
def test_chrf_side_by_side(word_order, lowercase):
    a = corpus_chrf(HYPS, REFS, word_order=word_order, lowercase=lowercase)
    from sacrebleu.metrics import CHRF
    b = CHRF(word_order=word_order, lowercase=lowercase).corpus_score(HYPS, REFS)
    assert a.score == pytest.approx(b.score, abs=1e-9)
    for hyp, r1, r2 in zip(HYPS, *REFS):
        assert sentence_chrf(hyp, [r1, r2], word_order=word_order).score == pytest.approx(
            sacrebleu.sentence_chrf(hyp, [r1, r2], word_order=word_order).score, abs=1e-9)


@pytest.mark.slow
def test_cli_matches_the_sacrebleu_cli(tmp_path):
    import subprocess
    import sys

    from ..conftest import ROOT
    for name, lines in (("hyp", HYPS), ("r1", REFS[0]), ("r2", REFS[1]), ("bad", ["okay thanks"] * 3)):
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    sb = [sys.executable, "-m", "sacrebleu"]
    ours = [sys.executable, str(ROOT / "bin" / "lmkit"), "translate", "bleu"]
    for opts in (["-tok", "intl"], ["-s", "floor", "--smooth-value", "0.2", "-lc"], ["-m", "chrf", "-cw", "2"]):
        a = subprocess.run(ours + [str(tmp_path / "hyp"), str(tmp_path / "r1"), str(tmp_path / "r2")] + opts,
                           capture_output=True, text=True)
        b = subprocess.run(sb + [str(tmp_path / "r1"), str(tmp_path / "r2"), "-i", str(tmp_path / "hyp"),
                                 "-b", "-w", "2"] + opts, capture_output=True, text=True)
        assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
        assert a.stdout.split("=")[1].split()[0] == b.stdout.strip(), (opts, a.stdout, b.stdout)
    a = subprocess.run(ours + [str(tmp_path / "bad"), str(tmp_path / "r1")], capture_output=True, text=True)
    assert a.stdout.startswith("BLEU = 0.00 ")     # no match at all: 0 (sacreBLEU #141)
