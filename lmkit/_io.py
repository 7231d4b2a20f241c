"""File helpers shared by every family: compressed open, atomic writes.

The compression, temporary-file and copying modules are imported when first needed: a short
command that reads a plain file (``lmkit ngram score``) does not pay for them."""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import ConfigError, CorpusError

#: suffix -> the module whose ``open`` decompresses it
_OPENERS = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}


def _decompress_errors() -> tuple[type[BaseException], ...]:
    """What a truncated or corrupt compressed stream raises (its modules are loaded by then)."""
    import lzma
    return EOFError, OSError, ValueError, zlib.error, lzma.LZMAError


def is_compressed(path: str | os.PathLike) -> bool:
    """True for the suffixes :func:`open_binary` decompresses (.gz, .bz2, .xz)."""
    return Path(path).suffix in _OPENERS


class _CheckedStream(io.RawIOBase):
    """A decompressing stream whose truncation or corruption (EOFError, zlib/bz2/lzma errors)
    becomes one :class:`CorpusError` naming the file, whoever reads it."""

    def __init__(self, inner: IO[bytes], path: Path) -> None:
        super().__init__()
        self._inner, self._path = inner, path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._inner.read(len(buffer))
        except _decompress_errors() as exc:
            raise CorpusError(f"{self._path}: truncated or corrupt {self._path.suffix} file ({exc})") from None
        buffer[:len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        return self._inner.seekable()

    def tell(self) -> int:
        return self._inner.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            return self._inner.seek(offset, whence)
        except _decompress_errors() as exc:
            raise CorpusError(f"{self._path}: truncated or corrupt {self._path.suffix} file ({exc})") from None

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open a file for reading bytes, decompressing by suffix (.gz, .bz2, .xz); a truncated or
    corrupt compressed file raises :class:`CorpusError` naming it."""
    path = Path(path)
    module = _OPENERS.get(path.suffix)
    opener = None if module is None else importlib.import_module(module).open
    try:
        if opener is None:
            return open(path, "rb")
        # The decompressors' own readline is Python code; a BufferedReader makes it C.
        inner: IO[bytes] = opener(path, "rb")
        return io.BufferedReader(_CheckedStream(inner, path), buffer_size=1 << 20)
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a directory, expected a file") from None
    except PermissionError:
        raise CorpusError(f"{path}: permission denied") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _file_mode(path: Path) -> int:
    """The mode a new file at ``path`` should get: an existing file's own, else what
    ``open()`` would give (0666 less the umask), not mkstemp's 0600."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _resolve_target(path: str | os.PathLike) -> tuple[Path, bool]:
    """Where a whole-file write of ``path`` goes, and whether it can be atomic.

    Symlinks are followed (the link stays, its target is replaced); ``-`` is stdout and
    character devices and FIFOs are written through, never replaced; a directory is an
    error naming ``path``."""
    if str(path) == "-":
        return Path("/dev/stdout"), False
    try:
        st = os.stat(path)              # follows links, /proc's magic ones (/dev/stdout) too
    except FileNotFoundError:
        return Path(os.path.realpath(path)), True
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{path}: is a directory; expected a file name")
    if not stat.S_ISREG(st.st_mode):    # device, FIFO, pipe, socket: write through, never replace
        return Path(path), False
    return Path(os.path.realpath(path)), True


def _temp_beside(path: Path, user_path, suffix: str) -> tuple[int, str]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"{user_path}: cannot write here ({exc.strerror})") from None


