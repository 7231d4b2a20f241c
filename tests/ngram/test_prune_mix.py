import numpy as np
import pytest

from lmkit import ConfigError, Corpus, Tokenizer
from lmkit.cli.main import main
from lmkit.ngram import (
    NgramModel,
    best_mix_weights,
    entropy_deltas,
    mix_models,
    prune_model,
)

WS = Tokenizer("whitespace")


@pytest.fixture(scope="module")
def models(ts_split):
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()
    a = NgramModel.train([ln.split() for ln in lines[:12000]], order=3, quiet=True)
    b = NgramModel.train([ln.split() for ln in lines[12000:24000]], order=2, smoothing="wb", quiet=True)
    return a, b


def _sums(model, histories):
    cand = np.array([i for i in range(len(model.vocab)) if i != 1], dtype=np.int32)
    return [model._next_word_probs(list(h), cand).sum() for h in histories]


HISTORIES = (["<s>"], ["<s>", "First"], ["the"], ["of", "the"], ["zzz", "qqq"])


def test_entropy_pruning_shrinks_sums_to_one_and_costs_little(models, ts_split):
    full = models[0]
    test = Corpus(ts_split[1], WS, quiet=True)
    base = full.perplexity(test).perplexity
    previous = base
    for threshold in (1e-8, 1e-7, 1e-6):
        pruned = prune_model(full, threshold=threshold)
        assert pruned.sizes[0] == full.sizes[0] and sum(pruned.sizes) < sum(full.sizes)
        np.testing.assert_allclose(_sums(pruned, HISTORIES), 1.0, atol=1e-5)
        ppl = pruned.perplexity(test).perplexity
        assert previous <= ppl < base * 1.15
        previous = ppl


def test_entropy_delta_equals_the_relative_entropy_of_removing_that_ngram(models):
    """Stolcke's closed form against the definition: remove one bigram, renormalise, and sum
    P(h) p(w'|h) ln(p(w'|h) / p'(w'|h)) over the whole vocabulary."""
    model = NgramModel.train([s.split() for s in ["the cat sat", "the dog sat", "a cat ran", "the cat ran",
                                                  "a dog sat down", "the end"]] * 3, order=2, smoothing="wb")
    deltas = entropy_deltas(model)[1]
    cand = np.array([i for i in range(len(model.vocab)) if i != 1], dtype=np.int32)
    the = model.vocab["the"]
    rows = np.flatnonzero(model.ctx[1] == the)
    assert len(rows) >= 3
    for r in rows:
        keep = [np.ones(model.sizes[0], bool), np.ones(model.sizes[1], bool)]
        keep[1][r] = False
        pruned = model.subset(keep)
        pruned.renormalize_backoffs()
        p = model._next_word_probs(["the"], cand)
        q = pruned._next_word_probs(["the"], cand)
        p_h = 10.0 ** float(model.log_probs[0][the])
        expected = p_h * float((p * np.log(p / q)).sum())
        assert deltas[r] == pytest.approx(expected, rel=1e-3, abs=1e-9)


def test_target_size(models):
    pruned = prune_model(models[0], target_size=20000)
    assert 20000 <= sum(pruned.sizes[1:]) < 24000   # contexts of kept n-grams stay too
    with pytest.raises(ConfigError, match="exactly one"):
        prune_model(models[0])


def test_em_weights_and_mixture(models, ts_split):
    a, b = models
    test = Corpus(ts_split[1], WS, quiet=True)
    weights, ppl = best_mix_weights([a, b], test)
    assert weights.sum() == pytest.approx(1.0) and (weights > 0.05).all()
    assert ppl < min(a.perplexity(test).perplexity, b.perplexity(test).perplexity)
    mixed = mix_models([a, b], weights)
    np.testing.assert_allclose(_sums(mixed, HISTORIES), 1.0, atol=1e-5)
    assert mixed.perplexity(test).perplexity < min(a.perplexity(test).perplexity, b.perplexity(test).perplexity)


def test_mixing_a_model_with_itself_changes_nothing(models):
    a = models[0]
    mixed = mix_models([a, a], [0.5, 0.5])
    for sent in ["First Citizen: speak.", "the king is dead", "zzz qqq"]:
        assert mixed.score(sent) == pytest.approx(a.score(sent), abs=1e-4)


def test_cli_prune_and_mix(tmp_path, models, ts_split, capsys):
    a, b = models
    a.save(tmp_path / "a.lmk")
    b.save(tmp_path / "b.arpa")
    assert main(["-q", "ngram", "prune", str(tmp_path / "a.lmk"), "--threshold", "1e-7",
                 "-o", str(tmp_path / "p.arpa")]) == 0
    assert sum(NgramModel.load(tmp_path / "p.arpa").sizes) < sum(a.sizes)
    assert main(["-q", "ngram", "mix", str(tmp_path / "a.lmk"), str(tmp_path / "b.arpa"),
                 "--heldout", str(ts_split[1]), "-o", str(tmp_path / "m.lmk")]) == 0
    weights = [float(w) for w in capsys.readouterr().out.split()]
    assert sum(weights) == pytest.approx(1.0, abs=1e-5)
    assert main(["-q", "ngram", "mix", str(tmp_path / "a.lmk"), str(tmp_path / "b.arpa"),
                 "-o", str(tmp_path / "m.lmk")]) == 2
