"""Tokenizers: one sentence (line) in, a list of token strings out."""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from ..errors import ConfigError


@functools.lru_cache(maxsize=1)
def _word_regex() -> re.Pattern:
    """Regex word tokenizer: abbreviations (U.S.), numbers with inner separators (3.14,
    1,000), words with inner apostrophes or hyphens (don't, state-of-the-art), ellipses,
    then any single other non-space character. Unicode-aware: combining marks (category M)
    count as word characters, so accented and Indic words stay whole."""
    marks, start, prev = [], None, None
    for cp in range(0x300, 0x20000):
        if unicodedata.category(chr(cp))[0] == "M":
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            marks.append((start, prev))
            start = None
    mark_class = "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in marks)
    w = f"[\\w{mark_class}]"
    return re.compile(
        rf"""(?:[^\W\d_]\.){{2,}}         # abbreviations written with dots: U.S.  e.g.
          | \d+(?:[.,:/]\d+)+           # 3.14  1,000,000  12:30  1/2
          | {w}+(?:['’\-]{w}+)*          # words, contractions and hyphenated compounds
          | \.{{2,}}                    # ellipsis
          | [^\w\s]                    # any other non-space character on its own
        """, re.VERBOSE)

MODES = ("whitespace", "regex", "treebank", "toktok")


class Tokenizer:
    """Split text into tokens.

    Args:
        mode: ``"whitespace"`` (pre-tokenized corpora such as PTB; the fastest),
            ``"regex"`` (Unicode word/number/punctuation splitter), ``"treebank"`` (nltk's
            Penn Treebank tokenizer: ``don't -> do n't``) or ``"toktok"`` (nltk's Toktok).
            The nltk modes need no downloaded nltk data.
        lowercase: lowercase the text before splitting.
    """

    def __init__(self, mode: str = "regex", lowercase: bool = False) -> None:
        if mode not in MODES:
            raise ConfigError(f"tokenizer mode {mode!r} is unknown; choose one of {', '.join(MODES)}")
        self.mode = mode
        self.lowercase = bool(lowercase)
        self._split = self._make_splitter()

    def _make_splitter(self):
        if self.mode == "whitespace":
            return str.split
        if self.mode == "regex":
            return _word_regex().findall
        if self.mode == "treebank":
            from nltk.tokenize import TreebankWordTokenizer
            return TreebankWordTokenizer().tokenize
        from nltk.tokenize.toktok import ToktokTokenizer
        return ToktokTokenizer().tokenize

    def __call__(self, line: str) -> list[str]:
        """Tokens of one line (sentence)."""
        if self.lowercase:
            line = line.lower()
        if self.mode != "whitespace" and not line.strip():
            return []
        return self._split(line)

    def tokenize_lines(self, lines: Iterable[str]) -> list[list[str]]:
        """Tokens of each line of a block, in order."""
        if self.mode == "whitespace":
            if self.lowercase:
                return [line.lower().split() for line in lines]
            return [line.split() for line in lines]
        return [self(line) for line in lines]

    def tokens_of_block(self, lines: list[str]) -> list[str]:
        """All tokens of a block of lines as one flat list (fast path for counting)."""
        if self.mode == "whitespace":
            text = "\n".join(lines)
            return (text.lower() if self.lowercase else text).split()
        if self.mode == "regex":
            text = "\n".join(lines)
            return _word_regex().findall(text.lower() if self.lowercase else text)
        return [tok for line in lines for tok in self(line)]

    def config(self) -> dict:
        """Settings that reproduce this tokenizer (stored beside encoded corpora and models)."""
        return {"mode": self.mode, "lowercase": self.lowercase}

    @classmethod
    def from_config(cls, config: dict) -> Tokenizer:
        """The tokenizer a :meth:`config` dict describes (types checked)."""
        if not isinstance(config, dict):
            raise ConfigError("a tokenizer configuration must be a JSON object")
        mode, lowercase = config.get("mode", "regex"), config.get("lowercase", False)
        if not isinstance(mode, str) or not isinstance(lowercase, bool):
            raise ConfigError(f"tokenizer mode must be a string and lowercase true/false, got {mode!r}, {lowercase!r}")
        return cls(mode=mode, lowercase=lowercase)

    def __repr__(self) -> str:
        return f"Tokenizer(mode={self.mode!r}, lowercase={self.lowercase})"
