"""Entry point of the `lmkit` command."""
from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from .. import __version__
from ..allocator import keep_freed_memory
from ..errors import LmkitError
from ..progress import set_quiet
from ..threads import quiet_thread_pools


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` gives it ($COLUMNS, else the
    terminal of stdout, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout with the width found without importing shutil: argparse makes
    a formatter for every argument added, and shutil (with its compression modules) would
    cost every short run 2-3 ms of imports."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line and exits 2. Every (sub)command
    accepts the global --debug and --quiet, so they may also follow the command name."""

    def __init__(self, *args, top: bool = False, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        default = False if top else argparse.SUPPRESS   # a subcommand keeps what the top level set
        self.add_argument("--debug", action="store_true", default=default,
                          help="show tracebacks and debug logs")
        self.add_argument("-q", "--quiet", action="store_true", default=default,
                          help="no progress bars or info logs")

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: the families' commands, with the help line shown by `lmkit --help`; a family's module (and
#: its numpy/numba imports) loads only when its command is run or asked for help
FAMILIES = {
    "ngram": "counting n-gram language models: train, score, generate, prune, mix",
    "embed": "word2vec embeddings: train, neighbours, analogies, evaluation",
    "translate": "attentional encoder-decoder translation: train, decode, BLEU",
    "neural": "neural language models (LSTM, GRU, RNN, feed-forward): train, score, generate",
    "interpolate": "score text with a mixture of n-gram and neural models (EM weights)",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command-line parser. Only the family named in ``argv`` (all when ``argv`` is None)
    gets its full sub-parser; the others appear by name and help line."""
    from . import vocab
    parser = _Parser(prog="lmkit", description="Language modeling toolkit: vocabularies, n-gram "
                     "LMs, neural LMs, word2vec embeddings, attentional translation.", top=True)
    parser.add_argument("--version", action="version", version=f"lmkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    vocab.register(sub)
    wanted = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, help_line in FAMILIES.items():
        if wanted is None or wanted == name:
            module = importlib.import_module(f"lmkit.cli.{name}")
            module.register(sub, argv)
        else:
            sub.add_parser(name, help=help_line)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_usage(sys.stderr)
        print("lmkit: error: a command is required (see lmkit --help)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO,
                        format="lmkit: %(message)s", stream=sys.stderr)
    set_quiet(args.quiet)
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        return int(args.run(args) or 0)
    except Terminated:
        print("lmkit: terminated", file=sys.stderr)
        return 143
    except LmkitError as exc:
        if args.debug:
            raise
        print(f"lmkit: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.debug:
            raise
        if isinstance(exc, BrokenPipeError):
            return 0
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"lmkit: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lmkit: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if args.debug:
            raise
        print("lmkit: error: out of memory (input or settings too large for this machine)", file=sys.stderr)
        return 2
    except Exception as exc:   # last resort: one line, never a traceback without --debug
        if args.debug:
            raise
        print(f"lmkit: internal error: {type(exc).__name__}: {exc}; rerun with --debug for details",
              file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every `finally` and atomic write cleans up."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def without_scipy() -> None:
    """Keep SciPy out of the command's process. numba imports SciPy at its own import when it
    is installed (a version check) and SciPy's BLAS at the first compiled call (for compiled
    linear algebra, which no lmkit kernel does), and lmkit never imports it: about 0.2 s of
    every numba-using command (Brown order-3 training 0.86x the time, ten pairs of whole
    processes). ``sys.modules["scipy"] = None`` is Python's way of making ``import scipy``
    raise ImportError, which is what numba meets when SciPy is not installed (lmkit's own
    dependencies do not bring it)."""
    sys.modules.setdefault("scipy", None)  # type: ignore[arg-type]


def run() -> None:
    quiet_thread_pools()      # before numpy and numba load: see lmkit/threads.py
    keep_freed_memory()       # see lmkit/allocator.py
    without_scipy()
    code = main()
    # the objects left are freed as the interpreter ends; its last garbage collections need
    # not trace them all again (about a tenth of a short `lmkit ngram score` run)
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
