"""Dask helpers shared by the families: reach or start a cluster, cut the input into
line-aligned byte ranges, and run a function on workers with errors that name the worker.

Dask is optional (the ``dask`` extra); nothing here imports it until a cluster is asked for.
Every family keeps its distributed stages in its own ``distributed.py`` over these helpers.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ._io import is_compressed
from .errors import ConfigError, CorpusError, LmkitError
from .text import DEFAULT_SPECIALS, Corpus, Tokenizer, Vocabulary, encode_first_seen, id_counts
from .text.corpus import Span, expand_sources

log = logging.getLogger(__name__)
#: seconds to wait for a scheduler before giving up
CONNECT_TIMEOUT = 15.0


def require_distributed():
    """The ``distributed`` module, or a ConfigError naming the extra that brings it."""
    try:
        import distributed
    except ImportError:
        raise ConfigError("running on a cluster needs Dask: pip install 'lmkit[dask]' "
                          "(dask[distributed])") from None
    return distributed


@contextlib.contextmanager
def connect(spec: str, *, memory_limit: str | int | None = None,
            timeout: float | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``, closed on the way out.

    ``local:N`` starts a LocalCluster of N worker processes with one thread each (stopped on
    the way out, Ctrl-C included; ``memory_limit`` per worker, e.g. ``"2GB"``);
    ``tcp://HOST:PORT`` (or ``HOST:PORT``) connects to a running scheduler within ``timeout``
    seconds (default :data:`CONNECT_TIMEOUT`) or raises a ConfigError.
    """
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    distributed = require_distributed()
    quiet = not logging.getLogger("lmkit").isEnabledFor(logging.DEBUG)
    if quiet:   # Dask's own chatter (and its shutdown noise after Ctrl-C) only with --debug
        for name in ("distributed", "tornado", "bokeh"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    if spec.startswith("local:"):
        try:
            n = int(spec[len("local:"):])
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(f"--cluster {spec}: local:N needs a number of workers N >= 1")
        with _interrupts_deferred() as interrupted:   # a half-built cluster could not be stopped
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address=":0", memory_limit=memory_limit or "auto",
                                               silence_logs=logging.ERROR if quiet else logging.INFO)
        if interrupted:
            cluster.close()
            raise KeyboardInterrupt
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    if spec.startswith("local") or ("://" not in spec and ":" not in spec):
        raise ConfigError(f"--cluster {spec!r}: expected local:N or tcp://HOST:PORT")
    try:
        client = distributed.Client(spec, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"--cluster {spec}: no Dask scheduler answered within {timeout:g} s "
                          f"({type(exc).__name__})") from None
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[list]:
    """Ctrl-C is noted, not raised, inside the block (main thread only); the list it yields
    is non-empty afterwards if one came."""
    got: list = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    previous = signal.signal(signal.SIGINT, lambda *_: got.append(True))
    try:
        yield got
    finally:
        signal.signal(signal.SIGINT, previous)


def split_inputs(sources: str | os.PathLike | Sequence[str | os.PathLike], parts: int,
                 max_bytes: int | None = None) -> list[Span]:
    """The input cut into about ``parts`` line-aligned ranges of similar size (more if a range
    would exceed ``max_bytes``): plain files into byte ranges (each line belongs to the range
    its first byte falls in), compressed files (.gz, .bz2, .xz) whole. Every worker must be
    able to read the paths."""
    if parts < 1:
        raise ConfigError(f"--partitions must be >= 1, got {parts}")
    paths = expand_sources(sources)
    if "-" in paths:
        raise ConfigError("a cluster reads files, not standard input ('-')")
    sizes = {p: os.path.getsize(p) for p in paths}
    plain = [p for p in paths if not is_compressed(p)]
    target = max(1, math.ceil(sum(sizes[p] for p in plain) / parts))
    if max_bytes:
        target = min(target, max_bytes)
    out: list[Span] = []
    for p in paths:
        if p not in plain:
            out.append(Span(p))
            continue
        n = max(1, round(sizes[p] / target))
        cuts = [sizes[p] * i // n for i in range(n + 1)]
        out.extend(Span(p, a, b) for a, b in zip(cuts, cuts[1:]))
    return out


def on_worker(fn: Callable) -> Callable:
    """``fn`` as a task whose lmkit and I/O errors name the worker that met them."""
    @functools.wraps(fn)
    def task(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (LmkitError, OSError) as exc:
            where = _worker_address()
            kind = type(exc) if isinstance(exc, LmkitError) else CorpusError
            raise kind(f"{exc} (on worker {where})") from None
    return task


def _worker_address() -> str:
    try:
        from distributed import get_worker
        return str(get_worker().address)
    except (ImportError, ValueError):
        return "?"


@on_worker
def tally_range(span: Span, tokenizer: Tokenizer, strict: bool) -> tuple[list[str], np.ndarray, int, int, int]:
    """One input range's distinct tokens, their counts, its sentences and tokens, and its
    lines with invalid UTF-8 (nothing of the range is kept on the worker)."""
    corpus = Corpus(span, tokenizer, strict=strict, quiet=True)
    ids, offsets, tokens = encode_first_seen(corpus)
    return tokens, id_counts(ids, len(tokens)), len(offsets) - 1, len(ids), corpus.stats.replaced_lines


def tally_vocabulary(client, spans: list[Span], tokenizer: Tokenizer, strict: bool, *,
                     vocab: Vocabulary | None = None, min_count: int = 1, max_size: int | None = None,
                     specials: Sequence[str] = DEFAULT_SPECIALS, key: str = "lmkit-tally"
                     ) -> tuple[Vocabulary, int, int]:
    """The vocabulary of the text in ``spans`` counted on the workers (``vocab``: use it
    instead, counting only sentences and tokens), with the corpus's sentences and tokens.
    Tallies are merged as they arrive: the client holds one range's at a time."""
    from distributed import as_completed
    total: Counter = Counter()
    n_sentences = n_tokens = replaced = 0
    futures = [client.submit(tally_range, s, tokenizer, strict, key=f"{key}-{i}")
               for i, s in enumerate(spans)]
    for fut, (tokens, counts, sents, toks, bad) in as_completed(futures, with_results=True):
        fut.release()
        if vocab is None:
            total.update(dict(zip(tokens, counts.tolist())))
        n_sentences, n_tokens, replaced = n_sentences + sents, n_tokens + toks, replaced + bad
    del futures
    if replaced:
        log.warning("%d line(s) held invalid UTF-8 and were read with U+FFFD replacements", replaced)
    if n_tokens == 0:
        raise CorpusError(f"{', '.join(map(str, spans[:3]))}: corpus holds no tokens")
    if vocab is None:
        vocab = Vocabulary.from_counts(total, min_count=min_count, max_size=max_size, specials=specials,
                                       n_sentences=n_sentences)
    return vocab, n_sentences, n_tokens
