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
    live = np.arange(B)               # the rows still decoding; finished rows leave the batch
    mask = src_mask
    y = np.full(B, BOS_ID, dtype=np.int64)
    tokens: list[list[int]] = [[] for _ in range(B)]
    scores = np.zeros(B)
    atts: list[list[np.ndarray]] = [[] for _ in range(B)]
    for _t in range(int(max_len.max()) + 1):   # the last step only closes rows at their limit
        logits, s, alpha = model.decode_step(y, s, enc, keys, mask, output)
        logp = _log_softmax(logits.astype(np.float64))
        col = logp.argmax(axis=1)
        y = col if ids is None else ids[col]
        going = np.ones(len(live), bool)
        for i, r in enumerate(live.tolist()):
            scores[r] += logp[i, col[i]]
            atts[r].append(alpha[i])
            if y[i] == EOS_ID or len(tokens[r]) >= max_len[r]:
                going[i] = False
            else:
                tokens[r].append(int(y[i]))
        if not going.all():
            live = live[going]
            if not live.size:
                break
            y, s, enc, keys, mask = y[going], s[:, going], enc[going], keys[going], mask[going]
    return [Hypothesis(tokens[r], float(scores[r]), np.array(atts[r])) for r in range(B)]


def _read_back(hist, b: int, k: int, S: int) -> tuple[list[int], np.ndarray]:
    """Tokens and attention rows [len, S] of sentence b's hypothesis in slot k of the last
    step of ``hist`` (empty before the first step)."""
    toks: list[int] = []
    atts: list[np.ndarray] = []
    for tok, par, att in reversed(hist):
        toks.append(int(tok[b, k]))
        atts.append(att[b, k])
        k = int(par[b, k])
    return toks[::-1], np.array(atts[::-1], np.float32).reshape(len(toks), S)


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ((5 + length) / 6) ** alpha; alpha = 0 turns it off."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(model: Seq2Seq, src, src_mask, beam: int = 5, alpha: float = 1.0,
                max_len: int = 100) -> Hypothesis:
    """Beam search for one source sentence (src [1, S]); see :func:`beam_search_batch`."""
    return beam_search_batch(model, src, src_mask, beam, alpha, np.array([max_len]))[0]


def beam_search_batch(model: Seq2Seq, src, src_mask, beam: int = 5, alpha: float = 1.0,
                      max_len: np.ndarray | None = None, columns: np.ndarray | None = None) -> list[Hypothesis]:
    """Beam search for a batch of sentences at once: each sentence's best hypothesis (see
    :func:`beam_search_nbest`)."""
    return [hyps[0] for hyps in beam_search_nbest(model, src, src_mask, beam, alpha, max_len, columns)]


