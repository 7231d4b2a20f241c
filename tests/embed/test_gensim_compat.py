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
        mine = ours.evaluate_pairs(path)
        assert mine["pearson"] == pytest.approx(pearson[0], abs=1e-6)
        # float32 cosines can swap the ranks of near-equal pairs between the two implementations
        assert mine["spearman"] == pytest.approx(spearman[0], abs=1e-4)
        assert mine["oov_ratio"] * 100 == pytest.approx(oov, abs=1e-6)
        # gensim's own call and result shape, p-values included (scipy's, through gensim)
        (p, p_p), (s, s_p), o = ours.evaluate_word_pairs(path)
        assert (p, s, o) == (mine["pearson"], mine["spearman"], mine["oov_ratio"] * 100)
        assert p_p == pytest.approx(pearson[1], rel=1e-5)
        assert s_p == pytest.approx(spearman[1], rel=2e-2)        # from the same (near-equal) rho


def test_correlation_p_values_equal_scipys():
    """The p-values of evaluate_word_pairs against scipy.stats (gensim's dependency), which
    gensim reports: pearsonr's exact beta distribution, over small and large n."""
    from scipy import stats

    from lmkit.embed.evaluate import correlation_p_value
    for n in (3, 5, 10, 50, 353, 999):
        for r in (-0.99, -0.5, -0.1, 0.0, 0.05, 0.3, 0.7, 0.999):
            half = n / 2 - 1
            want = 2 * stats.beta(half, half, loc=-1, scale=2).sf(abs(r))
            assert correlation_p_value(r, n) == pytest.approx(want, rel=1e-9, abs=1e-300)
    x = np.random.default_rng(3).standard_normal((2, 40))
    r, p = stats.pearsonr(x[0], x[1])
    assert correlation_p_value(r, 40) == pytest.approx(p, rel=1e-9)
