"""Vocabulary: token <-> id with counts, min_count / max_size cut-offs and fixed special ids.

Special tokens come first with fixed ids: ``<unk>`` = 0, ``<s>`` = 1, ``</s>`` = 2, and
``<pad>`` = 3 when a model asks for it. Other tokens follow by count descending, then by
token (code-point order), so the same counts always give the same ids.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat

import numpy as np

from .._io import atomic_write, open_binary
from ..errors import ConfigError, ModelFormatError
from .corpus import Corpus, as_token_blocks
from .types import NARROW_INDEX_WORDS, build_word_index, utf8_blob, utf8_strings, word_index_size

UNK, BOS, EOS, PAD = "<unk>", "<s>", "</s>", "<pad>"
DEFAULT_SPECIALS = (UNK, BOS, EOS)
UNK_ID, BOS_ID, EOS_ID, PAD_ID = 0, 1, 2, 3


def count_tokens(data: Corpus | Iterable[Sequence[str]]) -> tuple[Counter, int]:
    """Count tokens of a corpus; returns (counts, number of sentences)."""
    counts: Counter = Counter()
    n_sentences = 0
    if isinstance(data, Corpus) and data.tokenizer.mode == "whitespace" and not data.tokenizer.lowercase:
        from .types import types_for  # numbered as bytes in numba, counted by id
        types = types_for(data)
        per_type = np.zeros(0, np.int64)
        for ids, lengths in types.blocks(data):
            if len(per_type) < len(types):
                per_type = np.concatenate([per_type, np.zeros(len(types) - len(per_type), np.int64)])
            per_type += np.bincount(ids, minlength=len(per_type))
            n_sentences += len(lengths)
        return Counter(dict(zip(types.tokens(), per_type.tolist()))), n_sentences
    if isinstance(data, Corpus):
        flat = data.tokenizer.tokens_of_block
        for block in data.line_blocks():
            counts.update(flat(block))
            n_sentences += len(block)
        return counts, n_sentences
    for block in as_token_blocks(data):
        for sent in block:
            counts.update(sent)
        n_sentences += len(block)
    return counts, n_sentences


class Vocabulary:
    """Token <-> id mapping with counts.

    Build one with :meth:`build` (from a corpus) or :meth:`from_counts`; save/load it as
    text, one ``token<TAB>count`` per line in id order (word2vec's ``-save-vocab`` files,
    space-separated, load too).
    """

    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | np.ndarray | None = None,
                 specials: Sequence[str] = DEFAULT_SPECIALS) -> None:
        specials = tuple(specials)
        _check_specials(specials)
        tokens = list(tokens)
        if list(tokens[: len(specials)]) != list(specials):
            raise ConfigError(f"vocabulary must start with its special tokens {specials}")
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        if len(self.stoi) != len(tokens):
            dup = next(t for t, c in Counter(tokens).items() if c > 1)
            raise ConfigError(f"token {dup!r} appears twice in the vocabulary")
        self.specials = specials
        self.itos: list[str] = tokens
        self.counts = np.zeros(len(tokens), dtype=np.int64) if counts is None \
            else np.asarray(counts, dtype=np.int64)
        if self.counts.shape != (len(tokens),):
            raise ConfigError("counts must have one entry per token")
        self.unk_id = self.stoi.get(UNK, -1)

    # ---------------------------------------------------------------- building
    @classmethod
    def from_counts(cls, counts: Mapping[str, int], *, min_count: int = 1, max_size: int | None = None,
                    specials: Sequence[str] = DEFAULT_SPECIALS, n_sentences: int = 0) -> Vocabulary:
        """Vocabulary of the tokens counted at least ``min_count`` times, the ``max_size``
        most frequent at most (specials not included in ``max_size``). Tokens left out add
        their counts to ``<unk>``; ``<s>`` and ``</s>`` get the number of sentences."""
        return cls._from_token_counts(list(counts), np.fromiter(counts.values(), np.int64, len(counts)),
                                      min_count, max_size, specials, n_sentences)

    @classmethod
    def _from_token_counts(cls, tokens: list[str], counts: np.ndarray, min_count: int, max_size: int | None,
                           specials: Sequence[str], n_sentences: int) -> Vocabulary:
        """:meth:`from_counts` over distinct ``tokens`` and their ``counts`` (int64): the kept
        tokens by count, most frequent first, ties in token order."""
        if min_count < 1:
            raise ConfigError(f"min_count must be >= 1, got {min_count}")
        if max_size is not None and max_size < 0:
            raise ConfigError(f"max_size must be >= 0, got {max_size}")
        specials = tuple(specials)
        _check_specials(specials)
        special_set = set(specials)
        is_special = np.fromiter(map(special_set.__contains__, tokens), bool, len(tokens))
        kept = np.flatnonzero((counts >= min_count) & ~is_special)
        kept = np.array(sorted(kept.tolist(), key=tokens.__getitem__), dtype=np.int64)
        kept = kept[np.argsort(-counts[kept], kind="stable")]
        if max_size is not None:
            kept = kept[:max_size]
        unk = int(counts[~is_special].sum()) - int(counts[kept].sum())
        special_counts = {UNK: unk, BOS: n_sentences, EOS: n_sentences, PAD: 0}
        given = {tokens[i]: int(counts[i]) for i in np.flatnonzero(is_special).tolist()}
        cnts = np.array([special_counts.get(s, given.get(s, 0)) for s in specials], np.int64)
        return cls(list(specials) + [tokens[i] for i in kept.tolist()], np.concatenate([cnts, counts[kept]]),
                   specials)

    @classmethod
    def build(cls, data: Corpus | Iterable[Sequence[str]], *, min_count: int = 1,
              max_size: int | None = None, specials: Sequence[str] = DEFAULT_SPECIALS) -> Vocabulary:
        """Count a corpus (or any iterable of token lists) and build its vocabulary."""
        counts, n_sentences = count_tokens(data)
        return cls.from_counts(counts, min_count=min_count, max_size=max_size,
                               specials=specials, n_sentences=n_sentences)

    # ---------------------------------------------------------------- lookups
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self.itos)

    def __getitem__(self, token: str) -> int:
        """Id of ``token`` (the ``<unk>`` id for unknown tokens; KeyError if there is none)."""
        i = self.stoi.get(token, self.unk_id)
        if i < 0:
            raise KeyError(f"{token!r} is not in the vocabulary and it has no {UNK}")
        return i

    def token(self, index: int) -> str:
        return self.itos[index]

    def count(self, token: str) -> int:
        i = self.stoi.get(token)
        return 0 if i is None else int(self.counts[i])

    @property
    def n_specials(self) -> int:
        return len(self.specials)

    @property
    def words(self) -> list[str]:
        """The non-special tokens in id order."""
        return self.itos[len(self.specials):]

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """int32 ids of ``tokens``; unknown tokens map to ``<unk>``."""
        if self.unk_id < 0:
            missing = [t for t in tokens if t not in self.stoi]
            if missing:
                raise KeyError(f"{missing[0]!r} is not in the vocabulary and it has no {UNK}")
        ids = list(map(self.stoi.get, tokens, repeat(self.unk_id, len(tokens))))
        return np.array(ids, dtype=np.int32)

    def utf8(self) -> tuple[np.ndarray, np.ndarray]:
        """Every word's UTF-8 bytes concatenated (uint8) and their int64 offsets (id order)."""
        return utf8_blob(self.itos)

    def word_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index, blob, offsets): the words' UTF-8 bytes and offsets (:meth:`utf8`) with an
        index over them that numba kernels look words up in by their bytes
        (:func:`lmkit.text._kernels.find_word`). Built for this call (a few ms per 50k words)."""
        blob, offsets = self.utf8()
        index, twice = build_word_index(blob, offsets)
        if twice >= 0:
            raise ModelFormatError(f"token {self.token(int(twice))!r} appears twice in the vocabulary")
        return index, blob, offsets

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``."""
        itos = self.itos
        return [itos[i] for i in np.asarray(ids, dtype=np.int64).tolist()]

    # ---------------------------------------------------------------- files
    def save(self, path: str | os.PathLike) -> None:
        """Write ``token<TAB>count`` lines in id order (atomically; ``.gz`` compresses)."""
        for t in self.itos:
            if not t or any(ch.isspace() for ch in t):
                raise ModelFormatError(f"token {t!r} cannot be saved: it holds white space")
        with atomic_write(path) as out:
            out.writelines(f"{t}\t{c}\n" for t, c in zip(self.itos, self.counts.tolist()))

    @classmethod
    def load(cls, path: str | os.PathLike, specials: Sequence[str] | None = None) -> Vocabulary:
        """Read a vocabulary file: ``token<TAB>count`` (or ``token count``) per line, id order.

        ``specials=None`` keeps the default specials (and ``<pad>`` if the file has it);
        specials missing from the file are added with count 0.
        """
        tokens: list[str] = []
        counts: list[int] = []
        with open_binary(path) as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    raise ModelFormatError(f"{path}:{n}: vocabulary line is not valid UTF-8") from None
                if not line.strip():
                    continue
                parts = line.split("\t") if "\t" in line else line.split(" ")
                if len(parts) != 2 or not parts[0]:
                    raise ModelFormatError(f"{path}:{n}: expected 'token<TAB>count', got {line[:60]!r}")
                try:
                    count = int(parts[1])
                except ValueError:
                    raise ModelFormatError(f"{path}:{n}: count {parts[1][:20]!r} is not an integer") from None
                if count < 0:
                    raise ModelFormatError(f"{path}:{n}: negative count {count}")
                tokens.append(parts[0])
                counts.append(count)
        if not tokens:
            raise ModelFormatError(f"{path}: vocabulary file is empty")
        seen: dict[str, int] = {}
        for n, t in enumerate(tokens):
            if t in seen:
                raise ModelFormatError(f"{path}: token {t!r} appears twice (entries {seen[t] + 1} and {n + 1})")
            seen[t] = n
        if specials is None:
            specials = DEFAULT_SPECIALS + ((PAD,) if PAD in seen else ())
        specials = tuple(specials)
        by_token = dict(zip(tokens, counts))
        rest = [t for t in tokens if t not in set(specials)]
        return cls(list(specials) + rest, [by_token.get(s, 0) for s in specials] + [by_token[t] for t in rest],
                   specials)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocabulary) and self.itos == other.itos
                and self.specials == other.specials and np.array_equal(self.counts, other.counts))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, specials={self.specials})"


