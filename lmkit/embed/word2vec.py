"""word2vec training (Mikolov et al. 2013): skip-gram or CBOW, hierarchical softmax and/or
negative sampling, sub-sampling, linear learning-rate decay, Hogwild threads."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from .._io import atomic_folder, load_npz, read_format_json
from ..checks import SEED, Range, check_ranges
from ..errors import ConfigError, CorpusError, ModelFormatError
from ..progress import progress
from ..text import UNK, Corpus, EncodedCorpus, Vocabulary, encode_corpus
from . import _kernels as K
from .tables import huffman_codes, keep_probabilities, negative_sampling_table
from .vectors import KeyedVectors

log = logging.getLogger(__name__)
MODEL_FORMAT = "lmkit-word2vec"
MODEL_VERSION = 1
SPECIALS = (UNK,)  # id 0: words below min_count; dropped before windows are formed
# With several workers each thread keeps private copies of the output rows all threads write
# constantly (Huffman nodes nearest the root, the most frequent words' negative-sampling rows)
# and publishes its changes every SYNC_WORDS corpus words (see _kernels.train_job).
HOT_ROWS = 64
SYNC_WORDS = 1024
NO_HOT_ROWS = (0, 0, 0, 0, 0)


#: allowed values of the numeric settings (the CLI parses its options with the same ranges)
WORD2VEC_RANGES = {
    "dim": Range(1, 10_000, integer=True),
    "window": Range(1, 1_000, integer=True),
    "negative": Range(0, 100, integer=True),
    "ns_exponent": Range(-10, 10),
    "sample": Range(0, 1, hi_open=True),
    "alpha": Range(0, 10, lo_open=True, optional=True),
    "min_alpha": Range(0, 10),
    "min_count": Range(1, None, integer=True),
    "max_vocab_size": Range(1, None, integer=True, optional=True),
    "epochs": Range(1, 100_000, integer=True),
    "workers": Range(1, 1_024, integer=True),
    "seed": SEED,
    "batch_words": Range(1, 10**8, integer=True),
    "max_sentence": Range(1, 10**8, integer=True),
}


@dataclass
class Word2VecConfig:
    """Hyper-parameters (names and defaults of the word2vec C tool / gensim)."""
    dim: int = 100
    window: int = 5
    sg: bool = True               # skip-gram (True) or CBOW (False)
    hs: bool = False              # hierarchical softmax
    negative: int = 5             # negative samples per prediction (0: none)
    ns_exponent: float = 0.75
    sample: float = 1e-3          # sub-sampling threshold (0: off)
    alpha: float | None = None    # start learning rate (default 0.025 skip-gram, 0.05 CBOW)
    min_alpha: float = 0.0001
    min_count: int = 5
    max_vocab_size: int | None = None
    epochs: int = 5
    workers: int = 2
    seed: int = 1
    batch_words: int = 10000      # words per job handed to a worker
    max_sentence: int = 10000     # longer sentences are cut (as the C tool's MAX_SENTENCE_LENGTH)

    def check(self) -> None:
        check_ranges(self, WORD2VEC_RANGES)
        rules = [
            (self.hs or self.negative > 0, "choose hierarchical softmax (hs=True) and/or negative > 0"),
            (self.alpha is None or self.min_alpha <= self.alpha,
             f"min_alpha ({self.min_alpha}) must not exceed alpha ({self.alpha})"),
        ]
        for ok, message in rules:
            if not ok:
                raise ConfigError(message)

    @property
    def start_alpha(self) -> float:
        return self.alpha if self.alpha is not None else (0.025 if self.sg else 0.05)


@dataclass
class EpochStats:
    epoch: int
    loss: float             # mean loss per prediction (-log likelihood), measured while learning
    words: int              # raw corpus words processed
    seconds: float
    words_per_second: float
    alpha_end: float


class Word2Vec:
    """Train word vectors; ``.wv`` holds them as :class:`KeyedVectors`.

    >>> model = Word2Vec(dim=100, negative=5).train(Corpus("data/brown.txt.gz", Tokenizer(lowercase=True)))
    >>> model.wv.most_similar("king")
    """

    def __init__(self, dim: int = 100, window: int = 5, sg: bool = True, hs: bool = False, negative: int = 5,
                 ns_exponent: float = 0.75, sample: float = 1e-3, alpha: float | None = None,
                 min_alpha: float = 0.0001, min_count: int = 5, max_vocab_size: int | None = None,
                 epochs: int = 5, workers: int = 2, seed: int = 1, batch_words: int = 10000,
                 max_sentence: int = 10000) -> None:
        """Hyper-parameters with the word2vec C tool's / gensim's names and defaults (see
        :class:`Word2VecConfig`); checked here, so a bad value fails before any work."""
        self.config = Word2VecConfig(dim, window, sg, hs, negative, ns_exponent, sample, alpha, min_alpha,
                                     min_count, max_vocab_size, epochs, workers, seed, batch_words, max_sentence)
        self.config.check()
        self.vocab: Vocabulary | None = None
        empty = np.zeros((0, self.config.dim), np.float32)
        self.syn0: np.ndarray = empty
        self.syn1: np.ndarray = empty
        self.syn1neg: np.ndarray = empty
        self.history: list[EpochStats] = []
        self.epochs_done = 0
        self.words_done = 0
        #: after training on a cluster: synchronisations and the bytes they moved
        self.sync_traffic: dict | None = None
        self._wv: KeyedVectors | None = None

    # ------------------------------------------------------------------ set-up
    def build_vocab(self, data: Corpus | EncodedCorpus | Iterable[Sequence[str]]) -> Word2Vec:
        """Vocabulary (``min_count``, ``max_vocab_size``) and freshly initialised weights."""
        c = self.config
        if isinstance(data, EncodedCorpus):
            raise ConfigError("build the vocabulary from text; an EncodedCorpus already has one")
        self.vocab = Vocabulary.build(data, min_count=c.min_count, max_size=c.max_vocab_size, specials=SPECIALS)
        if len(self.vocab) <= 1:
            raise CorpusError(f"no word occurs at least min_count={c.min_count} times")
        self._init_weights()
        return self

    def use_vocab(self, vocab: Vocabulary) -> Word2Vec:
        """Train with a given vocabulary (e.g. the C tool's ``-read-vocab`` file: ``word count``
        lines): its counts, cut at ``min_count``/``max_vocab_size`` and sorted as
        :meth:`build_vocab` would; fresh weights."""
        c = self.config
        counts = {t: int(n) for t, n in zip(vocab.itos, vocab.counts.tolist()) if t not in vocab.specials}
        self.vocab = Vocabulary.from_counts(counts, min_count=c.min_count, max_size=c.max_vocab_size,
                                            specials=SPECIALS)
        if len(self.vocab) <= 1:
            raise CorpusError(f"no word of the given vocabulary has a count of at least min_count={c.min_count}")
        self._init_weights()
        return self

    def _need_vocab(self) -> Vocabulary:
        if self.vocab is None:
            raise ConfigError("the model has no vocabulary yet; call build_vocab or train first")
        return self.vocab

    def _init_weights(self) -> None:
        c = self.config
        V = len(self._need_vocab())
        rng = np.random.default_rng(c.seed)
        self.syn0 = rng.random((V, c.dim), dtype=np.float32)   # in place: no full-size temporaries
        self.syn0 -= np.float32(0.5)
        self.syn0 /= np.float32(c.dim)
        # only the output layers the objective uses (an unused one has no rows, as in gensim)
        self.syn1 = np.zeros((max(V - 1, 1) if c.hs else 0, c.dim), dtype=np.float32)
        self.syn1neg = np.zeros((V if c.negative > 0 else 0, c.dim), dtype=np.float32)
        self._tables = None
        self._wv = None

    def _train_tables(self):
        if self._tables is None:
            c = self.config
            counts = self.vocab.counts.astype(np.float64).copy()
            counts[0] = 0  # <unk> is never predicted nor sampled
            V = len(counts)
            if c.hs:   # Huffman over real words only (ids 1..V-1); row 0 (<unk>) unused
                codes, points, lengths = huffman_codes(np.maximum(counts, 0)[1:])
                codes = np.vstack([np.zeros((1, codes.shape[1]), np.uint8), codes])
                points = np.vstack([np.zeros((1, points.shape[1]), np.int32), points])
                lengths = np.concatenate([[0], lengths]).astype(np.int32)
            else:      # the kernel never reads them: no tree for negative sampling alone
                codes, points, lengths = np.zeros((V, 1), np.uint8), np.zeros((V, 1), np.int32), np.zeros(V, np.int32)
            neg_prob, neg_alias = negative_sampling_table(counts, c.ns_exponent)
            keep = keep_probabilities(counts, c.sample)
            sig, logsig = K.sigmoid_tables()
            self._tables = (keep, points, codes, lengths, neg_prob, neg_alias, sig, logsig)
        return self._tables

    # ------------------------------------------------------------------ training
    def train(self, data: Corpus | EncodedCorpus | Iterable[Sequence[str]], *, epochs: int | None = None,
              resume: bool = False, stop_after: int | None = None, quiet: bool | None = None,
              checkpoint: str | os.PathLike | None = None, client=None, replicas: int | None = None,
              sync_words: int | None = None, sync_method: str = "scaled",
              partitions: int | None = None) -> Word2Vec:
        """Train on ``data`` (builds the vocabulary first if there is none; with a vocabulary,
        continues training on new text, its unknown words ignored).

        ``epochs``: passes, the learning rate falling from alpha to min_alpha over them
        (default ``config.epochs``). ``resume=True``: finish the ``config.epochs`` schedule of a
        model loaded from a checkpoint exactly where it stopped (same rates, same random
        streams: a single worker gives the same vectors as an uninterrupted run).
        ``stop_after``: end after this many epochs of the schedule. ``checkpoint``: a model
        folder written atomically after every epoch, from which :meth:`load` resumes.
        ``client``: a ``distributed.Client``; ``data`` (a Corpus or paths every worker can read)
        is then trained on by ``replicas`` model replicas synchronised every ``sync_words``
        words by ``sync_method`` (see :func:`lmkit.embed.distributed.train_on_cluster`)."""
        if client is not None:
            from .distributed import train_on_cluster
            if resume or checkpoint is not None or stop_after is not None:
                raise ConfigError("resume, checkpoint and stop_after apply to one machine, not to a cluster")
            if not isinstance(data, (Corpus, str, os.PathLike, list, tuple)):
                raise ConfigError("training on a cluster needs a Corpus or file paths the workers can read")
            return train_on_cluster(self, client, data, replicas=replicas, sync_words=sync_words,
                                    method=sync_method, partitions=partitions, epochs=epochs, quiet=quiet)
        c = self.config
        if resume:
            first_epoch = self.epochs_done
            schedule = c.epochs
        else:
            first_epoch = 0
            schedule = epochs or c.epochs
        epochs = schedule - first_epoch
        if stop_after is not None:
            epochs = min(epochs, stop_after)
        if epochs <= 0:
            return self
        if self.vocab is None:
            if not isinstance(data, (Corpus, EncodedCorpus)) and not hasattr(data, "__len__"):
                data = list(data)   # a one-shot iterator is read twice: vocabulary, then ids
            self.build_vocab(data)
        if isinstance(data, EncodedCorpus):
            if data.vocab is not None and data.vocab.itos != self._need_vocab().itos:
                raise ConfigError("the encoded corpus uses another vocabulary; encode it with model.vocab")
            enc = data
        else:
            enc = encode_corpus(data, self._need_vocab())
        ids = np.ascontiguousarray(enc.ids, dtype=np.int32) if not isinstance(enc.ids, np.memmap) else enc.ids
        offsets = np.ascontiguousarray(enc.offsets, dtype=np.int64)
        if enc.n_tokens == 0:
            raise CorpusError("the corpus holds no tokens")
        tables = self._train_tables()
        plan = Schedule(_plan_jobs(offsets, c.batch_words), offsets, int(enc.n_tokens), schedule,
                        c.start_alpha, c.min_alpha, c.seed)
        syn1, syn1neg, hot_of_thread = self._private_rows()
        epoch_base = self.epochs_done
        bar = progress(total=int(enc.n_tokens) * epochs, desc="word2vec", unit="word", quiet=quiet)

        def run(job, weights=(self.syn0, syn1, syn1neg)):
            return self._run_job((ids, offsets), weights, tables, job, hot_of_thread())
        try:
            with ThreadExecutor(c.workers) as executor:
                for e in range(epochs):
                    t0 = time.perf_counter()
                    loss_sum, n_pred, n_words = 0.0, 0, 0
                    jobs = plan.epoch_jobs(first_epoch + e, epoch_base + e)
                    for res in executor.map(run, jobs):
                        loss_sum += res[0]
                        n_pred += res[1]
                        n_words += res[2]
                        bar.update(res[2])
                        if n_pred:
                            bar.set_postfix(loss=f"{loss_sum / n_pred:.4f}", alpha=f"{jobs[0][2]:.5f}", refresh=False)
                    dt = time.perf_counter() - t0
                    self.epochs_done = epoch_base + e + 1
                    self.words_done += n_words
                    stats = EpochStats(self.epochs_done, loss_sum / max(n_pred, 1), n_words, dt,
                                       n_words / dt if dt > 0 else float("inf"), float(jobs[-1][3]))
                    self.history.append(stats)
                    log.info("epoch %d: loss %.4f, %.0f words/s, alpha %.5f", stats.epoch, stats.loss,
                             stats.words_per_second, stats.alpha_end)
                    if checkpoint is not None:
                        self.save(checkpoint)
        finally:
            bar.close()
        self._wv = None
        return self

    def _private_rows(self):
        """With several workers: syn1 and syn1neg with spare rows at the end, where each
        thread keeps its copy of the rows all threads write constantly (HOT_ROWS Huffman nodes
        nearest the root, HOT_ROWS most frequent words); ``self.syn1``/``self.syn1neg`` become
        views of their shared part. Returns (syn1, syn1neg, function giving the calling
        thread's ``hot`` tuple for train_job)."""
        c = self.config
        n1, nn = self.syn1.shape[0], self.syn1neg.shape[0]
        used = ([n1] if c.hs else []) + ([nn - 1] if c.negative > 0 else [])
        n_hot = min([HOT_ROWS] + used) if c.workers > 1 else 0
        if n_hot == 0:
            return self.syn1, self.syn1neg, lambda: NO_HOT_ROWS
        spare = np.zeros((c.workers * n_hot, c.dim), dtype=np.float32)
        syn1, syn1neg = np.concatenate([self.syn1, spare]), np.concatenate([self.syn1neg, spare])
        self.syn1, self.syn1neg = syn1[:n1], syn1neg[:nn]
        slots: dict[int, int] = {}
        lock = threading.Lock()

        def hot_of_thread() -> tuple[int, int, int, int, int]:
            with lock:
                slot = slots.setdefault(threading.get_ident(), len(slots))
            return (n_hot, n1 - n_hot, n1 + slot * n_hot, 1, nn + slot * n_hot)
        return syn1, syn1neg, hot_of_thread

    def objective(self, data: Corpus | EncodedCorpus | Iterable[Sequence[str]], seed: int = 12345) -> float:
        """Mean loss per prediction (-log likelihood of the targets against the same kind of
        negatives / Huffman paths as training) over ``data`` with the weights held fixed.

        The per-epoch ``history`` loss is measured while learning, so with a high learning rate
        it profits from adapting to the text just seen; this one does not, and it falls
        epoch after epoch."""
        if self.vocab is None:
            raise ConfigError("the model has no vocabulary yet; train it first")
        enc = data if isinstance(data, EncodedCorpus) else encode_corpus(data, self._need_vocab())
        t = self._train_tables()
        syn0, syn1, syn1neg = self.syn0.copy(), self.syn1.copy(), self.syn1neg.copy()
        corpus = (np.ascontiguousarray(enc.ids, dtype=np.int32), np.ascontiguousarray(enc.offsets, dtype=np.int64))
        loss, n, _ = self._run_job(corpus, (syn0, syn1, syn1neg), t, (0, enc.n_sentences, 0.0, 0.0, seed),
                                   NO_HOT_ROWS)
        return loss / max(n, 1)

    def _run_job(self, corpus, weights, tables, job, hot) -> tuple[float, int, int]:
        """One call of the numba kernel: ``job`` = (first sentence, end sentence, start and end
        learning rate (0: no update), seed). Shared by training and :meth:`objective`."""
        c = self.config
        lo, hi, a0, a1, seed = job
        settings = (c.window, c.negative, c.hs, not c.sg, c.max_sentence, SYNC_WORDS)
        return K.train_job(corpus, weights, tuple(tables), settings,
                           (lo, hi, 1, float(a0), float(a1), seed), hot)

    # ------------------------------------------------------------------ results
    @property
    def wv(self) -> KeyedVectors:
        """The trained input vectors of the real words (``<unk>`` left out), most frequent first."""
        if self._wv is None:
            if self.vocab is None:
                raise ConfigError("the model has no vocabulary yet; train it first")
            vocab = self._need_vocab()
            self._wv = KeyedVectors(vocab.itos[1:], self.syn0[1:], vocab.counts[1:])
        return self._wv

    def save(self, folder: str | os.PathLike) -> None:
        """Everything needed to resume training: vocabulary, all weight matrices (npz, no
        pickle), configuration and progress (JSON). The folder switches from its old complete
        state to the new one in one step (a kill at any moment leaves one or the other)."""
        meta = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "config": asdict(self.config),
                "epochs_done": self.epochs_done, "words_done": self.words_done,
                "history": [asdict(h) for h in self.history]}
        with atomic_folder(folder) as tmp:
            self._need_vocab().save(tmp / "vocab.tsv")
            with open(tmp / "weights.npz", "wb") as f:
                np.savez(f, syn0=self.syn0, syn1=self.syn1, syn1neg=self.syn1neg)
            with open(tmp / "model.json", "w", encoding="utf-8") as out:
                json.dump(meta, out, indent=1)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Word2Vec:
        """A model folder written by :meth:`save`; every field, size and type is checked."""
        folder = Path(folder)
        where = folder / "model.json"
        meta = read_format_json(where, MODEL_FORMAT, MODEL_VERSION, "an lmkit word2vec model folder")
        config = meta.get("config")
        known = {f.name for f in fields(Word2VecConfig)}
        if not isinstance(config, dict) or set(config) - known:
            raise ModelFormatError(f"{where}: 'config' must be an object with the fields {sorted(known)}")
        for name in ("sg", "hs"):
            if name in config and not isinstance(config[name], bool):
                raise ModelFormatError(f"{where}: config.{name} must be true or false")
        try:
            model = cls(**config)
        except ConfigError as exc:
            raise ModelFormatError(f"{where}: {exc}") from None
        for name in ("epochs_done", "words_done"):
            if type(meta.get(name)) is not int or meta[name] < 0:
                raise ModelFormatError(f"{where}: {name} must be a whole number >= 0, got {meta.get(name)!r}")
        model.vocab = Vocabulary.load(folder / "vocab.tsv", specials=SPECIALS)
        z = load_npz(folder / "weights.npz", ["syn0", "syn1", "syn1neg"])
        model.syn0, model.syn1, model.syn1neg = z["syn0"], z["syn1"], z["syn1neg"]
        V, c = len(model.vocab), model.config
        expected = [("syn0", model.syn0, True, V), ("syn1", model.syn1, c.hs, max(V - 1, 1)),
                    ("syn1neg", model.syn1neg, c.negative > 0, V)]
        for name, mat, used, rows in expected:
            if mat.dtype != np.float32 or mat.ndim != 2 or mat.shape[1] != c.dim or \
                    mat.shape[0] != (rows if used else 0) and used:
                raise ModelFormatError(f"{folder}/weights.npz: {name} has shape {mat.shape} {mat.dtype}, "
                                       f"expected ({rows}, {c.dim}) float32 for {V} words")
            if used and not np.isfinite(mat).all():
                raise ModelFormatError(f"{folder}/weights.npz: {name} holds values that are not finite")
        model.epochs_done = meta["epochs_done"]
        model.words_done = meta["words_done"]
        try:
            model.history = [EpochStats(**h) for h in meta.get("history", [])]
        except TypeError:
            raise ModelFormatError(f"{where}: 'history' must be a list of epoch records") from None
        model._tables = None
        return model


