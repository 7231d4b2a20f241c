"""Numeric settings checked in one place: finite, inside their range, whole where they must be.

Each family declares the ranges of its settings once (``Range`` objects); the API
constructors call :func:`check_ranges` and the CLI parses the same option with
:meth:`Range.arg`, so a value refused on the command line is refused by the API too, with the
same message.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Range:
    """Allowed values of one numeric setting: ``lo``..``hi`` (None: unbounded; ``*_open``
    excludes the end), whole numbers only with ``integer``, None allowed with ``optional``."""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    optional: bool = False

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a finite number"
        if self.lo is not None and self.hi is not None:
            return (f"{kind} in {'(' if self.lo_open else '['}{_num(self.lo)}, "
                    f"{_num(self.hi)}{')' if self.hi_open else ']'}")
        if self.lo is not None:
            return f"{kind} {'>' if self.lo_open else '>='} {_num(self.lo)}"
        if self.hi is not None:
            return f"{kind} {'<' if self.hi_open else '<='} {_num(self.hi)}"
        return kind

    def ok(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
            return False
        x = float(value)
        if not math.isfinite(x) or (self.integer and x != int(x)):
            return False
        if self.lo is not None and (x < self.lo or (self.lo_open and x == self.lo)):
            return False
        return self.hi is None or not (x > self.hi or (self.hi_open and x == self.hi))

    def check(self, name: str, value: Any) -> Any:
        """``value`` if allowed, else a ConfigError naming ``name`` and the range."""
        if not self.ok(value):
            raise ConfigError(f"{name} must be {self.describe()}, got {value!r}")
        return value

    def arg(self) -> Callable[[str], Any]:
        """An argparse ``type=`` that parses and checks an option's text."""
        def parse(text: str) -> Any:
            try:
                value: Any = int(text) if self.integer else float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{text!r} is not {'a whole number' if self.integer else 'a number'}") from None
            if not self.ok(value):
                raise argparse.ArgumentTypeError(f"{text!r} must be {self.describe()}")
            return value
        parse.__name__ = "whole number" if self.integer else "number"
        return parse


def check_ranges(obj: Any, ranges: Mapping[str, Range], prefix: str = "") -> None:
    """Check each attribute of ``obj`` named in ``ranges``."""
    for name, rng in ranges.items():
        rng.check(prefix + name, getattr(obj, name))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


#: shared by every command that takes a seed
SEED = Range(0, 2**32 - 1, integer=True)
