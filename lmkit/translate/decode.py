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


def _output(model: Seq2Seq, columns: np.ndarray | None):
    """(output weights or None, target id of each logit column or None)."""
    if columns is None:
        return None, None
    columns = np.asarray(columns, np.int64)
    if EOS_ID not in columns:
        raise ValueError("a decoding shortlist must include </s>")
    return model.output_columns(columns), columns


def greedy(model: Seq2Seq, src, src_mask, max_len: np.ndarray,
           columns: np.ndarray | None = None) -> list[Hypothesis]:
    """Greedy decoding of a batch; row r stops at </s> or after max_len[r] tokens.
    ``columns``: sorted target ids to decode over (a shortlist; </s> among them), else all."""
    output, ids = _output(model, columns)
    enc, keys, s, _ = model.encode(src, src_mask)
    B = src.shape[0]
    y = np.full(B, BOS_ID, dtype=np.int64)
    done = np.zeros(B, bool)
    tokens: list[list[int]] = [[] for _ in range(B)]
    scores = np.zeros(B)
    atts: list[list[np.ndarray]] = [[] for _ in range(B)]
    for _t in range(int(max_len.max()) + 1):   # the last step only closes rows at their limit
        logits, s, alpha = model.decode_step(y, s, enc, keys, src_mask, output)
        logp = _log_softmax(logits.astype(np.float64))
        col = logp.argmax(axis=1)
        y = col if ids is None else ids[col]
        for r in np.flatnonzero(~done):
            scores[r] += logp[r, col[r]]
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
    """Beam search for one source sentence (src [1, S]); see :func:`beam_search_batch`."""
    return beam_search_batch(model, src, src_mask, beam, alpha, np.array([max_len]))[0]


def beam_search_batch(model: Seq2Seq, src, src_mask, beam: int = 5, alpha: float = 1.0,
                      max_len: np.ndarray | None = None, columns: np.ndarray | None = None) -> list[Hypothesis]:
    """Beam search for a batch of sentences at once (rows b*beam .. b*beam+beam-1 of every
    decoder call belong to sentence b).

    A hypothesis that ends is set aside; a sentence's search stops only when none of its open
    hypotheses can still beat its best finished one under the GNMT length penalty (their log
    probability can only fall, and the penalty can at most grow to that of ``max_len[b]``
    tokens), or when it reaches ``max_len[b]`` tokens, where only </s> may follow.
    ``columns``: sorted target ids to decode over (a shortlist; </s> among them), else the
    whole vocabulary.
    """
    B, S = src.shape
    K = beam
    max_len = np.full(B, 100) if max_len is None else np.asarray(max_len)
    output, ids = _output(model, columns)
    eos_col = EOS_ID if ids is None else int(np.searchsorted(ids, EOS_ID))
    enc, keys, s0, _ = model.encode(src, src_mask)
    rep = np.repeat(np.arange(B), K)
    enc_k, keys_k, mask_k = enc[rep], keys[rep], src_mask[rep]
    states = s0[:, rep]
    scores = np.full((B, K), -np.inf)
    scores[:, 0] = 0.0
    tokens = np.zeros((B, K, 0), dtype=np.int64)
    atts = np.zeros((B, K, 0, S), dtype=np.float32)
    # only each sentence's best finished hypothesis is kept: it alone can be the answer, and it
    # alone decides when to stop (memory stays beam x length x source, not x every ending)
    finished: list[tuple[float, float, list[int], np.ndarray] | None] = [None] * B
    active = np.ones(B, bool)
    step = 0
    while active.any():
        y = tokens[:, :, -1].reshape(-1) if step else np.full(B * K, BOS_ID, dtype=np.int64)
        logits, new_states, alpha_att = model.decode_step(y, states, enc_k, keys_k, mask_k, output)
        logp = _log_softmax(logits.astype(np.float64)).reshape(B, K, -1)
        V = logp.shape[2]
        cand = (scores[:, :, None] + logp).reshape(B, K * V)
        next_tokens = np.zeros((B, K, step + 1), dtype=np.int64)
        next_atts = np.zeros((B, K, step + 1, S), dtype=np.float32)
        next_scores = np.full((B, K), -np.inf)
        parents = np.zeros((B, K), dtype=np.int64)
        alpha_att = alpha_att.reshape(B, K, S)
        for b in np.flatnonzero(active).tolist():
            row = cand[b]
            if step >= max_len[b]:   # out of room: only </s> may follow
                eos_scores = row.reshape(K, V)[:, eos_col]
                order = [int(k) * V + eos_col for k in np.argsort(-eos_scores, kind="stable")]
            else:
                top = np.argpartition(-row, 2 * K)[: 2 * K] if row.size > 2 * K else np.arange(row.size)
                order = top[np.argsort(-row[top], kind="stable")].tolist()
            kept = 0
            for flat in order:
                score = float(row[flat])
                if not np.isfinite(score):
                    continue
                k, w = divmod(int(flat), V)
                if ids is not None:
                    w = int(ids[w])
                att = np.concatenate([atts[b, k], alpha_att[b, k][None]], axis=0)
                if w == EOS_ID:
                    normed = score / length_penalty(step + 1, alpha)
                    best = finished[b]
                    if best is None or normed > best[0]:
                        finished[b] = (normed, score, tokens[b, k].tolist(), att)
                else:
                    next_tokens[b, kept, :step] = tokens[b, k]
                    next_tokens[b, kept, step] = w
                    next_atts[b, kept] = att
                    next_scores[b, kept] = score
                    parents[b, kept] = b * K + k
                    kept += 1
                if kept == K:
                    break
            fin = finished[b]
            best_final = fin[0] if fin is not None else -np.inf
            if kept == 0:
                active[b] = False
                continue
            best_open = next_scores[b, :kept].max()
            bound = best_open / length_penalty(int(max_len[b]) + 1, alpha) if alpha > 0 else best_open
            if finished[b] is not None and bound <= best_final:
                active[b] = False
        tokens, atts, scores = next_tokens, next_atts, next_scores
        states = new_states[:, parents.reshape(-1)]
        step += 1
    out: list[Hypothesis] = []
    for b in range(B):
        done = finished[b]
        if done is not None:
            _, score, toks, att = done
        else:
            k = int(np.argmax(scores[b]))
            score, toks, att = float(scores[b, k]), tokens[b, k].tolist(), atts[b, k]
        out.append(Hypothesis(toks, score, att))
    return out