@dataclass(frozen=True)
class Schedule:
    """What a training run does, independent of who runs it: the jobs (consecutive sentence
    ranges of about ``batch_words`` words, in corpus order) and the learning rate, falling
    linearly from ``start_alpha`` to ``end_alpha`` over ``epochs`` passes of ``n_tokens`` words.
    Threads here; processes or a cluster could run the same jobs."""
    jobs: list[tuple[int, int, int]]     # (first sentence, end sentence, corpus words before)
    offsets: np.ndarray
    n_tokens: int
    epochs: int
    start_alpha: float
    end_alpha: float
    seed: int

    def epoch_jobs(self, epoch: int, seed_epoch: int) -> list[tuple[int, int, float, float, int]]:
        """Epoch ``epoch`` of the schedule (0-based) as kernel jobs: (first sentence, end
        sentence, learning rate at its start and end, random seed from ``seed_epoch``)."""
        total = self.n_tokens * self.epochs
        before = self.n_tokens * epoch
        a, b = self.start_alpha, self.end_alpha
        out = []
        for j, (lo, hi, words_before) in enumerate(self.jobs):
            a0 = a - (a - b) * ((before + words_before) / total)
            a1 = a - (a - b) * ((before + words_before + self.offsets[hi] - self.offsets[lo]) / total)
            out.append((lo, hi, max(a0, b), max(a1, b), _job_seed(self.seed, seed_epoch, j)))
        return out


class ThreadExecutor:
    """Runs jobs on ``workers`` threads (the numba kernel releases the GIL), results in job
    order; one worker runs them in the calling thread."""

    def __init__(self, workers: int) -> None:
        self.pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def map(self, fn, jobs):
        return self.pool.map(fn, jobs) if self.pool else map(fn, jobs)

    def __enter__(self) -> ThreadExecutor:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool:
            self.pool.shutdown()


def _plan_jobs(offsets: np.ndarray, batch_words: int) -> list[tuple[int, int, int]]:
    """Consecutive sentence ranges of about ``batch_words`` words: (first, end, words before)."""
    jobs = []
    n = len(offsets) - 1
    lo = 0
    while lo < n:
        target = offsets[lo] + batch_words
        hi = int(np.searchsorted(offsets, target, side="left"))
        hi = min(max(hi, lo + 1), n)
        jobs.append((lo, hi, int(offsets[lo])))
        lo = hi
    return jobs


def _job_seed(seed: int, epoch: int, job: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + job * 104_729 + 1) % (2**63)