@contextlib.contextmanager
def _wrapped(raw: IO[bytes], path: Path, mode: str, encoding: str | None) -> Iterator[IO]:
    """``raw`` as the handle ``mode`` asks for (text or bytes; gzip for a .gz name)."""
    binary = "b" in mode
    if path.suffix == ".gz":
        import gzip
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            if binary:
                yield gz  # type: ignore[misc]
            else:
                text = io.TextIOWrapper(gz, encoding=encoding, newline="\n")
                yield text
                text.flush()
                text.detach()
    elif binary:
        yield raw
    else:
        wrapper = io.TextIOWrapper(raw, encoding=encoding, newline="\n")
        yield wrapper
        wrapper.flush()
        wrapper.detach()
    raw.flush()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path`, then rename it over `path`.

    A crash, an exception or SIGTERM (the CLI turns it into an exception) leaves any previous
    file untouched and no temporary file behind. A `.gz` suffix compresses. The new file gets
    the usual mode (the old file's, or 0666 less the umask). Symlinks are followed; `-`
    (stdout), character devices and FIFOs are written through instead of replaced.
    """
    user_path = path
    target, atomic = _resolve_target(path)
    if not atomic:
        with open(target, "wb") as raw, _wrapped(raw, Path(str(user_path)), mode, encoding) as handle:
            yield handle
        return
    fd, tmp = _temp_beside(target, user_path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as raw:
            with _wrapped(raw, target, mode, encoding) as handle:
                yield handle
            os.fchmod(raw.fileno(), _file_mode(target))
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds.

    For writers (numpy.save, ...) that want a file name rather than a handle; the temporary
    name keeps `path`'s suffix so such writers do not append their own. Targets are resolved
    as in :func:`atomic_write` (devices and stdout get the bytes copied through).
    """
    import shutil
    import tempfile
    user_path = path
    target, atomic = _resolve_target(path)
    if not atomic:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir) / f"out{Path(str(user_path)).suffix}"
            yield tmp
            with open(tmp, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        return
    fd, tmp_name = _temp_beside(target, user_path, target.suffix or ".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where the
    system cannot."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    ok = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0
    return ok


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty folder beside ``path``; when the block succeeds it takes the place
    of ``path`` as a whole, in one step: readers (and a run killed at any moment) see either
    the old complete folder or the new complete one, never a mix. On failure the new folder
    is removed and ``path`` is untouched.

    Whatever ``path`` held before is replaced, so it must be a folder lmkit owns.
    """
    import shutil
    import tempfile
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{path}: exists and is not a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write here ({exc.strerror})") from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        _fsync_tree(tmp)
        if not target.exists():
            os.rename(tmp, target)
        elif _exchange(tmp, target):
            shutil.rmtree(tmp)     # now the old folder
        else:                      # two renames: a crash between them leaves the old folder
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rename(target, old / "x")
            os.rename(tmp, target)
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_json_object(path: str | os.PathLike) -> dict:
    """A JSON object from a file, with one-line errors naming it (missing, not JSON, not an
    object)."""
    import json

    from .errors import ModelFormatError
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(f"{path.parent}: {path.name} is missing") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path}: expected a JSON object")
    return data


def read_format_json(path: str | os.PathLike, fmt: str, version: int | tuple[int, ...], what: str) -> dict:
    """Read a JSON header that names its format and version (one, or a tuple of the versions
    this lmkit reads), with one-line errors naming the file when it is missing, not JSON, or
    of another format or version."""
    from .errors import ModelFormatError
    path = Path(path)
    if not path.exists():
        raise ModelFormatError(f"{path.parent}: {path.name} is missing; not {what}")
    meta = read_json_object(path)
    if meta.get("format") != fmt:
        raise ModelFormatError(f"{path}: format {meta.get('format')!r} is not {fmt!r}")
    versions = version if isinstance(version, tuple) else (version,)
    got = meta.get("version")
    if got not in versions or isinstance(got, bool) or not isinstance(got, int):
        kind = f" (a {type(got).__name__}, not a number)" if not isinstance(got, int) else ""
        raise ModelFormatError(f"{path}: version {got!r}{kind} is not supported (this lmkit reads version "
                               f"{' or '.join(map(str, versions))})")
    return meta


def _npy_header(f: IO[bytes], where: str) -> tuple[tuple[int, ...], Any, bool]:
    """(shape, dtype, fortran_order) of an npy stream positioned at its start."""
    import numpy as np
    from numpy.lib import format as npy_format

    from .errors import ModelFormatError
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise ValueError(f"npy version {version}")
    except Exception as exc:   # numpy raises ValueError, SyntaxError, TokenError, ... on bad headers
        raise ModelFormatError(f"{where}: not a readable npy array ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject:
        raise ModelFormatError(f"{where}: holds Python objects; lmkit files never do (no pickle)")
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ModelFormatError(f"{where}: impossible shape {shape}")
    return shape, np.dtype(dtype), fortran


def load_npy(path: str | os.PathLike, mmap: bool = False):
    """An npy file as an array (memory-mapped with ``mmap``), its header checked against the
    file's size before anything is allocated; any damage is a ModelFormatError naming it."""
    import numpy as np

    from .errors import ModelFormatError
    path = Path(path)
    try:
        with open(path, "rb") as f:
            shape, dtype, fortran = _npy_header(f, str(path))
            offset = f.tell()
            need = int(np.prod(shape, dtype=object)) * dtype.itemsize
            have = os.fstat(f.fileno()).st_size - offset
            if need != have:
                raise ModelFormatError(f"{path}: header says {shape} {dtype} ({need} bytes) but the file "
                                       f"holds {have} bytes")
            if mmap and need:
                return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                                 order="F" if fortran else "C")
            data = np.fromfile(f, dtype=dtype, count=int(np.prod(shape, dtype=object)))
            return data.reshape(shape, order="F" if fortran else "C")
    except FileNotFoundError:
        raise ModelFormatError(f"{path.parent}: {path.name} is missing") from None
    except IsADirectoryError:
        raise ModelFormatError(f"{path}: is a directory, expected an npy file") from None


def load_npz(path: str | os.PathLike, names: list[str] | None = None) -> dict:
    """The arrays of an npz file (all, or ``names``), each member's header checked against
    its size in the archive first; a damaged or truncated archive is a ModelFormatError."""
    import zipfile

    import numpy as np

    from .errors import ModelFormatError
    path = Path(path)
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
            for name in (names if names is not None else list(members)):
                info = members.get(name)
                if info is None:
                    raise ModelFormatError(f"{path}: array {name!r} is missing")
                with zf.open(info) as f:
                    shape, dtype, fortran = _npy_header(f, f"{path}[{name}]")
                    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
                    if need > info.file_size:
                        raise ModelFormatError(f"{path}[{name}]: header says {shape} {dtype}, more than "
                                               f"the member's {info.file_size} bytes")
                    raw = bytearray(need)             # read once into writable memory: no copy after
                    got = f.readinto(raw) if need else 0  # type: ignore[attr-defined]
                    extra = f.read(1)
                if got != need or extra:
                    raise ModelFormatError(f"{path}[{name}]: header says {shape} {dtype} but the member "
                                           f"holds {got + len(extra)}+ bytes")
                out[name] = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        # NotImplementedError: zipfile's answer to a damaged "version needed" or compression field
        raise ModelFormatError(f"{path}: damaged or truncated archive ({exc})") from None
    return out
