"""nltk.lm's own test cases (nltk/test/unit/lm/test_models.py: the Lidstone, Laplace and
StupidBackoff fixtures) run against lmkit.

Same training sentences and fixed vocabulary as nltk's fixtures. Two conventions differ and
the expected values below are nltk's arithmetic redone by hand with lmkit's:
- nltk counts ``<s>`` as a vocabulary word that can be predicted (V = 8 with ``<UNK>``);
  lmkit never predicts ``<s>`` (V = 7: a b c d z <unk> </s>).
- nltk's unigram total counts the padding ``<s>`` tokens (14); lmkit's counts the words and
  one ``</s>`` per sentence (12).
Where neither convention enters (a ratio of two counts) the value is nltk's own.
"""
import math

import numpy as np
import pytest

from lmkit import ConfigError
from lmkit.ngram import NgramModel
from lmkit.text import Vocabulary

TRAIN = [["a", "b", "c", "d"], ["e", "g", "a", "d", "b", "e"]]   # nltk's training_data fixture
VOCAB = ["<unk>", "<s>", "</s>", "a", "b", "c", "d", "z"]        # its Vocabulary(..., unk_cutoff=1)
V = 7


def model(order, smoothing, discount=None):
    return NgramModel.train(TRAIN, order=order, smoothing=smoothing, discount=discount,
                            vocab=Vocabulary(VOCAB), quiet=True)


@pytest.mark.parametrize("word, context, expected", [
    ("d", ["c"], 1.1 / (1 + 0.1 * V)),      # nltk: 1.1 / 1.8 (V = 8)
    ("a", [], 2.1 / (12 + 0.1 * V)),        # nltk: 2.1 / 14.8
    ("z", [], 0.1 / (12 + 0.1 * V)),        # in the vocabulary, never seen
    ("y", [], 3.1 / (12 + 0.1 * V)),        # out of vocabulary: <unk>'s count is 3
    ("e", ["z"], 1 / V),                    # unseen context: uniform
])
def test_lidstone_bigram_scores(word, context, expected):
    assert model(2, "add", 0.1).prob(word, context) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("word, context, expected", [
    ("d", ["c"], 1.1 / (1 + 0.1 * V)),
    ("e", ["c"], 0.1 / (1 + 0.1 * V)),       # never after c
    ("d", ["b", "c"], 1.1 / (1 + 0.1 * V)),  # trigram counts now
    ("e", ["b", "c"], 0.1 / (1 + 0.1 * V)),
])
def test_lidstone_trigram_scores(word, context, expected):
    assert model(3, "add", 0.1).prob(word, context) == pytest.approx(expected, rel=1e-6)


def test_lidstone_perplexity_of_nltk_text():
    # nltk's text: <s> a c <UNK> d c </s>, scored as bigrams
    m = model(2, "add", 0.1)
    expected = [1.1 / (2 + 0.7),    # a | <s>: once out of two sentence starts
                0.1 / (2 + 0.7),    # c | a: a is followed twice (b, d)
                0.1 / (1 + 0.7),    # <unk> | c
                0.1 / (3 + 0.7),    # d | <unk>: <unk> is followed three times (g, a, </s>)
                0.1 / (2 + 0.7),    # c | d
                0.1 / (1 + 0.7)]    # </s> | c
    got = [10 ** p for p, _, _ in m.full_scores("a c y d c")]
    assert got == pytest.approx(expected, rel=1e-6)
    ppl = m.perplexity(["a c y d c"]).perplexity
    assert ppl == pytest.approx(math.exp(-np.mean(np.log(expected))), rel=1e-6)


@pytest.mark.parametrize("word, context, expected", [
    ("d", ["c"], 2 / (1 + V)),              # nltk: 2 / 9
    ("a", [], 3 / (12 + V)),                # nltk: 3 / 22
    ("z", [], 1 / (12 + V)),
    ("y", [], 4 / (12 + V)),
])
def test_laplace_bigram_scores(word, context, expected):
    assert model(2, "add").prob(word, context) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("context", [["a"], ["c"], ["<s>"], ["b"], ["<unk>"], ["d"], ["e"], ["r"], ["w"],
                                     ["<s>", "a"], ["a", "b"], ["z", "z"]])
def test_additive_sums_to_one(order, context):
    # nltk's test_sums_to_1 contexts, plus two-word ones
    m = model(order, "add", 0.1)
    cand = np.array([i for i in range(len(m.vocab)) if i != 1], dtype=np.int32)
    assert m._next_word_probs(list(context), cand).sum() == pytest.approx(1.0, abs=1e-6)   # float32 storage


@pytest.mark.parametrize("word, context, expected", [
    ("c", ["b"], 1 / 2),                    # nltk's value: c follows b once out of twice
    ("c", ["a", "b"], 1.0),                 # c always follows a b
    ("c", ["z", "b"], 0.4 * (1 / 2)),       # 'z b' never seen: one 0.4 step (nltk's value)
    ("c", ["z", "z"], 0.4 * 0.4 * 1 / 12),  # two steps down to the unigram (lmkit's total: 12)
    ("c", [], 1 / 12),
])
def test_stupid_backoff_trigram_scores(word, context, expected):
    assert model(3, "stupid").prob(word, context) == pytest.approx(expected, rel=1e-6)


def test_additive_model_is_not_written_as_arpa(tmp_path):
    m = model(2, "add")
    with pytest.raises(ConfigError, match="add-backoff"):
        m.save(tmp_path / "m.arpa")
    m.save(tmp_path / "m.lmk")
    again = NgramModel.load(tmp_path / "m.lmk")
    assert again.prob("e", ["z"]) == pytest.approx(1 / V)
    assert again.prob("d", ["c"]) == pytest.approx(2 / (1 + V))
