"""Streaming corpus readers: plain files, .gz/.bz2/.xz, directories, and stdin ('-').

Text is read in blocks of lines (about 1 MB each) so memory stays flat however large the
corpus is. Bytes that are not valid UTF-8 are replaced (U+FFFD) and the affected lines
counted, unless ``strict=True``, which raises an error naming the file and line.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar, Union

from .._io import open_binary
from ..errors import CorpusError
from ..progress import progress
from .tokenizer import Tokenizer

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]  # noqa: UP007 (runtime alias)
BLOCK_BYTES = 1 << 20
_Block = TypeVar("_Block")


@dataclass(frozen=True)
class Span:
    """The lines of a plain file whose first byte lies in ``[start, end)``: spans that tile a
    file hold each of its lines exactly once, wherever the cuts fall (``end`` -1: to the end)."""
    path: str
    start: int = 0
    end: int = -1

    def __str__(self) -> str:
        return f"{self.path}[{self.start}:{'' if self.end < 0 else self.end}]"


def _open_span(span: Span) -> IO[bytes]:
    """A plain file positioned at the first line that starts at or after ``span.start``."""
    handle = open_binary(span.path)
    if span.start > 0:
        handle.seek(span.start - 1)
        if handle.read(1) != b"\n":
            handle.readline()   # the line that began before the span belongs to the one before
    return handle


def _span_lines(handle: IO[bytes], end: int, block_bytes: int) -> Iterator[list[bytes]]:
    """Blocks of the lines that start before byte ``end`` (-1: every line to the end)."""
    pos = handle.tell() if end >= 0 else 0   # stdin cannot tell
    while end < 0 or pos < end:
        raw = handle.readlines(block_bytes)
        if not raw:
            return
        if end >= 0:
            for i, line in enumerate(raw):
                if pos >= end:
                    del raw[i:]
                    yield raw
                    return
                pos += len(line)
        yield raw


@dataclass
class ReadStats:
    """What a pass over a corpus saw."""
    files: int = 0
    lines: int = 0
    bytes: int = 0
    replaced_lines: int = 0
    first_replaced: str | None = None  # "file:line" of the first line with invalid UTF-8
    paths: list[str] = field(default_factory=list)


def expand_sources(sources: PathLike | Span | Sequence[PathLike | Span]) -> list:
    """Resolve files, directories (all regular files below, sorted, hidden ones skipped) and '-'
    (:class:`Span` s are kept as they are)."""
    if isinstance(sources, (str, os.PathLike, Span)):
        sources = [sources]
    out: list = []
    for src in sources:
        if isinstance(src, Span):
            out.append(src)
            continue
        src = os.fspath(src)
        if src == "-":
            out.append(src)
            continue
        path = Path(src)
        if path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise CorpusError(f"{path}: directory holds no files")
            out.extend(found)
        elif path.exists():
            out.append(str(path))
        else:
            raise CorpusError(f"{path}: no such file or directory")
    if not out:
        raise CorpusError("no corpus given")
    return out


def _decode_block(raw_lines: list[bytes], name: str, first_line: int, strict: bool,
                  stats: ReadStats) -> list[str]:
    data = b"".join(raw_lines)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [ln[:-1] if ln.endswith("\r") else ln for ln in lines] if "\r" in text else lines
    out = []
    for k, raw in enumerate(raw_lines):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"{name}:{first_line + k}"
            if strict:
                raise CorpusError(f"{where}: invalid UTF-8 at byte {exc.start} of the line") from None
            stats.replaced_lines += 1
            if stats.first_replaced is None:
                stats.first_replaced = where
            line = raw.decode("utf-8", errors="replace")
        out.append(line.rstrip("\r\n"))
    return out


def _raw_blocks(sources: PathLike | Span | Sequence[PathLike | Span], strict: bool, stats: ReadStats | None,
                quiet: bool | None, block_bytes: int | None,
                convert: Callable[[list[bytes], str, int, bool, ReadStats], _Block]) -> Iterator[_Block]:
    """Every source's lines, read about ``block_bytes`` at a time, each block passed through
    ``convert(raw_lines, label, first_line, strict, stats)``."""
    paths = expand_sources(sources)
    stats = stats if stats is not None else ReadStats()
    stats.paths = paths
    bar = progress(desc="reading", unit="line", quiet=quiet)
    try:
        for name in paths:
            stats.files += 1
            if isinstance(name, Span):
                handle = _open_span(name)
                label = str(name)
            else:
                handle = sys.stdin.buffer if name == "-" else open_binary(name)
                label = "<stdin>" if name == "-" else name
            blocks = _span_lines(handle, name.end if isinstance(name, Span) else -1, block_bytes or BLOCK_BYTES)
            line_no = 1
            try:
                while True:
                    try:
                        raw = next(blocks, None)
                    except CorpusError as exc:          # corrupt gzip/bz2/xz stream (open_binary)
                        raise CorpusError(f"{exc}, after line {line_no - 1}") from None
                    except (OSError, EOFError) as exc:  # I/O error
                        raise CorpusError(f"{label}: cannot read after line {line_no - 1}: {exc}") from None
                    if not raw:
                        break
                    block = convert(raw, label, line_no, strict, stats)
                    line_no += len(raw)
                    stats.lines += len(raw)
                    stats.bytes += sum(map(len, raw))
                    bar.update(len(raw))
                    yield block
            finally:
                if handle is not sys.stdin.buffer:
                    handle.close()
    finally:
        bar.close()
    if stats.replaced_lines:
        log.warning("%d line(s) held invalid UTF-8 and were read with U+FFFD replacements "
                    "(first at %s); use strict mode to stop at them instead",
                    stats.replaced_lines, stats.first_replaced)


def read_line_blocks(sources: PathLike | Span | Sequence[PathLike | Span], *, strict: bool = False,
                     stats: ReadStats | None = None, quiet: bool | None = None,
                     block_bytes: int | None = None) -> Iterator[list[str]]:
    """Yield lists of lines (str, newline removed) from every source in order."""
    return _raw_blocks(sources, strict, stats, quiet, block_bytes, _decode_block)


def _utf8_block(raw_lines: list[bytes], name: str, first_line: int, strict: bool, stats: ReadStats) -> bytes:
    """The block's bytes, every line ending in ``\n``; lines with invalid UTF-8 repaired
    exactly as :func:`read_line_blocks` decodes them (or an error when ``strict``)."""
    data = b"".join(raw_lines)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = "\n".join(_decode_block(raw_lines, name, first_line, strict, stats)).encode("utf-8")
    return data if data.endswith(b"\n") else data + b"\n"


def read_utf8_blocks(sources: PathLike | Span | Sequence[PathLike | Span], *, strict: bool = False,
                     stats: ReadStats | None = None, quiet: bool | None = None,
                     block_bytes: int | None = None) -> Iterator[bytes]:
    """Yield blocks of whole lines as valid UTF-8 bytes, each line ending in ``\n`` (the
    same lines :func:`read_line_blocks` yields, for byte-level tokenizers)."""
    return _raw_blocks(sources, strict, stats, quiet, block_bytes, _utf8_block)


class Corpus:
    """A re-iterable, streaming view of text files as tokenized sentences (one per line).

    Iterating yields ``list[str]`` per line, so a Corpus can be passed wherever an iterable
    of token lists is expected. Reading stdin (``'-'``) works once only.

    Args:
        sources: a file, a directory, ``'-'`` for stdin, or a list of those.
        tokenizer: how lines become tokens (default: regex tokenizer, case kept).
        strict: raise on invalid UTF-8 instead of replacing it.
        quiet: silence the progress bar.
    """

    def __init__(self, sources: PathLike | Span | Sequence[PathLike | Span], tokenizer: Tokenizer | None = None,
                 *, strict: bool = False, quiet: bool | None = None) -> None:
        self.paths = expand_sources(sources)
        self.tokenizer = tokenizer or Tokenizer()
        self.strict = strict
        self.quiet = quiet
        self.stats = ReadStats()
        self._stdin_used = False

    def _start_pass(self) -> None:
        """Fresh statistics for a new pass; stdin can be read once only."""
        if "-" in self.paths:
            if self._stdin_used:
                raise CorpusError("<stdin>: standard input can be read only once")
            self._stdin_used = True
        self.stats = ReadStats()

    def line_blocks(self) -> Iterator[list[str]]:
        """Blocks of raw lines; updates ``self.stats`` for this pass."""
        self._start_pass()
        return read_line_blocks(self.paths, strict=self.strict, stats=self.stats, quiet=self.quiet)

    def utf8_blocks(self) -> Iterator[bytes]:
        """Blocks of whole lines as valid UTF-8 bytes (see :func:`read_utf8_blocks`)."""
        self._start_pass()
        return read_utf8_blocks(self.paths, strict=self.strict, stats=self.stats, quiet=self.quiet)

    def token_blocks(self) -> Iterator[list[list[str]]]:
        """Blocks of tokenized sentences."""
        tokenize = self.tokenizer.tokenize_lines
        for block in self.line_blocks():
            yield tokenize(block)

    def __iter__(self) -> Iterator[list[str]]:
        for block in self.token_blocks():
            yield from block

    def __repr__(self) -> str:
        shown = self.paths if len(self.paths) <= 3 else self.paths[:3] + ["..."]
        return f"Corpus({shown}, {self.tokenizer!r})"


def as_token_blocks(data: Corpus | Iterable[Sequence[str]], block: int = 10000) -> Iterator[list]:
    """Blocks of token lists from a Corpus or any iterable of token sequences."""
    if isinstance(data, Corpus):
        yield from data.token_blocks()
        return
    if isinstance(data, (str, bytes)):
        raise CorpusError("expected an iterable of token lists, got a single string "
                          "(wrap a file name in Corpus(...))")
    chunk: list = []
    for sent in data:
        if isinstance(sent, str):
            raise CorpusError("expected token lists, got a string sentence; split it first "
                              "or use Corpus/Tokenizer")
        chunk.append(sent)
        if len(chunk) >= block:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
