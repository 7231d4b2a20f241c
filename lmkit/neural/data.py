"""From an encoded corpus to what the networks read.

Training: the sentences as one stream, ``<s> w1 ... wn`` per sentence as inputs and
``w1 ... wn </s>`` as targets, cut into B parallel streams read T steps at a time (truncated
back-propagation through time; the state is carried from one batch to the next).
Scoring: sentences as padded rows, sorted by length, each starting from a zero state.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..text import BOS_ID, EOS_ID


@dataclass
class Stream:
    """The corpus as one stream: inputs and targets int32 [N], and for every position the
    position of its sentence's ``<s>`` (int64 [N])."""
    inputs: np.ndarray
    targets: np.ndarray
    sentence_start: np.ndarray

    @classmethod
    def from_encoded(cls, ids: np.ndarray, offsets: np.ndarray) -> Stream:
        ids = np.asarray(ids, np.int32)
        offsets = np.asarray(offsets, np.int64)
        S = len(offsets) - 1
        total = len(ids) + S
        starts = offsets[:-1] + np.arange(S)                # where each sentence's <s> goes
        is_bos = np.zeros(total, bool)
        is_bos[starts] = True
        inputs = np.empty(total, np.int32)
        inputs[is_bos] = BOS_ID
        inputs[~is_bos] = ids
        targets = np.empty(total, np.int32)
        targets[:-1] = inputs[1:]
        next_is_bos = np.append(is_bos[1:], True)
        targets[next_is_bos] = EOS_ID
        sentence_start = np.maximum.accumulate(np.where(is_bos, np.arange(total), 0))
        return cls(inputs, targets, sentence_start)

    def __len__(self) -> int:
        return len(self.inputs)


class StreamBatches:
    """B parallel streams of ``len(stream) // B`` positions, read ``bptt`` steps at a time.
    ``positions(k)`` are the stream positions of batch k: int64 [B, T] (T <= bptt)."""

    def __init__(self, stream: Stream, batch: int, bptt: int) -> None:
        self.stream = stream
        self.batch = batch
        self.bptt = bptt
        self.length = len(stream) // batch
        if self.length < 1:
            raise ValueError(f"the corpus ({len(stream)} tokens with </s>) is shorter than one step of "
                             f"{batch} streams; use a smaller --batch")

    def __len__(self) -> int:
        return -(-self.length // self.bptt)

    def positions(self, k: int) -> np.ndarray:
        t0 = k * self.bptt
        t1 = min(t0 + self.bptt, self.length)
        return (np.arange(self.batch, dtype=np.int64)[:, None] * self.length) + np.arange(t0, t1)[None, :]

    @property
    def tokens(self) -> int:
        """Predictions per epoch (the stream's tail beyond B x length is not read)."""
        return self.batch * self.length


def sentence_batches(ids: np.ndarray, offsets: np.ndarray, max_tokens: int
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(sentence indices [B], inputs [B, T], targets [B, T], lengths [B]) for sentences taken
    longest first, at most ``max_tokens`` padded positions a batch (one long sentence alone
    may exceed it). Row b holds ``<s> w1 .. wn`` / ``w1 .. wn </s>`` and ``</s>`` padding."""
    ids = np.asarray(ids, np.int32)
    offsets = np.asarray(offsets, np.int64)
    lengths = np.diff(offsets) + 1
    order = np.argsort(-lengths, kind="stable")
    i = 0
    while i < len(order):
        T = int(lengths[order[i]])
        B = max(1, min(len(order) - i, max_tokens // T))
        rows = order[i:i + B]
        inputs = np.full((B, T), EOS_ID, np.int32)
        targets = np.full((B, T), EOS_ID, np.int32)
        inputs[:, 0] = BOS_ID
        for b, s in enumerate(rows.tolist()):
            words = ids[offsets[s]:offsets[s + 1]]
            inputs[b, 1:len(words) + 1] = words
            targets[b, :len(words)] = words
        yield rows, inputs, targets, lengths[rows]
        i += B
