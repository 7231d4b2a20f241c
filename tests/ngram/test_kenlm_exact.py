"""lmkit's modified Kneser-Ney against KenLM's lmplz: every probability and backoff, and
the test perplexities lmplz + query reported."""
import hashlib

import numpy as np
import pytest

from lmkit import Corpus, Tokenizer
from lmkit.ngram import NgramModel
from lmkit.ngram.arpa import ngram_strings

from ..conftest import TEST_DATA

WS = Tokenizer("whitespace")


@pytest.fixture(scope="module")
def o3(ts_split):
    return NgramModel.train(Corpus(ts_split[0], WS, quiet=True), order=3, smoothing="mkn", quiet=True)


def test_split_is_the_reference_split(ts_split):
    digest = hashlib.sha256(ts_split[0].read_bytes()).hexdigest()
    assert digest.startswith("dc732716f718")


def _table(model, k):
    texts = ngram_strings(model.vocab.itos, model.ctx, model.word)[k]
    bo = model.log_backoffs[k] if len(model.log_backoffs[k]) else np.zeros(len(texts), np.float32)
    return dict(zip(texts, zip(model.log_probs[k].tolist(), bo.tolist())))


def test_every_ngram_probability_and_backoff_equals_lmplz(o3):
    ref = NgramModel.load(TEST_DATA / "lmplz.tinyshakespeare.o3.arpa.gz")
    assert o3.sizes == ref.sizes == [24113, 109429, 154703]
    for k in range(3):
        ours, theirs = _table(o3, k), _table(ref, k)
        assert ours.keys() == theirs.keys()
        grams = list(ours)
        a = np.array([ours[g] for g in grams])
        b = np.array([theirs[g] for g in grams])
        assert np.abs(a - b).max() < 1e-5, f"order {k + 1}"


def test_discounts_equal_lmplz(ts_split):
    model = NgramModel.train(Corpus(ts_split[0], WS, quiet=True), order=5, quiet=True)
    printed = [[0.688247, 1.06568, 1.38849], [0.839893, 1.17, 1.2509], [0.936855, 1.30261, 1.38394],
               [0.980681, 1.47162, 1.67207], [0.992829, 1.79796, 1.97514]]
    np.testing.assert_allclose(model.meta["discounts"], printed, atol=1e-5)


@pytest.mark.parametrize("order, ppl, ppl_excl", [(3, 434.7046263157301, 272.45415090337184),
                                                  (5, 433.7114338557923, 271.90375332809646)])
def test_test_perplexity_equals_kenlm_query(ts_split, order, ppl, ppl_excl):
    model = NgramModel.train(Corpus(ts_split[0], WS, quiet=True), order=order, quiet=True)
    result = model.perplexity(Corpus(ts_split[1], WS, quiet=True))
    assert (result.n_oov, result.n_tokens, result.n_sentences) == (1604, 23617, 3277)
    assert result.perplexity == pytest.approx(ppl, rel=1e-5)
    assert result.perplexity_excl_oov == pytest.approx(ppl_excl, rel=1e-5)


def test_lmplz_arpa_scores_like_kenlm_perplexity(ts_split):
    ref = NgramModel.load(TEST_DATA / "lmplz.tinyshakespeare.o3.arpa.gz")
    result = ref.perplexity(Corpus(ts_split[1], WS, quiet=True))
    assert result.perplexity == pytest.approx(434.7046263157301, rel=1e-5)
    assert result.perplexity_excl_oov == pytest.approx(272.45415090337184, rel=1e-5)


def test_brown_pruned_perplexity_equals_lmplz(brown_split):
    """lmplz -o 3 --prune 0 1 1 on the Brown split, scored by KenLM's query."""
    model = NgramModel.train(Corpus(brown_split[0], WS, quiet=True), order=3, prune=[0, 1, 1], quiet=True)
    result = model.perplexity(Corpus(brown_split[1], WS, quiet=True))
    assert (result.n_oov, result.n_tokens) == (2767, 121419)
    assert result.perplexity == pytest.approx(362.0941377037722, rel=1e-5)
    assert result.perplexity_excl_oov == pytest.approx(300.28610366954797, rel=1e-5)
    unpruned = NgramModel.train(Corpus(brown_split[0], WS, quiet=True), order=3, quiet=True)
    assert unpruned.sizes == [53394, 419649, 798820]  # lmplz's counts
    assert model.sizes[0] == 53394 and model.sizes[1] < 419649 and model.sizes[2] < 798820