def beam_search_nbest(model: Seq2Seq, src, src_mask, beam: int = 5, alpha: float = 1.0,
                      max_len: np.ndarray | None = None, columns: np.ndarray | None = None,
                      nbest: int = 1) -> list[list[Hypothesis]]:
    """Beam search for a batch of sentences at once (rows b*beam .. b*beam+beam-1 of every
    decoder call belong to sentence b); per sentence its ``nbest`` best finished hypotheses
    (1 <= nbest <= beam), best first under the length penalty.

    A hypothesis that ends is set aside; a sentence's search stops only when none of its open
    hypotheses can still beat its best finished one under the GNMT length penalty (their log
    probability can only fall, and the penalty can at most grow to that of ``max_len[b]``
    tokens), or when it reaches ``max_len[b]`` tokens, where only </s> may follow. With
    ``nbest`` > 1 the same rule holds against the n-th best finished hypothesis, so no open
    hypothesis could still have displaced any of those returned.
    ``columns``: sorted target ids to decode over (a shortlist; </s> among them), else the
    whole vocabulary.
    """
    if not 1 <= nbest <= beam:
        raise ValueError(f"nbest must be between 1 and the beam size ({beam}), not {nbest}")
    B, S = src.shape
    K = beam
    max_len = np.full(B, 100) if max_len is None else np.asarray(max_len)
    output, ids = _output(model, columns)
    eos_col = EOS_ID if ids is None else int(np.searchsorted(ids, EOS_ID))
    enc, keys, s0, _ = model.encode(src, src_mask)
    live = np.arange(B)               # sentences still searching; finished ones leave the batch
    rows = np.repeat(live, K)
    enc_k, keys_k, mask_k = enc[rows], keys[rows], src_mask[rows]
    states = s0[:, rows]
    scores = np.full((B, K), -np.inf)
    scores[:, 0] = 0.0
    last = np.full((B, K), BOS_ID, dtype=np.int64)
    # the search tree: per step, each slot's token, the slot of the step before it extends and
    # its attention; a hypothesis is read back only when it finishes
    hist: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    # each sentence's nbest best finished hypotheses (normalised score, score, tokens, attention),
    # best first: only they can be answers, and the last of them decides when to stop
    finished: list[list[tuple[float, float, list[int], np.ndarray]]] = [[] for _ in range(B)]
    step = 0
    while live.size:
        n = live.size
        logits, new_states, alpha_att = model.decode_step(last[live].reshape(-1), states, enc_k, keys_k, mask_k,
                                                          output)
        logp = _log_softmax(logits.astype(np.float64)).reshape(n, K, -1)
        V = logp.shape[2]
        cand = (scores[live][:, :, None] + logp).reshape(n, K * V)
        alpha_att = alpha_att.reshape(n, K, S)
        tok = np.zeros((B, K), dtype=np.int64)
        par = np.zeros((B, K), dtype=np.int64)
        att = np.zeros((B, K, S), dtype=np.float32)
        next_scores = np.full((B, K), -np.inf)
        parents = np.repeat(np.arange(n) * K, K).reshape(n, K)   # the state row each new slot continues
        going = np.ones(n, bool)
        for i, b in enumerate(live.tolist()):
            row = cand[i]
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
                if w == EOS_ID:
                    normed = score / length_penalty(step + 1, alpha)
                    done = finished[b]
                    if len(done) < nbest or normed > done[-1][0]:
                        toks, path_att = _read_back(hist, b, k, S)
                        _keep_best(done, (normed, score, toks, np.concatenate([path_att, alpha_att[i, k][None]])),
                                   nbest)
                else:
                    tok[b, kept], par[b, kept], att[b, kept] = w, k, alpha_att[i, k]
                    next_scores[b, kept] = score
                    parents[i, kept] = i * K + k
                    kept += 1
                if kept == K:
                    break
            if kept == 0:
                going[i] = False
                continue
            done = finished[b]
            best_open = next_scores[b, :kept].max()
            bound = best_open / length_penalty(int(max_len[b]) + 1, alpha) if alpha > 0 else best_open
            if len(done) == nbest and bound <= done[-1][0]:
                going[i] = False
        hist.append((tok, par, att))
        scores, last = next_scores, tok
        states = new_states[:, parents[going].reshape(-1)]
        if not going.all():
            live = live[going]
            rows = np.repeat(live, K)
            enc_k, keys_k, mask_k = enc[rows], keys[rows], src_mask[rows]
        step += 1
    out: list[list[Hypothesis]] = []
    for b in range(B):
        if not finished[b]:      # every continuation had probability 0 (not seen with finite logits)
            out.append([Hypothesis([], -np.inf, np.zeros((1, S), np.float32))])
        else:
            out.append([Hypothesis(toks, score, att) for _, score, toks, att in finished[b]])
    return out


def _keep_best(done: list, entry: tuple, n: int) -> None:
    """Insert ``entry`` into ``done`` (sorted by normalised score, best first; an equal score
    goes after those already there) and keep the best ``n``."""
    at = len(done)
    while at > 0 and done[at - 1][0] < entry[0]:
        at -= 1
    done.insert(at, entry)
    del done[n:]
