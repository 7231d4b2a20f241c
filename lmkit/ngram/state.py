"""KenLM's stateful scoring calls, for decoders that extend hypotheses word by word.

``State`` holds the context a next word is scored in (at most order - 1 words, oldest first);
``model.BeginSentenceWrite(state)`` / ``NullContextWrite(state)`` start one, and
``model.BaseScore(in_state, word, out_state)`` / ``BaseFullScore(...)`` score a word and write
the extended context into ``out_state``, as the ``kenlm`` module does. States compare and hash
by their words, so a decoder can merge hypotheses that share them.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..text import BOS_ID, UNK_ID


class FullScoreReturn(NamedTuple):
    """log10 probability, length of the n-gram used, whether the word is unknown (KenLM's)."""
    log_prob: float
    ngram_length: int
    oov: bool


class State:
    """The words (vocabulary ids, oldest first) a next word is scored after."""

    __slots__ = ("words",)

    def __init__(self) -> None:
        self.words: tuple[int, ...] = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, State) and self.words == other.words

    def __hash__(self) -> int:
        return hash(self.words)

    def __repr__(self) -> str:
        return f"State({list(self.words)})"


def begin_sentence(state: State) -> None:
    state.words = (BOS_ID,)


def null_context(state: State) -> None:
    state.words = ()


def full_score(model, in_state: State, word: str, out_state: State) -> FullScoreReturn:
    """Score ``word`` after ``in_state``'s words; ``out_state`` gets the last order - 1 words."""
    wid = model.vocab.stoi.get(word, UNK_ID)
    context = list(in_state.words)
    ids = np.array(context + [wid], dtype=np.int32)
    lp, lengths = model.score_encoded((ids, np.array([0, len(ids)], np.int64)), bos=False, eos=False)
    keep = max(model.order - 1, 0)
    out_state.words = tuple((context + [wid])[-keep:]) if keep else ()
    return FullScoreReturn(float(lp[-1]), int(lengths[-1]), wid == UNK_ID and word != model.vocab.itos[UNK_ID])
