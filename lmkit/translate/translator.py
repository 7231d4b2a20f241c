"""Translating text with a trained model: tokenise, batch, decode, detokenise, replace <unk>."""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..checks import Range
from ..errors import LmkitError, ModelFormatError
from ..text import UNK_ID, Tokenizer, Vocabulary
from .data import pad_sources
from .decode import Hypothesis, beam_search_nbest, greedy
from .model import Seq2Seq, model_folder
from .shortlist import FILE as SHORTLIST_FILE
from .shortlist import Shortlist

log = logging.getLogger(__name__)


@dataclass
class Translation:
    words: list[str]
    score: float
    attention: np.ndarray        # [target words + 1 (</s>), source tokens + 1 (</s>)]
    source: list[str]

    @property
    def text(self) -> str:
        return " ".join(self.words)


#: allowed decoding settings (shared with the CLI)
DECODE_RANGES = {
    "beam": Range(1, 1000, integer=True),
    "batch": Range(1, 100_000, integer=True),
    "alpha": Range(0, 10),
    "max_len_ratio": Range(0, 100, lo_open=True),
    "max_src_len": Range(1, 10_000, integer=True),
}


class Translator:
    """A model with its vocabularies and tokenizer; ``shortlist``: the model folder's
    target-vocabulary shortlist when it has one (used when a call asks for it)."""

    def __init__(self, model: Seq2Seq, src_vocab: Vocabulary, tgt_vocab: Vocabulary, tokenizer: Tokenizer,
                 shortlist: Shortlist | None = None) -> None:
        self.model, self.src_vocab, self.tgt_vocab, self.tokenizer = model, src_vocab, tgt_vocab, tokenizer
        self.shortlist = shortlist

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Translator:
        folder = model_folder(folder)
        for name in ("config.json", "weights.npz", "src_vocab.tsv", "tgt_vocab.tsv", "tokenizer.json"):
            if not (folder / name).exists():
                raise ModelFormatError(f"{folder}: {name} is missing; not a complete translation model folder")
        try:
            config = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
            tok = Tokenizer.from_config(config)
        except (ValueError, UnicodeDecodeError, AttributeError, LmkitError) as exc:
            raise ModelFormatError(f"{folder}/tokenizer.json: not a tokenizer configuration ({exc})") from None
        model = Seq2Seq.load(folder)
        src, tgt = Vocabulary.load(folder / "src_vocab.tsv"), Vocabulary.load(folder / "tgt_vocab.tsv")
        for name, vocab, rows in (("src_vocab.tsv", src, model.config.src_vocab),
                                  ("tgt_vocab.tsv", tgt, model.config.tgt_vocab)):
            if len(vocab) != rows:
                raise ModelFormatError(f"{folder}/{name}: {len(vocab)} words, but the model's embedding "
                                       f"has {rows} rows")
        shortlist = None
        if (folder / SHORTLIST_FILE).exists():
            shortlist = Shortlist.load(folder / SHORTLIST_FILE, model.config.src_vocab, model.config.tgt_vocab)
        return cls(model, src, tgt, tok, shortlist)

    def _columns(self, src: np.ndarray, shortlist: bool) -> np.ndarray | None:
        if not shortlist:
            return None
        if self.shortlist is None:
            raise ModelFormatError("this model has no shortlist (build one with `lmkit translate shortlist`)")
        return self.shortlist.columns(src)

    def translate_ids(self, sources: Sequence[np.ndarray], beam: int = 5, batch: int = 64,
                      alpha: float = 1.0, max_len_ratio: float = 2.0, max_len_extra: int = 10,
                      source_words: Sequence[list[str]] | None = None, replace_unk: bool = False,
                      shortlist: bool = False) -> list[Translation]:
        """Translate encoded sources; ``shortlist``: decode each batch over the model's
        target-vocabulary shortlist instead of the whole vocabulary."""
        return [hyps[0] for hyps in self._decode_ids(sources, beam, batch, alpha, max_len_ratio, max_len_extra,
                                                     source_words, replace_unk, shortlist, nbest=1)]

    def _decode_ids(self, sources: Sequence[np.ndarray], beam: int, batch: int, alpha: float,
                    max_len_ratio: float, max_len_extra: int, source_words: Sequence[list[str]] | None,
                    replace_unk: bool, shortlist: bool, nbest: int) -> list[list[Translation]]:
        """Each source's ``nbest`` best translations (greedy when beam is 1), best first;
        sources are decoded in batches of similar lengths."""
        out: list[list[Translation]] = [[] for _ in sources]
        order = np.argsort([len(s) for s in sources], kind="stable")
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            srcs = [np.asarray(sources[i], np.int64) for i in idx]
            limits = np.array([int(max_len_ratio * len(s) + max_len_extra) for s in srcs])
            src, mask = pad_sources(srcs)
            columns = self._columns(src, shortlist)
            if beam <= 1:
                lists = [[h] for h in greedy(self.model, src, mask, limits, columns)]
            else:
                lists = beam_search_nbest(self.model, src, mask, beam=beam, alpha=alpha, max_len=limits,
                                          columns=columns, nbest=nbest)
            for i, hyps in zip(idx, lists):
                src_words = list(source_words[i]) if source_words is not None else self.src_vocab.decode(sources[i])
                out[i] = [self._translation(h, src_words, replace_unk) for h in hyps]
        return out

    def _translation(self, h: Hypothesis, src_words: list[str], replace_unk: bool) -> Translation:
        words = self.tgt_vocab.decode(h.tokens)
        if replace_unk:
            for t, tok in enumerate(h.tokens):
                if tok == UNK_ID and t < len(h.attention):
                    pos = int(np.argmax(h.attention[t][:len(src_words)]))
                    words[t] = src_words[pos] if pos < len(src_words) else words[t]
        return Translation(words, h.score, h.attention, src_words)

    def translate(self, lines: Sequence[str], beam: int = 5, batch: int = 64, alpha: float = 1.0,
                  replace_unk: bool = False, max_len_ratio: float = 2.0,
                  max_src_len: int = 250, shortlist: bool = False) -> list[Translation]:
        """Translate sentences (one per item; an empty line gives an empty translation).
        Outputs stop at ``max_len_ratio`` x source length + 10 tokens. A source longer than
        ``max_src_len`` tokens is cut there (one warning per call, counting the lines cut and
        naming the first): decoding time and memory stay bounded whatever the input.
        ``shortlist``: decode over the model's target-vocabulary shortlist (faster; see
        :mod:`lmkit.translate.shortlist`)."""
        return [hyps[0] for hyps in self.translate_nbest(lines, 1, beam, batch, alpha, replace_unk, max_len_ratio,
                                                         max_src_len, shortlist)]

    def translate_nbest(self, lines: Sequence[str], nbest: int, beam: int = 5, batch: int = 64,
                        alpha: float = 1.0, replace_unk: bool = False, max_len_ratio: float = 2.0,
                        max_src_len: int = 250, shortlist: bool = False) -> list[list[Translation]]:
        """Each sentence's ``nbest`` best translations from beam search (1 <= nbest <= beam),
        best first under the length penalty; options as :meth:`translate`."""
        if isinstance(lines, str):
            lines = [lines]
        DECODE_RANGES["beam"].check("beam", beam)
        Range(1, beam, integer=True).check("nbest", nbest)
        DECODE_RANGES["batch"].check("batch", batch)
        DECODE_RANGES["alpha"].check("length penalty", alpha)
        DECODE_RANGES["max_len_ratio"].check("max_len_ratio", max_len_ratio)
        DECODE_RANGES["max_src_len"].check("max_src_len", max_src_len)
        tokens = [self.tokenizer(line) for line in lines]
        cut = [i for i, t in enumerate(tokens) if len(t) > max_src_len]
        if cut:
            log.warning("%d line(s) longer than %d tokens (max_src_len), translated from their first %d "
                        "tokens; the first is line %d (%d tokens)", len(cut), max_src_len, max_src_len,
                        cut[0] + 1, len(tokens[cut[0]]))
            for i in cut:
                tokens[i] = tokens[i][:max_src_len]
        ids = [self.src_vocab.encode(t) for t in tokens]
        return self._decode_ids(ids, beam, batch, alpha, max_len_ratio, 10, tokens, replace_unk, shortlist, nbest)
