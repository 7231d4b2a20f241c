"""The shared language-model layer: corpus_scores' per-sentence arithmetic against a naive
loop, and the n-gram model answering the LanguageModel protocol."""
import numpy as np
import pytest

from lmkit.lm import LanguageModel, corpus_scores
from lmkit.ngram import NgramModel
from lmkit.text import UNK_ID, encode_corpus

SENTS = [s.split() for s in ["the cat sat", "", "a dog zzz barked", "the the", "qqq"]]


@pytest.mark.parametrize("eos", [True, False])
def test_corpus_scores_equal_a_naive_loop(eos):
    lm = NgramModel.train([s.split() for s in ["the cat sat", "a dog barked", "the dog sat"]], order=2, quiet=True)
    enc = encode_corpus(SENTS, lm.vocab)
    lp, _ = lm.score_encoded(enc, eos=eos)
    got = corpus_scores(lp, enc.ids, enc.offsets, UNK_ID, eos=eos)
    pos = 0
    for s, sent in enumerate(SENTS):
        scores = [p for p, _, _ in lm.full_scores(sent, eos=eos)]
        oov = sum(w not in lm.vocab.stoi for w in sent)
        assert got.sentence_logprob[s] == pytest.approx(sum(scores), abs=1e-9)
        assert got.sentence_oovs[s] == oov and got.lengths[s] == len(scores) and got.starts[s] == pos
        pos += len(scores)
    ppl = got.perplexity()
    assert ppl.n_tokens == pos and ppl.n_oov == 2 and ppl.n_sentences == len(SENTS)
    assert ppl.logprob == pytest.approx(float(np.sum(lp)))


def test_ngram_model_is_a_language_model():
    lm = NgramModel.train([["a", "b"]], order=2, quiet=True)
    assert isinstance(lm, LanguageModel)
