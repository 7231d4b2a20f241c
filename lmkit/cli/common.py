"""Options and helpers shared by every sub-command."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ..errors import ConfigError
from ..text import Corpus, Tokenizer
from ..text.tokenizer import MODES


def add_text_options(parser: argparse.ArgumentParser, default_tokenizer: str = "regex") -> None:
    """The text layer's options: --tokenizer, --lowercase, --strict."""
    group = parser.add_argument_group("text")
    group.add_argument("--tokenizer", choices=MODES, default=default_tokenizer,
                       help=f"how lines are split into tokens (default: {default_tokenizer})")
    group.add_argument("--lowercase", action="store_true", help="lowercase text before tokenizing")
    group.add_argument("--strict", action="store_true",
                       help="stop at the first line that is not valid UTF-8 instead of replacing bytes")


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """--cluster and --partitions (Dask; the 'dask' extra)."""
    group = parser.add_argument_group("cluster (needs the 'dask' extra)")
    group.add_argument("--cluster", metavar="SPEC", default=None,
                       help="run on Dask: local:N (N worker processes started and stopped here) or "
                            "tcp://HOST:8786 (a running scheduler; every worker must read the input paths)")
    group.add_argument("--partitions", type=positive_int, default=None, metavar="P",
                       help="input ranges and n-gram partitions on the cluster (default: 2 per worker)")


def tokenizer_from_args(args: argparse.Namespace) -> Tokenizer:
    return Tokenizer(args.tokenizer, lowercase=args.lowercase)


def command_after(argv: Sequence[str] | None, family: str) -> str | None:
    """The command named after ``family`` in a command line: its first word after ``family``
    that is not an option (None when there is none, or no command line)."""
    words = list(argv or ())
    if family not in words:
        return None
    return next((a for a in words[words.index(family) + 1:] if not a.startswith("-")), None)


def corpus_from_args(args: argparse.Namespace, sources) -> Corpus:
    return Corpus(sources, tokenizer_from_args(args), strict=args.strict, quiet=args.quiet)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def normalized_weights(weights: list[float], n_models: int) -> list[float]:
    """``--weights`` checked (one per model, not all 0) and scaled to sum to 1."""
    if len(weights) != n_models:
        raise ConfigError(f"--weights needs {n_models} values, one per model, got {len(weights)}")
    total = sum(weights)
    if total <= 0:
        raise ConfigError("--weights must not all be 0")
    return [w / total for w in weights]


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def missing_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The ``run`` of a command group called without a sub-command: its usage line and one
    error line on stderr, exit 2."""
    def run(args: argparse.Namespace) -> int:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: a command is required (see {parser.prog} --help)", file=sys.stderr)
        return 2
    return run
