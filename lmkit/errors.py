"""One family of error types. The library raises these with messages that name the
file, line or argument at fault; the CLI turns them into one line on stderr and exit 2."""
from __future__ import annotations


class LmkitError(Exception):
    """Base class of every error lmkit raises on purpose."""


class ConfigError(LmkitError, ValueError):
    """A bad parameter value (names the parameter and what would fix it)."""


class CorpusError(LmkitError):
    """A corpus that cannot be read: missing, empty, not UTF-8 in strict mode, ..."""


class ModelFormatError(LmkitError):
    """A model or vocabulary file that is malformed, truncated or from another tool/version."""


def where(path: object, line: int | None = None) -> str:
    """Format a 'file:line' location for error messages (line is 1-based)."""
    return f"{path}:{line}" if line is not None else f"{path}"
