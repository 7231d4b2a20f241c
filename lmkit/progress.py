"""The one progress helper every long loop uses: tqdm on stderr, silent when stderr is not
a terminal or when asked to be quiet."""
from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence (or re-enable) every progress bar of this process."""
    global _QUIET
    _QUIET = bool(quiet)


def progress(iterable: Any = None, *, total: float | None = None, desc: str = "",
             unit: str = "it", quiet: bool | None = None, **kwargs: Any) -> tqdm:
    """Return a tqdm bar on stderr; disabled when quiet or when stderr is not a TTY."""
    quiet = _QUIET if quiet is None else quiet
    disable = quiet or not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable,
                dynamic_ncols=True, unit_scale=True, leave=False, **kwargs)
