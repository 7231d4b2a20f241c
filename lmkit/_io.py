"""File helpers shared by every family: compressed open, atomic writes."""
from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import CorpusError

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open a file for reading bytes, decompressing by suffix (.gz, .bz2, .xz)."""
    path = Path(path)
    opener = _OPENERS.get(path.suffix)
    try:
        if opener is None:
            return open(path, "rb")
        # The decompressors' own readline is Python code; a BufferedReader makes it C.
        return io.BufferedReader(opener(path, "rb"), buffer_size=1 << 20)
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a directory, expected a file") from None
    except PermissionError:
        raise CorpusError(f"{path}: permission denied") from None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path`, then rename it over `path`.

    A crash or exception leaves any previous file untouched. A `.gz` suffix compresses.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    binary = "b" in mode
    try:
        with os.fdopen(fd, "wb") as raw:
            if path.suffix == ".gz":
                with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
                    handle = gz if binary else io.TextIOWrapper(gz, encoding=encoding, newline="\n")
                    yield handle
                    if not binary:
                        handle.flush()
                        handle.detach()
            elif binary:
                yield raw
            else:
                handle = io.TextIOWrapper(raw, encoding=encoding, newline="\n")
                yield handle
                handle.flush()
                handle.detach()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds.

    For writers (numpy.save, ...) that want a file name rather than a handle; the temporary
    name keeps `path`'s suffix so such writers do not append their own.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_format_json(path: str | os.PathLike, fmt: str, version: int, what: str) -> dict:
    """Read a JSON header that names its format and version, with one-line errors naming the
    file when it is missing, not JSON, or of another format or version."""
    import json

    from .errors import ModelFormatError
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(f"{path.parent}: {path.name} is missing; not {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise ModelFormatError(f"{path}: format {got!r} is not {fmt!r}")
    if meta.get("version") != version:
        raise ModelFormatError(f"{path}: version {meta.get('version')} is not supported "
                               f"(this lmkit reads version {version})")
    return meta
