"""The n-gram language model: training, querying, perplexity, generation, files."""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from pathlib import Path

import numpy as np

from .._io import atomic_path, load_npz
from ..errors import ConfigError, CorpusError, LmkitError, ModelFormatError
from ..lm import Perplexity, corpus_scores
from ..text import (
    BOS,
    BOS_ID,
    EOS,
    EOS_ID,
    UNK_ID,
    Corpus,
    EncodedCorpus,
    LazyFolder,
    Tokenizer,
    Vocabulary,
    build_and_encode,
    encode_corpus,
    spill_corpus,
)
from . import _kernels as K
from .binfile import MAGIC
from .counts import MAX_ORDER, NgramCounts, count_ngrams
from .estimators import SMOOTHINGS, Estimate, estimate
from .layouts import Tables, probing_tables
from .state import FullScoreReturn, State, begin_sentence, full_score, null_context

log = logging.getLogger(__name__)
NATIVE_FORMAT = "lmkit-ngram"
NATIVE_VERSION = 1


class NgramModel:
    """A back-off n-gram model (what an ARPA file holds), scored in numba kernels.

    Per order k (list index k-1), arrays of length n_k sorted by (ctx, word): ``ctx`` (id
    of the (k-1)-word prefix), ``word``, ``log_probs`` (log10) and ``log_backoffs`` (log10; empty
    for the highest order). Unigram ids are word ids. Probabilities follow the usual backoff
    rule: p(w|h) = p(h w) if listed, else backoff(h) * p(w|h minus its first word).
    """

    def __init__(self, vocab: Vocabulary, ctx: list[np.ndarray], word: list[np.ndarray],
                 logprob: list[np.ndarray], backoff: list[np.ndarray], meta: dict | None = None,
                 tokenizer: Tokenizer | None = None) -> None:
        self._set_up(vocab, len(word), meta, tokenizer)
        self._sizes = [len(w) for w in word]
        self.ctx = [np.ascontiguousarray(c, dtype=np.int64) for c in ctx]
        self.word = [np.ascontiguousarray(w, dtype=np.int32) for w in word]
        self.log_probs = [np.ascontiguousarray(p, dtype=np.float32) for p in logprob]
        self.log_backoffs = [np.ascontiguousarray(b, dtype=np.float32) for b in backoff]

    def _set_up(self, vocab: Vocabulary, order: int, meta: dict | None, tokenizer: Tokenizer | None) -> None:
        """Everything of a model but its per-order arrays."""
        if len(vocab) < 3 or [vocab.token(BOS_ID), vocab.token(EOS_ID)] != [BOS, EOS]:
            raise ConfigError("an n-gram vocabulary needs <unk>, <s>, </s> at ids 0, 1, 2")
        self.vocab = vocab
        self.order = order
        self._unpack: Callable[[], tuple[list, list, list, list]] | None = None
        self._lists: dict[str, list[np.ndarray]] = {}
        self.meta = dict(meta or {})
        self.tokenizer = tokenizer or Tokenizer("whitespace")
        #: per order, True for KenLM-style blanks (missing suffixes added at ARPA load; never
        #: written to ARPA); None when there are none
        self.blank: list[np.ndarray] | None = None
        self._tables: Tables | None = None
        #: every listed n-gram's suffix is listed too (None: not known yet, see suffixes_closed)
        self._suffix_closed: bool | None = None
        self._args_cache: tuple | None = None
        self._text_cache: tuple | None = None
        self._words: tuple | None = None
        #: the check of what a mapped file's load left unchecked (see verify)
        self._unchecked: Callable[[], None] | None = None

    @classmethod
    def _over_tables(cls, vocab: Vocabulary, sizes: list[int], tables: Tables,
                     unpack: Callable[[], tuple[list, list, list, list]], meta: dict,
                     tokenizer: Tokenizer) -> NgramModel:
        """A model that scores straight from ``tables`` (a memory-mapped file's); its per-order
        arrays are made by ``unpack`` when first asked for (writing ARPA, pruning, mixing)."""
        model = cls.__new__(cls)
        model._set_up(vocab, len(sizes), meta, tokenizer)
        model._sizes = list(sizes)
        model._unpack = unpack
        model._tables = tables
        if tables.suffix_closed:
            model._suffix_closed = True
        return model

    def verify(self) -> None:
        """Check what loading a binary model leaves unchecked (its tables' every slot, pointer,
        word id and value, and its word index; ModelFormatError names the file and what is
        wrong). Done once, and before anything reads the tables as arrays or writes them out;
        nothing to do for other models, which are checked as they are read or built."""
        if self._unchecked is not None:
            self._unchecked()
            self._unchecked = None

    def _arrays(self) -> dict[str, list[np.ndarray]]:
        if self._unpack is not None:
            self.verify()
            log.info("unpacking the model's n-gram arrays from its tables")
            ctx, word, lp, bo = self._unpack()
            self._unpack = None
            self._lists.update(ctx=ctx, word=word, log_probs=lp, log_backoffs=bo)
        return self._lists

    @property
    def ctx(self) -> list[np.ndarray]:
        """Per order, each n-gram's context id (int64; -1 for unigrams)."""
        return self._arrays()["ctx"]

    @ctx.setter
    def ctx(self, value: list[np.ndarray]) -> None:
        self._arrays()["ctx"] = value

    @property
    def word(self) -> list[np.ndarray]:
        """Per order, each n-gram's last word (int32)."""
        return self._arrays()["word"]

    @word.setter
    def word(self, value: list[np.ndarray]) -> None:
        self._arrays()["word"] = value
        self._sizes = [len(w) for w in value]

    @property
    def log_probs(self) -> list[np.ndarray]:
        """Per order, log10 probabilities (float32)."""
        return self._arrays()["log_probs"]

    @log_probs.setter
    def log_probs(self, value: list[np.ndarray]) -> None:
        self._arrays()["log_probs"] = value

    @property
    def log_backoffs(self) -> list[np.ndarray]:
        """Per order, log10 backoff weights (float32; empty for the highest order)."""
        return self._arrays()["log_backoffs"]

    @log_backoffs.setter
    def log_backoffs(self, value: list[np.ndarray]) -> None:
        self._arrays()["log_backoffs"] = value

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, data: Corpus | EncodedCorpus | Iterable[Sequence[str]], order: int = 3,
              smoothing: str = "mkn", *, vocab: Vocabulary | None = None, min_count: int = 1,
              discount: float | None = None, interpolate: bool = True, prune=None,
              chunk_tokens: int | None = None, quiet: bool | None = None, client=None,
              partitions: int | None = None) -> NgramModel:
        """Count ``data`` and estimate a model.

        ``data``: a Corpus (its tokenizer is kept with the model), an EncodedCorpus, or any
        iterable of token lists. Words outside ``vocab`` (or below ``min_count``) become
        ``<unk>``. ``smoothing`` is one of :data:`SMOOTHINGS`. ``prune``: count thresholds
        per order like lmplz's ``--prune 0 0 1`` (n-grams seen that often or less are dropped).
        ``chunk_tokens``: count in pieces of that many tokens, spilled to disk (``$TMPDIR``)
        and merged, memory then bounded by the pieces and the model (None: the default,
        :data:`DEFAULT_CHUNK_TOKENS`, for text; an encoded corpus is counted in memory; 0: in
        memory).
        ``client``: a ``distributed.Client``; the corpus (a Corpus, or file/directory paths
        every worker can read) is then counted and estimated on its cluster in ``partitions``
        pieces (default: twice the workers), giving the same model (see
        :func:`lmkit.ngram.distributed.train_on_cluster`).
        """
        if client is not None:
            from .distributed import train_on_cluster
            if not isinstance(data, (Corpus, str, os.PathLike, list, tuple)):
                raise ConfigError("training on a cluster needs a Corpus or file paths the workers can read")
            return train_on_cluster(client, data, order, smoothing, partitions=partitions, vocab=vocab,
                                    min_count=min_count, discount=discount, interpolate=interpolate,
                                    prune=prune, quiet=quiet).to_model()
        if smoothing not in SMOOTHINGS:
            raise ConfigError(f"smoothing {smoothing!r} is unknown; choose one of {', '.join(SMOOTHINGS)}")
        if not 1 <= order <= MAX_ORDER:
            raise ConfigError(f"order must be between 1 and {MAX_ORDER}, got {order}")
        tokenizer = data.tokenizer if isinstance(data, Corpus) else None
        if isinstance(data, EncodedCorpus):
            vocab = vocab or data.vocab
            if vocab is None:
                raise ConfigError("an EncodedCorpus without a vocabulary needs vocab=")
            counts = count_ngrams(data, order, len(vocab), quiet=quiet, chunk_tokens=chunk_tokens or None)
        else:
            counts, vocab = _count_text(data, vocab, order, min_count,
                                        DEFAULT_CHUNK_TOKENS if chunk_tokens is None else chunk_tokens, quiet)
        model = cls.from_counts(counts, vocab, smoothing, discount=discount, interpolate=interpolate,
                                prune=prune)
        model.tokenizer = tokenizer or model.tokenizer
        return model

    @classmethod
    def from_counts(cls, counts: NgramCounts, vocab: Vocabulary, smoothing: str = "mkn",
                    **options) -> NgramModel:
        est: Estimate = estimate(counts, smoothing, **options)
        meta = {"smoothing": smoothing, "order": counts.order, "is_probability": est.is_probability,
                "counts": counts.sizes(), "n_tokens": counts.n_tokens, "n_sentences": counts.n_sentences,
                "fallback": est.fallback, "unseen_context_backoff": est.unseen_context_backoff}
        if est.discounts is not None:
            meta["discounts"] = est.discounts[:, 1:].tolist()
        ctx, word, logprob, backoff = [], [], [], []
        new_ids = np.zeros(0, np.int64)
        for k, oc in enumerate(counts.orders):
            keep = est.keep[k] if est.keep is not None else np.ones(len(oc), bool)
            c = oc.ctx[keep] if k == 0 else new_ids[oc.ctx[keep]]
            ctx.append(c)
            word.append(oc.word[keep])
            logprob.append(est.logprob[k][keep])
            backoff.append(est.backoff[k][keep] if len(est.backoff[k]) else est.backoff[k])
            new_ids = np.cumsum(keep) - 1
        if est.keep is not None:
            meta["counts"] = [len(w) for w in word]
        return cls(vocab, ctx, word, logprob, backoff, meta)

    # ------------------------------------------------------------------ lookups
    @property
    def sizes(self) -> list[int]:
        """Number of n-grams per order."""
        return list(self._sizes)

    @property
    def is_probability(self) -> bool:
        return bool(self.meta.get("is_probability", True))

    def _kernel_tables(self) -> Tables:
        """The scoring kernels' tables, built at first use (the probing layout, see
        :mod:`lmkit.ngram.layouts`) unless the model came with its own (a binary file's)."""
        if self._tables is None:
            self._tables = probing_tables(self.ctx, self.word, self.log_probs, self.log_backoffs, len(self.vocab),
                                          self.suffixes_closed())
        return self._tables

    def suffixes_closed(self) -> bool:
        """True when every listed n-gram's suffix (the n-gram without its first word) is
        listed too, as in every Kneser-Ney model and every ARPA-loaded one (KenLM's blanks);
        scoring then stops a word's lookups at the first missing n-gram. Found by one suffix
        lookup per n-gram the first time it is asked, unless the model's source recorded it."""
        if self._suffix_closed is None:
            self._suffix_closed = all(bool((s >= 0).all()) for s in self.suffix_ids()[2:])
        return self._suffix_closed

    @property
    def layout(self) -> str:
        """``"trie"`` when the model scores from a (memory-mapped) trie, else ``"probing"``."""
        return "probing" if self._tables is None else self._tables.layout

    def _order_table(self, k: int):
        """(keys, positions, start, capacity) of a hash table over order k's n-grams (key ->
        position in the per-order arrays), built for this call."""
        V = np.int64(len(self.vocab))
        tk, tv = K.build_hash(self.ctx[k - 1] * V + self.word[k - 1], _positions_like(self.sizes[k - 1]))
        return tk, tv, 0, len(tk)

    def suffix_ids(self) -> list[np.ndarray]:
        """Per order k, the id of each n-gram's (k-1)-word suffix in order k-1 (-1 if the
        model does not list it; order 1: -1)."""
        V = np.int64(len(self.vocab))
        out = [np.full(self.sizes[0], -1, np.int64)]
        for k in range(2, self.order + 1):
            if k == 2:
                out.append(self.word[1].astype(np.int64))
                continue
            tk, tv, start, cap = self._order_table(k - 1)
            ctx_sfx = out[k - 2][self.ctx[k - 1]]
            keys = np.where(ctx_sfx >= 0, ctx_sfx * V + self.word[k - 1], -2)
            out.append(K.lookup_in(tk, tv, start, cap, keys))
        return out

    def subset(self, keep: list[np.ndarray]) -> NgramModel:
        """The model restricted to the n-grams where ``keep`` is True (each kept n-gram's
        context must be kept; unigrams are always all kept). Backoffs are copied as they are."""
        ctx, word, lp, bo = [], [], [], []
        new_ids = np.zeros(0, np.int64)
        for k in range(self.order):
            kp = np.ones(self.sizes[0], bool) if k == 0 else keep[k]
            c = self.ctx[k][kp]
            if k:
                c = new_ids[c]
                if (c < 0).any():
                    raise ConfigError(f"subset keeps a {k + 1}-gram whose context it drops")
            ctx.append(c)
            word.append(self.word[k][kp])
            lp.append(self.log_probs[k][kp])
            bo.append(self.log_backoffs[k][kp] if len(self.log_backoffs[k]) else self.log_backoffs[k])
            new_ids = np.where(kp, np.cumsum(kp) - 1, -1)
        meta = dict(self.meta, counts=[len(w) for w in word])
        out = NgramModel(self.vocab, ctx, word, lp, bo, meta, self.tokenizer)
        if self.blank is not None:
            out.blank = [b[np.ones(len(b), bool) if k == 0 else keep[k]] for k, b in enumerate(self.blank)]
        return out

    def renormalize_backoffs(self) -> None:
        """Recompute every backoff weight so each context's distribution sums to one, keeping
        the listed probabilities: bow(h) = (1 - sum_listed p(w|h)) / (1 - sum_listed p(w|h'))."""
        suffix = self.suffix_ids()
        p = [10.0 ** m.astype(np.float64) for m in self.log_probs]
        p[0][BOS_ID] = 0.0
        for k in range(2, self.order + 1):
            ctx, sfx = self.ctx[k - 1], suffix[k - 1]
            n_ctx = self.sizes[k - 2]
            p_low = self.lower_order_probs(k, sfx, p)
            seen = np.bincount(ctx, weights=p[k - 1], minlength=n_ctx)
            seen_low = np.bincount(ctx, weights=p_low, minlength=n_ctx)
            has_ext = np.bincount(ctx, minlength=n_ctx) > 0
            left, left_low = np.clip(1.0 - seen, 0.0, None), 1.0 - seen_low
            with np.errstate(divide="ignore", invalid="ignore"):
                bow = np.where(left_low > 1e-12, left / np.where(left_low > 1e-12, left_low, 1.0), 0.0)
                self.log_backoffs[k - 2] = np.where(has_ext, np.log10(np.where(has_ext, bow, 1.0)),
                                                    0.0).astype(np.float32)
            self._tables = None

    def lower_order_probs(self, k: int, suffix: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
        """p(w | h') for every order-k n-gram (h w): the listed suffix's probability, or the
        backoff estimate where the model does not list the suffix."""
        out = np.empty(len(suffix))
        listed = suffix >= 0
        out[listed] = probs[k - 2][suffix[listed]]
        if not listed.all():
            out[~listed] = 10.0 ** np.array(self._suffix_logprobs(k, np.flatnonzero(~listed)))
        return out

    def _suffix_logprobs(self, k: int, rows: np.ndarray) -> list[float]:
        from .arpa import ngram_strings
        texts = ngram_strings(self.vocab.itos, self.ctx[:k], self.word[:k])[k - 1]
        out = []
        for r in rows.tolist():
            words = texts[r].split()[1:]
            out.append(self._logprob_of(words[-1], words[:-1]))
        return out

    def _tokens(self, sentence: str | Sequence[str]) -> list[str]:
        return sentence.split() if isinstance(sentence, str) else list(sentence)

    def score_encoded(self, corpus: EncodedCorpus | tuple[np.ndarray, np.ndarray], bos: bool = True,
                      eos: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-word log10 probabilities (float64) and n-gram lengths (int32) of a whole encoded
        corpus in one kernel call; with ``eos`` each sentence ends with its ``</s>`` score."""
        ids, offsets = (corpus.ids, corpus.offsets) if isinstance(corpus, EncodedCorpus) else corpus
        model, fallback = self._score_args()
        args = (np.ascontiguousarray(ids, dtype=np.int32), np.ascontiguousarray(offsets, dtype=np.int64),
                *model, bos, eos, *fallback)
        return K.score_tokens(*args)

    def _score_args(self) -> tuple[tuple, tuple[float, float]]:
        """The scoring kernels' model arguments (order, V, <s>, </s> and the tables) and their
        last two (unseen-context backoff, uniform fallback), cached while the tables stand."""
        tables = self._kernel_tables()
        cached = self._args_cache
        if cached is None or cached[0] is not tables:
            cached = self._args_cache = (tables, (self.order, np.int64(len(self.vocab)), BOS_ID, EOS_ID, *tables),
                                         (float(self.meta.get("unseen_context_backoff", 0.0)),
                                          self._uniform_fallback()))
        return cached[1], cached[2]

    def _text_args(self) -> tuple[tuple, tuple[float, float], Callable[..., float]]:
        """:func:`~lmkit.ngram._kernels.text_logprob`'s arguments after the text up to the
        model's tables, its last two, and the compiled function to call with them (see
        :func:`_compiled`), cached while the tables and the vocabulary stand."""
        cached = self._text_cache
        if cached is None or cached[0] is not self._tables or cached[1] is not self.vocab:
            model, fallback = self._score_args()
            head = (*self._word_table(), self.vocab.unk_id, *model)
            call = _compiled(K.text_logprob, (b"", *head, True, True, *fallback))
            cached = self._text_cache = (self._tables, self.vocab, head, fallback, call)
        return cached[2], cached[3], cached[4]

    def _word_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The vocabulary's word index (word bytes -> id) with its words, from the model file or
        built at first use."""
        if self._words is None or self._words[0] is not self.vocab:
            self._words = (self.vocab, self.vocab.word_index())
        return self._words[1]

    @property
    def is_backoff_model(self) -> bool:
        """True when unlisted n-grams back off to lower orders (what ARPA files, pruning and
        static mixing assume); False for additive smoothing, which falls back to uniform."""
        return self.meta.get("fallback", "backoff") == "backoff"

    def _uniform_fallback(self) -> float:
        return float(-np.log10(len(self.vocab) - 1)) if not self.is_backoff_model else float("nan")

    def full_scores(self, sentence: str | Sequence[str], bos: bool = True,
                    eos: bool = True) -> Iterator[tuple[float, int, bool]]:
        """(log10 prob, n-gram length used, is OOV) for each word (and ``</s>``), like KenLM."""
        tokens = self._tokens(sentence)
        ids = self.vocab.encode(tokens)
        lp, ln = self.score_encoded((ids, np.array([0, len(ids)], np.int64)), bos, eos)
        oov = [t not in self.vocab.stoi or self.vocab.stoi[t] == UNK_ID for t in tokens] + [False] * eos
        yield from zip(lp.tolist(), ln.tolist(), oov)

    def score(self, sentence: str | Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """Total log10 probability of a sentence (a string is split on white space)."""
        vocab = self.vocab
        if isinstance(sentence, str) and vocab.unk_id >= 0:
            # split, looked up and scored in one kernel call: the call is most of the cost
            head, fallback, call = self._text_args()
            return call(*(sentence.encode("utf-8", "surrogatepass"), *head, bool(bos), bool(eos), *fallback))
        tokens = self._tokens(sentence)
        if vocab.unk_id < 0:
            ids = vocab.encode(tokens)   # raises for unknown words, as full_scores does
        else:
            ids = np.fromiter(map(vocab.stoi.get, tokens, repeat(vocab.unk_id, len(tokens))), dtype=np.int32,
                              count=len(tokens))
        # one kernel call that sums in order (as kenlm and sum(full_scores) do): per-call cost
        # is mostly the call itself, so nothing else is allocated or converted here
        model, fallback = self._score_args()
        return K.sentence_logprob(*(ids, *model, bos, eos, *fallback))

    def _logprob_of(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 p(word | context); ``context`` may start with ``<s>``."""
        if not isinstance(word, str):
            raise ConfigError(f"word must be a string, got {type(word).__name__}")
        if isinstance(context, str):
            context = context.split()
        if not all(isinstance(w, str) for w in context):
            raise ConfigError("context must be a list of words (strings)")
        context = list(context)
        bos = bool(context) and context[0] == BOS
        if bos:
            context = context[1:]
        scores = list(self.full_scores(context + [word], bos=bos, eos=False)) if word != EOS \
            else list(self.full_scores(context, bos=bos, eos=True))
        return scores[-1][0]

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:  # noqa: D401
        """log10 p(word | context) (KenLM's and ARPA's unit)."""
        return self._logprob_of(word, context)

    def prob(self, word: str, context: Sequence[str] = ()) -> float:
        return float(10.0 ** self._logprob_of(word, context))

    def perplexity(self, data: Corpus | EncodedCorpus | Iterable[str | Sequence[str]]) -> Perplexity:
        """Perplexity of sentences (each wrapped in <s> ... </s>), with and without OOVs.

        A string is one sentence (KenLM's ``perplexity(sentence)``), split on white space."""
        if isinstance(data, str):
            data = [data]
        if isinstance(data, EncodedCorpus):
            enc = data if data.vocab is None or data.vocab.itos == self.vocab.itos else None
            if enc is None:
                raise ConfigError("the encoded corpus uses another vocabulary; encode it with model.vocab")
        else:
            if not isinstance(data, Corpus):
                data = (self._tokens(s) for s in data)
            enc = encode_corpus(data, self.vocab)
        lp, _ = self.score_encoded(enc)
        return corpus_scores(lp, enc.ids, enc.offsets, UNK_ID).perplexity()

    def generate(self, n_words: int = 20, seed: int | None = None, context: Sequence[str] = ()) -> list[str]:
        """Sample up to ``n_words`` words (stopping at ``</s>``) after ``<s>`` + ``context``."""
        if not self.is_probability:
            raise ConfigError("stupid-backoff scores are not probabilities; they cannot be sampled")
        rng = np.random.default_rng(seed)
        history = [BOS] + list(context)
        out: list[str] = []
        candidates = [w for w in self.vocab.itos if w != BOS]
        cand_ids = np.array([self.vocab.stoi[w] for w in candidates], dtype=np.int32)
        for _ in range(n_words):
            hist = history[-(self.order - 1):] if self.order > 1 else []
            probs = self._next_word_probs(hist, cand_ids)
            w = candidates[int(rng.choice(len(candidates), p=probs / probs.sum()))]
            if w == EOS:
                break
            out.append(w)
            history.append(w)
        return out

    def _next_word_probs(self, history: list[str], cand_ids: np.ndarray) -> np.ndarray:
        """p(w | history) for every candidate id, in one kernel call."""
        bos = bool(history) and history[0] == BOS
        hist = history[1:] if bos else history
        hist_ids = self.vocab.encode(hist)
        n = len(cand_ids)
        ids = np.concatenate([np.tile(hist_ids, n).reshape(n, len(hist_ids)), cand_ids[:, None]], axis=1)
        offsets = np.arange(n + 1, dtype=np.int64) * ids.shape[1]
        lp, _ = self.score_encoded((ids.ravel().astype(np.int32), offsets), bos=bos, eos=False)
        return 10.0 ** lp.reshape(n, -1)[:, -1]

    # ------------------------------------------------------------------ KenLM's stateful calls
    def BeginSentenceWrite(self, state: State) -> None:  # noqa: N802 (KenLM's name)
        """Set ``state`` to the start of a sentence (after ``<s>``)."""
        begin_sentence(state)

    def NullContextWrite(self, state: State) -> None:  # noqa: N802
        """Set ``state`` to no context at all."""
        null_context(state)

    def BaseFullScore(self, in_state: State, word: str, out_state: State) -> FullScoreReturn:  # noqa: N802
        """(log10 p(word | in_state), n-gram length, is OOV); ``out_state`` gets the new context."""
        return full_score(self, in_state, word, out_state)

    def BaseScore(self, in_state: State, word: str, out_state: State) -> float:  # noqa: N802
        """log10 p(word | in_state); ``out_state`` gets the new context."""
        return full_score(self, in_state, word, out_state).log_prob

    def __contains__(self, word: object) -> bool:
        """Whether the model's vocabulary has ``word`` (KenLM's ``'word' in model``)."""
        return isinstance(word, str) and word in self.vocab.stoi

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike, quiet: bool | None = None) -> None:
        """Write the model: ``.arpa``/``.arpa.gz`` as ARPA text, anything else (``.lmk``)
        in the native format (uncompressed npz + JSON header; no pickle)."""
        path = Path(path)
        if path.name.endswith((".arpa", ".arpa.gz")):
            from .arpa import write_arpa
            write_arpa(self, path, quiet=quiet)
            return
        vocab_bytes = "\n".join(self.vocab.itos).encode("utf-8")
        meta = dict(self.meta, format=NATIVE_FORMAT, version=NATIVE_VERSION, order=self.order,
                    tokenizer=self.tokenizer.config(), suffix_closed=self.suffixes_closed())
        arrays: dict[str, np.ndarray] = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
                  "vocab": np.frombuffer(vocab_bytes, dtype=np.uint8),
                  "vocab_counts": self.vocab.counts}
        for k in range(self.order):
            if self.blank is not None:
                arrays[f"blank{k + 1}"] = self.blank[k]
            arrays[f"ctx{k + 1}"] = self.ctx[k]
            arrays[f"word{k + 1}"] = self.word[k]
            arrays[f"logprob{k + 1}"] = self.log_probs[k]
            arrays[f"backoff{k + 1}"] = self.log_backoffs[k]
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            # numpy's stub types the **kwds of savez too narrowly
            np.savez(f, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike, quiet: bool | None = None, verify: bool = False) -> NgramModel:
        """Load an ARPA file (by suffix ``.arpa``/``.arpa.gz`` or content), a ``.lmk`` model or a
        memory-mapped binary model (``lmkit ngram build-binary``).

        ARPA and ``.lmk`` files are checked in full as they are read. A binary model's header
        and every size are checked at load (under a millisecond); its contents (tables, word
        offsets and index, values) with ``verify=True`` or :meth:`verify` (0.05-0.16 s on Brown
        order 5), and in any case before anything reads the tables as arrays or copies them;
        scoring unchecked contents cannot read outside the file (see :mod:`lmkit.ngram.binary`)."""
        path = Path(path)
        try:
            f = open(path, "rb")  # noqa: SIM115 (a with block below; only this open's error is caught)
        except FileNotFoundError:
            raise ModelFormatError(f"{path}: no such model file") from None
        with f:
            head = f.read(4)
            if head == MAGIC[:4]:
                from .binary import read_binary
                return read_binary(path, cls, verify=verify, file=f)
        if head[:2] == b"PK":
            return cls._load_native(path)
        from .arpa import read_arpa
        vocab, ctx, word, lp, bo = read_arpa(path, quiet=quiet)
        model = cls(vocab, ctx, word, lp, bo, {"source": "arpa"})
        from .blanks import add_blanks
        add_blanks(model)
        return model

    @classmethod
    def _load_native(cls, path: Path) -> NgramModel:
        z = load_npz(path)
        try:
            meta = json.loads(bytes(z["meta"].astype(np.uint8)).decode("utf-8"))
            itos = bytes(z["vocab"].astype(np.uint8)).decode("utf-8").split("\n")
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{path}: not a readable lmkit n-gram model ({type(exc).__name__}: {exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != NATIVE_FORMAT:
            got = meta.get("format") if isinstance(meta, dict) else None
            raise ModelFormatError(f"{path}: format {got!r} is not an lmkit n-gram model")
        if meta.get("version") != NATIVE_VERSION or isinstance(meta.get("version"), bool):
            raise ModelFormatError(f"{path}: model version {meta.get('version')!r} is not supported "
                                   f"(this lmkit reads version {NATIVE_VERSION})")
        N = meta.get("order")
        if type(N) is not int or not 1 <= N <= MAX_ORDER:
            raise ModelFormatError(f"{path}: order {N!r} is not a whole number in 1..{MAX_ORDER}")
        for key, kind in (("unseen_context_backoff", (int, float)), ("fallback", str), ("is_probability", bool),
                          ("suffix_closed", bool)):
            if key in meta and not isinstance(meta[key], kind):
                raise ModelFormatError(f"{path}: meta field {key!r} has the wrong type")
        if meta.get("fallback", "backoff") not in ("backoff", "uniform") or \
                not np.isfinite(float(meta.get("unseen_context_backoff", 0.0))):
            raise ModelFormatError(f"{path}: impossible scoring settings in the header")
        counts = z.get("vocab_counts")
        try:
            vocab = Vocabulary(itos, counts)
        except LmkitError as exc:
            raise ModelFormatError(f"{path}: bad vocabulary ({exc})") from None
        try:
            ctx, word, logprob, backoff = ([z[f"{name}{k + 1}"] for k in range(N)]
                                           for name in ("ctx", "word", "logprob", "backoff"))
        except KeyError as exc:
            raise ModelFormatError(f"{path}: array {exc.args[0]!r} is missing") from None
        _check_native_arrays(path, len(vocab), ctx, word, logprob, backoff)
        try:
            tokenizer = Tokenizer.from_config(meta.get("tokenizer", {}))
        except (LmkitError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"{path}: bad tokenizer settings ({exc})") from None
        closed = meta.pop("suffix_closed", None)      # the writer's finding (see binary.py), not model meta
        model = cls(vocab, ctx, word, logprob, backoff, meta=meta, tokenizer=tokenizer)
        model._suffix_closed = closed
        if "blank1" in z:
            blank = [z.get(f"blank{k + 1}", np.zeros(0, bool)) for k in range(N)]
            if any(b.shape != (len(w),) or b.dtype != np.bool_ for b, w in zip(blank, word)):
                raise ModelFormatError(f"{path}: blank masks do not fit the n-gram arrays")
            model.blank = blank
        return model

    def __repr__(self) -> str:
        return (f"NgramModel(order={self.order}, smoothing={self.meta.get('smoothing', '?')}, "
                f"sizes={self.sizes})")


def _compiled(dispatcher, args: tuple) -> Callable:
    """The machine code numba's ``dispatcher`` runs for arguments of the types of ``args``
    (compiled or loaded by one call with them), to be called directly with arguments of
    exactly those types: numba's dispatcher works out every argument's type at every call
    (0.8 us of a 2 us empty sentence for text_logprob's 26), which a caller whose argument
    types never change can skip. The dispatcher itself when numba keeps it elsewhere."""
    dispatcher(*args)
    try:
        return dispatcher.overloads[tuple(dispatcher.typeof_pyval(a) for a in args)].entry_point
    except (AttributeError, KeyError, TypeError):
        return dispatcher


def _positions_like(n: int) -> np.ndarray:
    """An empty array of the dtype that indexes ``n`` entries: int32 when it can (half the
    memory of hash-table values), else int64."""
    return np.zeros(0, np.int32 if n < 2 ** 31 - 1 else np.int64)


def _check_native_arrays(path, V: int, ctx, word, logprob, backoff) -> None:
    """Every size, id and value of a native model against what it must be: per order the
    same length everywhere, word ids in the vocabulary, context ids in the order below,
    (context, word) pairs unique, log10 probabilities <= 0 (or -inf) and backoffs finite or -inf."""
    N = len(word)
    lower = 1
    for k in range(N):
        n = len(word[k])
        name = k + 1
        for arr, label in ((ctx[k], "ctx"), (word[k], "word"), (logprob[k], "logprob")):
            if arr.ndim != 1 or len(arr) != n:
                raise ModelFormatError(f"{path}: {label}{name} has shape {arr.shape}, expected ({n},)")
        if not (np.issubdtype(ctx[k].dtype, np.integer) and np.issubdtype(word[k].dtype, np.integer)
                and np.issubdtype(logprob[k].dtype, np.floating) and np.issubdtype(backoff[k].dtype, np.floating)):
            raise ModelFormatError(f"{path}: arrays of order {name} have the wrong types")
        want_bo = 0 if k == N - 1 else n
        if backoff[k].shape not in ((want_bo,), (n,)) or (k < N - 1 and len(backoff[k]) != n):
            raise ModelFormatError(f"{path}: backoff{name} has shape {backoff[k].shape}, expected ({want_bo},)")
        if n and (word[k].min() < 0 or word[k].max() >= V):
            raise ModelFormatError(f"{path}: word{name} holds ids outside the vocabulary of {V} words")
        if k == 0 and (n != V or np.any(word[0] != np.arange(V))):
            raise ModelFormatError(f"{path}: word1 must list every vocabulary id once, in order")
        if n and k > 0 and (ctx[k].min() < 0 or ctx[k].max() >= lower):
            raise ModelFormatError(f"{path}: ctx{name} holds ids outside the {lower} {k}-grams")
        if n and k > 0:
            keys = ctx[k].astype(np.int64) * V + word[k]
            if np.any(np.diff(keys) <= 0):
                raise ModelFormatError(f"{path}: order {name} is not sorted by (context, word) "
                                       "or lists an n-gram twice")
        lp = logprob[k]
        if np.any(np.isnan(lp)) or np.any(lp > 0) or np.any(np.isposinf(lp)):
            raise ModelFormatError(f"{path}: logprob{name} holds impossible values (NaN, > 0)")
        if np.any(np.isnan(backoff[k])) or np.any(np.isposinf(backoff[k])):   # -inf: weight 0 (mle)
            raise ModelFormatError(f"{path}: backoff{name} holds impossible values (NaN, +inf)")
        lower = n


def _count_text(data: Corpus | Iterable[Sequence[str]], vocab: Vocabulary | None, order: int, min_count: int,
                chunk_tokens: int | None, quiet: bool | None) -> tuple[NgramCounts, Vocabulary]:
    """Encode ``data`` (building its vocabulary unless given) and count it; with
    ``chunk_tokens`` the ids are spilled to a temporary file and read a piece at a time, so
    memory is bounded by the pieces and the model, not the corpus."""
    if not chunk_tokens:
        encoded = build_and_encode(data, min_count=min_count) if vocab is None else encode_corpus(data, vocab)
        assert encoded.vocab is not None   # both set it
        return count_ngrams(encoded, order, len(encoded.vocab), quiet=quiet, release_corpus=True), encoded.vocab
    import errno
    import tempfile
    try:
        with LazyFolder("lmkit-ids-") as spill:   # made only for a corpus of more than chunk_tokens
            encoded = spill_corpus(data, vocab, spill, min_count=min_count, spill_after=chunk_tokens)
            assert encoded.vocab is not None
            counts = count_ngrams(encoded, order, len(encoded.vocab), quiet=quiet, chunk_tokens=chunk_tokens,
                                  release_corpus=True)
            vocab = encoded.vocab
            del encoded          # its memory map, before the folder goes
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise CorpusError(f"no space left in {tempfile.gettempdir()} for the spilled corpus and counts "
                          f"({exc.strerror}); set TMPDIR to a larger disk, or count in memory "
                          "(chunk_tokens=0, --chunk-tokens 0)") from None
    return counts, vocab


#: tokens per counted piece when training on text (pieces spilled to $TMPDIR and merged):
#: smaller corpora are counted in memory; at 50M tokens pieces were faster than one count
DEFAULT_CHUNK_TOKENS = 5_000_000
