"""Files and figures checked with gensim's own reader and evaluation functions."""
import numpy as np
import pytest

from lmkit.embed import KeyedVectors

gensim = pytest.importorskip("gensim", reason="gensim is in the 'test' extra")
from gensim.models import KeyedVectors as GensimKV  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_our_files(tmp_path, brown_model, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    brown_model.wv.save_word2vec_format(path, binary=binary)
    theirs = GensimKV.load_word2vec_format(str(path), binary=binary)
    assert theirs.index_to_key == brown_model.wv.words
    np.testing.assert_allclose(theirs.vectors, brown_model.wv.vectors, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("binary", [False, True])
def test_we_read_gensims_files(tmp_path, brown_model, binary):
    theirs = GensimKV(vector_size=brown_model.wv.dim)
    theirs.add_vectors(brown_model.wv.words, np.asarray(brown_model.wv.vectors))
    path = tmp_path / ("g.bin" if binary else "g.txt")
    theirs.save_word2vec_format(str(path), binary=binary)
    ours = KeyedVectors.load_word2vec_format(path)   # format detected from the content
    assert ours.words == theirs.index_to_key
    np.testing.assert_allclose(ours.vectors, theirs.vectors, rtol=1e-5, atol=1e-6)


def test_evaluation_equals_gensims(brown_model):
    ours = brown_model.wv
    theirs = GensimKV(vector_size=ours.dim)
    theirs.add_vectors(ours.words, np.asarray(ours.vectors))
    qa = datapath("questions-words.txt")
    score, sections = theirs.evaluate_word_analogies(qa, restrict_vocab=30000)
    result = ours.evaluate_analogies(qa, restrict_vocab=30000)
    assert result["accuracy"] == pytest.approx(score, abs=1e-9)
    total = [s for s in sections if s["section"] == "Total accuracy"][0]
    assert result["correct"] == len(total["correct"])
    for path in (datapath("wordsim353.tsv"), datapath("simlex999.txt")):
        pearson, spearman, oov = theirs.evaluate_word_pairs(path)
        mine = ours.evaluate_word_pairs(path)
        assert mine["pearson"] == pytest.approx(pearson[0], abs=1e-6)
        # float32 cosines can swap the ranks of near-equal pairs between the two implementations
        assert mine["spearman"] == pytest.approx(spearman[0], abs=1e-4)
        assert mine["oov_ratio"] * 100 == pytest.approx(oov, abs=1e-6)
