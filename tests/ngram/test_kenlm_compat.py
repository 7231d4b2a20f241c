"""Files written by lmkit read by KenLM's own reader, and the reverse."""
import pytest

from lmkit import Corpus, Tokenizer
from lmkit.ngram import NgramModel

from ..conftest import TEST_DATA

kenlm = pytest.importorskip("kenlm", reason="kenlm is in the 'test' extra")


@pytest.mark.parametrize("smoothing", ["mkn", "wb", "katz"])
def test_kenlm_reads_our_arpa_and_scores_the_same(tmp_path, ts_split, smoothing):
    model = NgramModel.train(Corpus(ts_split[0], Tokenizer("whitespace"), quiet=True), order=4,
                             smoothing=smoothing, quiet=True)
    path = tmp_path / "m.arpa"
    model.save(path)
    theirs = kenlm.Model(str(path))
    assert theirs.order == 4
    lines = ts_split[1].read_text(encoding="utf-8").splitlines()[:1500]
    for line in lines:
        assert model.score(line) == pytest.approx(theirs.score(line), abs=1e-4)
        ours, ref = list(model.full_scores(line)), list(theirs.full_scores(line))
        assert len(ours) == len(ref)
        for (p, n, oov), (q, m, qoov) in zip(ours, ref):
            assert p == pytest.approx(q, abs=1e-4) and n == m and oov == qoov


def test_lmplz_file_scores_like_kenlm(ts_split):
    path = TEST_DATA / "lmplz.tinyshakespeare.o3.arpa.gz"
    ours, theirs = NgramModel.load(path), kenlm.Model(str(path))
    for line in ts_split[1].read_text(encoding="utf-8").splitlines()[:1500]:
        assert ours.score(line) == pytest.approx(theirs.score(line), abs=1e-4)
        assert ours.score(line, bos=False, eos=False) == pytest.approx(
            theirs.score(line, bos=False, eos=False), abs=1e-4)