class PackedVocabulary(Vocabulary):
    """A vocabulary held as its words' UTF-8 bytes (``blob`` uint8, word ``i`` at
    ``blob[offsets[i]:offsets[i + 1]]``), e.g. views of a memory-mapped model file. The Python
    list (``itos``) and dict (``stoi``) are built, and the words decoded and checked for
    duplicates, only when something asks for them; kernels that look words up by their bytes
    (:meth:`utf8`) never need them. ``source`` names the file in errors."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, counts: np.ndarray | None = None,
                 specials: Sequence[str] = DEFAULT_SPECIALS, source: str = "vocabulary",
                 index: np.ndarray | None = None) -> None:
        specials = tuple(specials)
        _check_specials(specials)
        n = len(offsets) - 1
        if n < len(specials) or offsets[0] != 0 or offsets[-1] > len(blob):
            raise ModelFormatError(f"{source}: vocabulary offsets do not fit its bytes")
        self._offsets_checked = False
        self.blob, self.offsets, self.specials, self._source = blob, offsets, specials, source
        # no counts (an ARPA file's words): zeros made when first asked for, not at every load
        self._counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        if self._counts is not None and self._counts.shape != (n,):
            raise ModelFormatError(f"{source}: {len(self._counts)} counts for {n} words")
        self._itos: list[str] | None = None
        self._stoi: dict[str, int] | None = None
        if index is not None and len(index) != word_index_size(n):
            raise ModelFormatError(f"{source}: the word index holds {len(index)} slots, expected {word_index_size(n)}")
        if index is not None and (index.dtype not in (np.uint32, np.int64)
                                  or (index.dtype == np.uint32 and n > NARROW_INDEX_WORDS)):
            raise ModelFormatError(f"{source}: a word index of {index.dtype} slots cannot hold {n} words")
        self._index = index
        first = offsets[:len(specials) + 1].tolist()
        head = blob[:max(first[-1], 0)].tobytes()
        if [head[a:b] for a, b in zip(first, first[1:])] != [s.encode("utf-8") for s in specials]:
            raise ModelFormatError(f"{source}: the vocabulary must start with its special tokens {specials}")
        self.unk_id = specials.index(UNK) if UNK in specials else -1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        if self._counts is None:
            self._counts = np.zeros(len(self), dtype=np.int64)
        return self._counts

    @counts.setter
    def counts(self, counts: np.ndarray) -> None:
        self._counts = counts

    def token(self, index: int) -> str:
        if self._itos is not None:
            return self._itos[index]
        if 0 <= index < len(self.specials):        # their bytes were checked at construction
            return self.specials[index]
        lo, hi = int(self.offsets[index]), int(self.offsets[index + 1])
        return self._decoded(lambda: self.blob[lo:hi].tobytes().decode("utf-8"))

    def _check_offsets(self) -> None:
        """Every word's offsets in order (checked before the words are decoded or indexed;
        lookups in a stored index check each id's own offsets against the bytes)."""
        if not self._offsets_checked:
            if np.any(np.diff(self.offsets) < 0):
                raise ModelFormatError(f"{self._source}: vocabulary offsets do not fit its bytes")
            self._offsets_checked = True

    @property
    def itos(self) -> list[str]:  # type: ignore[override]
        if self._itos is None:
            self._check_offsets()
            self._itos = self._decoded(lambda: utf8_strings(self.blob, self.offsets))
        return self._itos

    @property
    def stoi(self) -> dict[str, int]:  # type: ignore[override]
        if self._stoi is None:
            itos = self.itos
            stoi = dict(zip(itos, range(len(itos))))
            if len(stoi) != len(itos):
                dup = next(t for t, c in Counter(itos).items() if c > 1)
                raise ModelFormatError(f"{self._source}: token {dup!r} appears twice in the vocabulary")
            self._stoi = stoi
        return self._stoi

    def utf8(self) -> tuple[np.ndarray, np.ndarray]:
        return self.blob, self.offsets

    def word_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The index given (a model file's: taken as it is, see :meth:`check_index`), else one
        built over the words at the first call."""
        if self._index is None:
            self._index = self._built_index()
        return self._index, self.blob, self.offsets

    @property
    def stored_index(self) -> np.ndarray | None:
        """The word index given with the words (a model file's), if any."""
        return self._index

    def check_index(self) -> None:
        """Raise ModelFormatError unless the index given is the one the words give (a word
        listed twice is named)."""
        self._check_offsets()
        if self._index is not None and not np.array_equal(self._built_index(), self._index):
            raise ModelFormatError(f"{self._source}: the word index does not fit the words")

    def _built_index(self) -> np.ndarray:
        """The index the words give, in the stored index's slot type (older files have 64-bit
        slots whatever their size) or else the one their number gives."""
        self._check_offsets()
        index, twice = build_word_index(self.blob, self.offsets,
                                        None if self._index is None else self._index.dtype.type)
        if twice >= 0:
            raise ModelFormatError(f"{self._source}: token {self.token(int(twice))!r} appears twice in the vocabulary")
        return index

    def _decoded(self, decode):
        try:
            return decode()
        except UnicodeDecodeError as exc:
            raise ModelFormatError(f"{self._source}: bad vocabulary ({exc})") from None


def _check_specials(specials: tuple) -> None:
    fixed = {UNK: UNK_ID, BOS: BOS_ID, EOS: EOS_ID, PAD: PAD_ID}
    for i, s in enumerate(specials):
        if s in fixed and fixed[s] != i:
            raise ConfigError(f"special token {s} must have id {fixed[s]}; specials are ordered "
                              f"{UNK}, {BOS}, {EOS}[, {PAD}] (got {specials})")
