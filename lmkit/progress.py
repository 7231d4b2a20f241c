"""The one progress helper every long loop uses: tqdm on stderr, silent when stderr is not
a terminal or when asked to be quiet."""
from __future__ import annotations

import sys
from typing import Any

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence (or re-enable) every progress bar of this process."""
    global _QUIET
    _QUIET = bool(quiet)


class _Silent:
    """What a disabled bar does (nothing), without importing tqdm (50 ms of start-up)."""

    def __init__(self, iterable: Any = None) -> None:
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: float = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress(iterable: Any = None, *, total: float | None = None, desc: str = "",
             unit: str = "it", quiet: bool | None = None, **kwargs: Any) -> Any:
    """Return a tqdm bar on stderr; a silent stand-in when quiet or when stderr is not a TTY."""
    quiet = _QUIET if quiet is None else quiet
    if quiet or not sys.stderr.isatty():
        return _Silent(iterable)
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr,
                dynamic_ncols=True, unit_scale=True, leave=False, **kwargs)
