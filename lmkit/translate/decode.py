"""Decoding: batched greedy search and beam search with a length penalty."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import BOS_ID, EOS_ID
from .model import Seq2Seq


@dataclass
class Hypothesis:
    tokens: list[int]          # target ids, without <s> and </s>
    score: float               # log probability (natural log), </s> included
    attention: np.ndarray      # [len(tokens) + 1, S]: attention of each emitted token


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    z = x - m
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def greedy(model: Seq2Seq, src, src_mask, max_len: np.ndarray) -> list[Hypothesis]:
    """Greedy decoding of a batch; row r stops at </s> or after max_len[r] tokens."""
    enc, keys, s, _ = model.encode(src, src_mask)
    B = src.shape[0]
    y = np.full(B, BOS_ID, dtype=np.int64)
    done = np.zeros(B, bool)
    tokens = [[] for _ in range(B)]
    scores = np.zeros(B)
    atts = [[] for _ in range(B)]
    for t in range(int(max_len.max())):
        logits, s, alpha = model.decode_step(y, s, enc, keys, src_mask)
        logp = _log_softmax(logits.astype(np.float64))
        y = logp.argmax(axis=1)
        for r in np.flatnonzero(~done):
            scores[r] += logp[r, y[r]]
            atts[r].append(alpha[r])
            if y[r] == EOS_ID or len(tokens[r]) >= max_len[r]:
                done[r] = True
            else:
                tokens[r].append(int(y[r]))
        if done.all():
            break
    return [Hypothesis(tokens[r], float(scores[r]), np.array(atts[r])) for r in range(B)]


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ((5 + length) / 6) ** alpha; alpha = 0 turns it off."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(model: Seq2Seq, src, src_mask, beam: int = 5, alpha: float = 1.0,
                max_len: int = 100) -> Hypothesis:
    """Beam search for one source sentence (src [1, S]).

    Finished hypotheses are set aside; the search stops only when no open hypothesis can
    still beat the best finished one under the length penalty (its log probability can only
    fall, and the penalty can at most grow to that of ``max_len`` tokens), or at ``max_len``.
    """
    enc, keys, s, _ = model.encode(src, src_mask)
    S = src.shape[1]
    hyps = [([], 0.0, [])]            # tokens, log prob, attention rows
    states = s
    finished: list[Hypothesis] = []
    best_final = -np.inf
    for step in range(max_len + 1):
        k = len(hyps)
        y = np.array([h[0][-1] if h[0] else BOS_ID for h in hyps], dtype=np.int64)
        logits, new_states, alpha_att = model.decode_step(
            y, states, np.repeat(enc, k, axis=0), np.repeat(keys, k, axis=0), np.repeat(src_mask, k, axis=0))
        logp = _log_softmax(logits.astype(np.float64))
        if step == max_len:           # out of room: only </s> may follow
            mask = np.full(logp.shape[1], -np.inf)
            mask[EOS_ID] = 0.0
            logp = logp + mask
        cand = (np.array([h[1] for h in hyps])[:, None] + logp).ravel()
        top = np.argsort(-cand, kind="stable")[: 2 * beam]
        next_hyps, next_rows = [], []
        for flat in top:
            r, w = divmod(int(flat), logp.shape[1])
            score = float(cand[flat])
            if not np.isfinite(score):
                continue
            tokens, _, att = hyps[r]
            att = att + [alpha_att[r]]
            if w == EOS_ID:
                norm = score / length_penalty(len(tokens) + 1, alpha)
                finished.append(Hypothesis(list(tokens), score, np.array(att)))
                finished[-1].normalized = norm
                best_final = max(best_final, norm)
            else:
                next_hyps.append((tokens + [w], score, att))
                next_rows.append(r)
            if len(next_hyps) == beam:
                break
        if not next_hyps:
            break
        # can any open hypothesis still win? its score only falls; the penalty at most grows
        best_open = max(h[1] for h in next_hyps) / length_penalty(max_len + 1, alpha) if alpha > 0 \
            else max(h[1] for h in next_hyps)
        if finished and best_open <= best_final:
            break
        hyps = next_hyps
        states = new_states[np.array(next_rows)]
    if not finished:
        tokens, score, att = max(hyps, key=lambda h: h[1])
        return Hypothesis(tokens, score, np.array(att).reshape(-1, S))
    return max(finished, key=lambda h: h.normalized)
