"""Linear interpolation of whole models: mixture weights tuned by EM on held-out text
(SRILM's compute-best-mix) and a static merged backoff model (SRILM's ``ngram -mix-lm``)."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np

from .._arrays import sorted_union
from ..errors import ConfigError
from ..lm import em_weights
from ..text import BOS_ID, DEFAULT_SPECIALS, Corpus, Vocabulary, encode_corpus
from .model import NgramModel

log = logging.getLogger(__name__)


def heldout_probs(models: Sequence[NgramModel], heldout: Corpus | Iterable[Sequence[str]]) -> np.ndarray:
    """p_i(w | h) of every held-out word (and </s>) under each model: float64 [n_models, n_words]."""
    if isinstance(heldout, str):
        heldout = [heldout]      # one sentence, as everywhere a sentence or a corpus is accepted
    if isinstance(heldout, Corpus):
        sentences = list(heldout)
    else:
        sentences = [s.split() if isinstance(s, str) else list(s) for s in heldout]
    rows = []
    for m in models:
        lp, _ = m.score_encoded(encode_corpus(sentences, m.vocab))
        rows.append(10.0 ** lp)
    return np.vstack(rows)


def best_mix_weights(models: Sequence[NgramModel], heldout, *, iterations: int = 100,
                     tol: float = 1e-7) -> tuple[np.ndarray, float]:
    """EM for the weights l_i maximising sum_w log sum_i l_i p_i(w|h) on held-out text.
    Returns (weights, held-out perplexity of the dynamic mixture)."""
    if len(models) < 2:
        raise ConfigError("mixing needs at least two models")
    if any(not m.is_probability for m in models):
        raise ConfigError("stupid-backoff scores cannot be mixed as probabilities")
    P = heldout_probs(models, heldout)
    if P.shape[1] == 0:
        raise ConfigError("the held-out text holds no words")
    lam, iterations = em_weights(P, iterations, tol)
    ppl = float(np.exp(-np.log(lam @ P).mean()))
    log.info("mixture weights %s after %d EM iterations; held-out perplexity %.4f",
             np.round(lam, 4).tolist(), iterations, ppl)
    return lam, ppl


def mix_models(models: Sequence[NgramModel], weights: Sequence[float]) -> NgramModel:
    """One backoff model from the weighted mixture of several.

    Every n-gram listed by any model gets p(w|h) = sum_i l_i p_i(w|h) (each model's own
    backoff estimate where it does not list it); unigrams are renormalised over the joint
    vocabulary, and the backoff weights are recomputed so every context sums to one.
    """
    lam = np.asarray(weights, dtype=np.float64)
    bad = [i for i, m in enumerate(models) if not (m.is_probability and m.is_backoff_model)]
    if bad:
        raise ConfigError(f"model {bad[0] + 1} is not a backoff probability model (stupid backoff or "
                          "additive smoothing); a static mixture needs backoff models")
    if len(lam) != len(models) or not np.isfinite(lam).all() or (lam < 0).any() or not np.isclose(lam.sum(), 1.0):
        raise ConfigError("weights must be one non-negative number per model, summing to 1")
    words = list(DEFAULT_SPECIALS)
    seen = set(words)
    for m in models:
        for w in m.vocab.itos:
            if w not in seen:
                seen.add(w)
                words.append(w)
    vocab = Vocabulary(words, np.zeros(len(words), np.int64))
    V = np.int64(len(vocab))
    to_joint = [np.array([vocab.stoi[w] for w in m.vocab.itos], dtype=np.int64) for m in models]
    to_model = []
    for m in models:
        ids = np.array([m.vocab.stoi.get(w, m.vocab.unk_id) for w in vocab.itos], dtype=np.int32)
        to_model.append(ids)
    N = max(m.order for m in models)
    ctx_all, word_all, lp_all = [np.zeros(len(vocab), np.int64)], [np.arange(len(vocab), dtype=np.int32)], []
    # the joint id of each model's n-grams, order by order
    joint_ids = [to_joint[i].copy() for i in range(len(models))]
    grams = [np.arange(len(vocab), dtype=np.int64)[:, None]]  # word ids (joint) of each joint n-gram
    for k in range(2, N + 1):
        keys = []
        for i, m in enumerate(models):
            if m.order >= k:
                keys.append(joint_ids[i][m.ctx[k - 1]] * V + to_joint[i][m.word[k - 1]])
        union = sorted_union(*keys)
        for i, m in enumerate(models):
            if m.order >= k:
                mine = joint_ids[i][m.ctx[k - 1]] * V + to_joint[i][m.word[k - 1]]
                joint_ids[i] = np.searchsorted(union, mine)
        ctx, word = union // V, (union % V).astype(np.int32)
        ctx_all.append(ctx)
        word_all.append(word)
        grams.append(np.concatenate([grams[-1][ctx], word[:, None].astype(np.int64)], axis=1))
    for k in range(1, N + 1):
        g = grams[k - 1]
        total = np.zeros(len(g))
        for i, m in enumerate(models):
            total += lam[i] * _last_word_probs(m, to_model[i][g])
        if k == 1:
            total[BOS_ID] = 0.0
            total /= total.sum()
        with np.errstate(divide="ignore"):
            lp = np.log10(total)
        if k == 1:
            lp[BOS_ID] = 0.0
        lp_all.append(lp)
    bo_all = [np.zeros(len(w)) for w in word_all[:-1]] + [np.zeros(0)]
    mixed = NgramModel(vocab, ctx_all, word_all, lp_all, bo_all,
                       {"smoothing": "mix", "weights": lam.tolist(),
                        "components": [m.meta.get("smoothing", "arpa") for m in models]},
                       models[0].tokenizer)
    mixed.renormalize_backoffs()
    return mixed


def _last_word_probs(model: NgramModel, seqs: np.ndarray) -> np.ndarray:
    """p(last word | preceding words) of each row of ``seqs`` (model ids; a leading <s> is
    the sentence start)."""
    n, k = seqs.shape
    flat = np.ascontiguousarray(seqs.ravel().astype(np.int32))
    offsets = np.arange(n + 1, dtype=np.int64) * k
    lp, _ = model.score_encoded((flat, offsets), bos=False, eos=False)
    out = 10.0 ** lp.reshape(n, k)[:, -1]
    if k == 1:
        out[seqs[:, 0] == BOS_ID] = 0.0
    return out
