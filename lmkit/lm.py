"""What every language model answers, whatever its family: the scoring protocol, and the
perplexity arithmetic on top of one batch call (log10 probabilities of a whole encoded corpus).

A family implements :meth:`LanguageModel.score_encoded` (and its sentence-level calls on top of
it); :func:`corpus_scores` turns that one call into per-sentence totals, OOV counts and the
:class:`Perplexity` that KenLM's ``query`` and SRILM's ``ngram -ppl`` report, so that n-gram
and neural models (and their interpolation) report the same figures the same way.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class Perplexity:
    """What SRILM's ``ngram -ppl`` and KenLM's ``query`` report (log10 throughout)."""
    logprob: float            # total log10 probability, OOVs included
    logprob_excl_oov: float   # total without the OOV words
    n_sentences: int
    n_tokens: int             # words + one </s> per sentence (when scored)
    n_oov: int

    @property
    def perplexity(self) -> float:
        return float(10.0 ** (-self.logprob / self.n_tokens)) if self.n_tokens else float("nan")

    @property
    def perplexity_excl_oov(self) -> float:
        n = self.n_tokens - self.n_oov
        return float(10.0 ** (-self.logprob_excl_oov / n)) if n else float("nan")


@dataclass
class CorpusScores:
    """Per-token and per-sentence results of scoring an encoded corpus."""
    logprobs: np.ndarray      # float64 [tokens scored]: words (+ </s> per sentence with eos)
    oov: np.ndarray           # bool, same length: the token is an unknown word
    starts: np.ndarray        # int64 [sentences]: index of each sentence's first score
    lengths: np.ndarray       # int64 [sentences]: scores per sentence
    sentence_logprob: np.ndarray   # float64 [sentences]
    sentence_oovs: np.ndarray      # int64 [sentences]

    def perplexity(self) -> Perplexity:
        lp = self.logprobs
        return Perplexity(float(lp.sum()), float(lp[~self.oov].sum()), len(self.lengths), len(lp),
                          int(self.oov.sum()))


def corpus_scores(logprobs: np.ndarray, ids: np.ndarray, offsets: np.ndarray, unk_id: int,
                  eos: bool = True) -> CorpusScores:
    """Per-sentence totals and OOV flags from the scores of ``score_encoded`` (``ids`` int32
    [tokens] and ``offsets`` int64 [sentences + 1] of the encoded corpus; with ``eos`` each
    sentence has one more score, its ``</s>``)."""
    n_sent = len(offsets) - 1
    words_per = np.diff(offsets)
    per_sent = words_per + (1 if eos else 0)
    starts = np.zeros(n_sent, dtype=np.int64)
    if n_sent:
        starts[1:] = np.cumsum(per_sent)[:-1]
    oov = np.zeros(len(logprobs), dtype=bool)
    shift = np.repeat(np.arange(n_sent), words_per) if eos else 0
    oov[np.arange(len(ids)) + shift] = np.asarray(ids) == unk_id
    if len(logprobs):
        sums = np.add.reduceat(logprobs, np.minimum(starts, len(logprobs) - 1))
        counts = np.add.reduceat(oov.astype(np.int64), np.minimum(starts, len(logprobs) - 1))
        sums[per_sent == 0] = 0.0
        counts[per_sent == 0] = 0
    else:
        sums, counts = np.zeros(n_sent), np.zeros(n_sent, np.int64)
    return CorpusScores(logprobs, oov, starts, per_sent.astype(np.int64), sums, counts)


def em_weights(probs: np.ndarray, iterations: int = 100, tol: float = 1e-7) -> tuple[np.ndarray, int]:
    """Mixture weights l maximising sum_t log sum_i l_i probs[i, t] (SRILM's compute-best-mix):
    EM from uniform weights until the log likelihood gains less than ``tol`` (relative).
    ``probs`` float64 [models, tokens]; returns (weights [models], iterations run)."""
    P = np.asarray(probs, np.float64)
    lam = np.full(P.shape[0], 1.0 / P.shape[0])
    prev = -np.inf
    it = 0
    for it in range(1, iterations + 1):  # noqa: B007 (it is returned)
        mix = lam @ P
        ll = float(np.log(mix).sum())
        lam = (lam[:, None] * P / mix).mean(axis=1)
        if ll - prev < tol * abs(ll):
            break
        prev = ll
    return lam, it


@runtime_checkable
class LanguageModel(Protocol):
    """The calls every lmkit language model answers (KenLM's names; log10 probabilities)."""

    order: int

    def score_encoded(self, corpus, bos: bool = True, eos: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-word log10 probabilities (and n-gram lengths or 0) of a whole encoded corpus."""
        ...

    def score(self, sentence: str | Sequence[str], bos: bool = True, eos: bool = True) -> float:
        ...

    def full_scores(self, sentence: str | Sequence[str], bos: bool = True,
                    eos: bool = True) -> Iterator[tuple[float, int, bool]]:
        ...

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        ...

    def perplexity(self, data) -> Perplexity:
        ...
