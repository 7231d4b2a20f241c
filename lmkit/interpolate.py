"""Linear interpolation of any language models over one vocabulary, n-gram and neural alike:
p(w | h) = sum_i l_i p_i(w | h), token by token, with the weights given or tuned by EM on
held-out text. It sits above the model families (it loads both kinds; the families know
nothing of each other).

Every model scores the same sentences from ``<s>`` (with ``</s>``); the models must share one
word list (ids may differ) so that the same tokens are OOVs under every model.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .lm import CorpusScores, Perplexity, corpus_scores, em_weights
from .text import PAD, UNK_ID, Corpus, EncodedCorpus, encode_corpus

log = logging.getLogger(__name__)


def load_model(path: str | os.PathLike, quiet: bool | None = None):
    """A neural model folder (:class:`lmkit.neural.NeuralLM`) or an n-gram model file (ARPA,
    ``.lmk``, binary: :class:`lmkit.ngram.NgramModel`), told apart by what ``path`` is."""
    from .neural.model import is_model_folder
    if Path(path).is_dir():
        if not is_model_folder(path):
            raise ConfigError(f"{path}: a folder that is not a neural model (no config.json)")
        from .neural import NeuralLM
        return NeuralLM.load(path)
    from .ngram import NgramModel
    return NgramModel.load(path, quiet=quiet)


def _words(model) -> frozenset[str]:
    return frozenset(model.vocab.itos) - {PAD}


class InterpolatedLM:
    """A weighted mixture of language models scored token by token (the same calls as the
    models: ``score_encoded``, ``score``, ``full_scores``, ``perplexity``)."""

    def __init__(self, models: Sequence, weights: Sequence[float] | np.ndarray) -> None:
        if len(models) < 1:
            raise ConfigError("interpolation needs at least one model")
        lam = np.asarray(weights, np.float64)
        if lam.shape != (len(models),) or not np.isfinite(lam).all() or (lam < 0).any() \
                or not np.isclose(lam.sum(), 1.0, atol=1e-6):
            raise ConfigError(f"weights must be {len(models)} non-negative numbers (one per model) summing to 1")
        for i, m in enumerate(models):
            if getattr(m, "is_probability", True) is False:
                raise ConfigError(f"model {i + 1} (stupid backoff) gives scores, not probabilities; it cannot be "
                                  "interpolated")
        words = _words(models[0])
        for i, m in enumerate(models[1:], 2):
            if _words(m) != words:
                diff = sorted(words.symmetric_difference(_words(m)))
                raise ConfigError(f"model {i} has another vocabulary than model 1 ({len(diff)} words differ, e.g. "
                                  f"{diff[0]!r}); build every model with one vocabulary (--vocab FILE)")
        self.models = list(models)
        self.weights = lam
        self.vocab = models[0].vocab

    def model_probs(self, sentences: Sequence[Sequence[str]], eos: bool = True) -> tuple[np.ndarray, EncodedCorpus]:
        """p_i of every token under each model: float64 [models, tokens], and the corpus as
        encoded with the first model's vocabulary."""
        rows, first = [], None
        for m in self.models:
            enc = encode_corpus(sentences, m.vocab)
            first = first or enc
            lp, _ = m.score_encoded(enc, bos=True, eos=eos)
            rows.append(10.0 ** lp)
        assert first is not None
        return np.vstack(rows), first

    def scores(self, data, eos: bool = True) -> CorpusScores:
        """Per-token and per-sentence results of the mixture (log10)."""
        sentences = _sentences(data)
        P, enc = self.model_probs(sentences, eos)
        with np.errstate(divide="ignore"):
            lp = np.log10(self.weights @ P)
        return corpus_scores(lp, enc.ids, enc.offsets, UNK_ID, eos=eos)

    def perplexity(self, data) -> Perplexity:
        return self.scores(data).perplexity()

    def full_scores(self, sentence: str | Sequence[str], bos: bool = True,
                    eos: bool = True) -> Iterator[tuple[float, int, bool]]:
        if not bos:
            raise ConfigError("interpolated models score every sentence from <s>")
        s = self.scores([sentence], eos)
        yield from zip(s.logprobs.tolist(), [0] * len(s.logprobs), s.oov.tolist())

    def score(self, sentence: str | Sequence[str], bos: bool = True, eos: bool = True) -> float:
        return float(sum(p for p, _, _ in self.full_scores(sentence, bos, eos)))


def _sentences(data) -> list[list[str]]:
    if isinstance(data, str):
        return [data.split()]
    if isinstance(data, Corpus):
        return list(data)
    return [s.split() if isinstance(s, str) else list(s) for s in data]


def best_weights(models: Sequence, heldout: Corpus | Iterable[str | Sequence[str]], iterations: int = 200,
                 tol: float = 1e-9) -> tuple[np.ndarray, int, float]:
    """EM weights on held-out text: (weights, iterations, held-out perplexity of the mixture)."""
    if len(models) < 2:
        raise ConfigError("tuning weights needs at least two models")
    mix = InterpolatedLM(models, np.full(len(models), 1.0 / len(models)))
    P, _ = mix.model_probs(_sentences(heldout))
    if P.shape[1] == 0:
        raise ConfigError("the held-out text holds no words")
    lam, it = em_weights(P, iterations, tol)
    ppl = float(np.exp(-np.log(lam @ P).mean()))
    log.info("EM weights %s after %d iterations; held-out perplexity %.4f", np.round(lam, 4).tolist(), it, ppl)
    return lam, it, ppl
