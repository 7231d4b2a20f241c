"""A trained neural language model answering the calls every lmkit language model answers
(KenLM's names, log10 probabilities): ``score``, ``full_scores``, ``logprob``,
``perplexity``, ``score_encoded``, ``generate``; saved as a folder (JSON + npz, no pickle).

Every sentence is scored from ``<s>`` and a zero state, like the n-gram models score it, so
the two can be compared and interpolated token by token. Words outside the vocabulary are
scored as ``<unk>`` and counted as OOVs (as n-gram models with ``<unk>`` do).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .._io import atomic_folder, read_format_json
from ..errors import ConfigError, ModelFormatError
from ..lm import Perplexity, corpus_scores
from ..nn.persist import load_parameters
from ..text import BOS, BOS_ID, EOS, EOS_ID, PAD, UNK_ID, Corpus, EncodedCorpus, Tokenizer, Vocabulary, encode_corpus
from .data import sentence_batches
from .network import Network, NetworkConfig

FORMAT = "lmkit-neural"
VERSION = 1
#: the final model of a training run lives in DIR/model (switched as a whole)
MODEL_SUBDIR = "model"
_LN10 = math.log(10.0)


def model_folder(folder: str | os.PathLike) -> Path:
    """``folder/model`` for a training run's output folder, else ``folder`` itself."""
    folder = Path(folder)
    return folder / MODEL_SUBDIR if (folder / MODEL_SUBDIR / "config.json").exists() else folder


def is_model_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a neural model folder (or a training run's output folder)."""
    return (model_folder(path) / "config.json").is_file()


def never_predicted(vocab: Vocabulary) -> tuple[int, ...]:
    """Ids no model predicts: ``<s>`` (and ``<pad>`` when the vocabulary has it)."""
    return tuple(i for i in (BOS_ID, vocab.stoi.get(PAD, -1)) if i >= 0)


class NeuralLM:
    """A network, its vocabulary and the tokenizer its training text was read with."""

    def __init__(self, network: Network, vocab: Vocabulary, tokenizer: Tokenizer | None = None) -> None:
        if network.config.vocab_size != len(vocab):
            raise ConfigError(f"the network predicts {network.config.vocab_size} words but the vocabulary "
                              f"has {len(vocab)}")
        if vocab.unk_id != UNK_ID or vocab.itos[BOS_ID] != BOS or vocab.itos[EOS_ID] != EOS:
            raise ConfigError("a neural LM's vocabulary must start with <unk>, <s>, </s>")
        self.network = network
        self.vocab = vocab
        self.tokenizer = tokenizer or Tokenizer("whitespace")

    @classmethod
    def create(cls, vocab: Vocabulary, config: NetworkConfig | None = None, tokenizer: Tokenizer | None = None,
               **settings) -> NeuralLM:
        """A fresh (untrained) model over ``vocab``; ``settings`` are NetworkConfig fields."""
        config = config or NetworkConfig(vocab_size=len(vocab), **settings)
        if config.vocab_size != len(vocab):
            raise ConfigError(f"the network predicts {config.vocab_size} words but the vocabulary has {len(vocab)} "
                              "(vocab.tsv)")
        return cls(Network(config, vocab.counts, never_predicted(vocab)), vocab, tokenizer)

    @property
    def config(self) -> NetworkConfig:
        return self.network.config

    @property
    def order(self) -> int:
        """The n-gram order of a feed-forward model; 0 for a recurrent one (whole sentence)."""
        return 0 if self.config.recurrent else self.config.order

    # ------------------------------------------------------------------ scoring
    def _batch_tokens(self) -> int:
        """Padded positions per scoring batch: the full softmax's [N, V] logits stay <= 64 MB."""
        if self.config.output in ("full", "sampled", "nce"):
            return int(max(64, min(8192, (16 << 20) // self.config.vocab_size)))
        return 8192

    def score_encoded(self, corpus: EncodedCorpus | tuple[np.ndarray, np.ndarray], bos: bool = True,
                      eos: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-word log10 probabilities (float64) of a whole encoded corpus, each sentence read
        from ``<s>``; with ``eos`` each sentence ends with its ``</s>`` score. The second array
        (int32) is the length of the history each prediction saw, counted as an n-gram's (the
        word, the words before it and ``<s>``; a feed-forward model's at most its order)."""
        if not bos:
            raise ConfigError("a neural language model reads every sentence from <s>; bos=False is not supported")
        ids, offsets = (corpus.ids, corpus.offsets) if isinstance(corpus, EncodedCorpus) else corpus
        ids = np.asarray(ids, np.int32)
        offsets = np.asarray(offsets, np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self.vocab)):
            raise ConfigError("ids outside the model's vocabulary; encode the corpus with model.vocab")
        words = np.diff(offsets)
        per = words + (1 if eos else 0)
        starts = np.zeros(len(per), np.int64)
        if len(per):
            starts[1:] = np.cumsum(per)[:-1]
        out = np.empty(int(per.sum()), np.float64)
        for rows, inputs, targets, lengths in sentence_batches(ids, offsets, self._batch_tokens()):
            lp = self.network.sentence_log_probs(inputs, targets)
            for b, s in enumerate(rows.tolist()):
                n = int(lengths[b]) - (0 if eos else 1)
                out[starts[s]:starts[s] + n] = lp[b, :n]
        out /= _LN10
        history = np.arange(len(out)) - np.repeat(starts, per) + 2     # <s> + words so far + this one
        if not self.config.recurrent:
            history = np.minimum(history, self.config.order)
        return out, history.astype(np.int32)

    def _tokens(self, sentence: str | Sequence[str]) -> list[str]:
        if isinstance(sentence, str):
            return sentence.split()
        tokens = list(sentence)
        if not all(isinstance(t, str) for t in tokens):
            raise ConfigError("a sentence must be a string or a list of words (strings)")
        return tokens

    def _ids(self, tokens: Sequence[str]) -> np.ndarray:
        get = self.vocab.stoi.get
        return np.fromiter((get(t, UNK_ID) for t in tokens), np.int32, len(tokens))

    def full_scores(self, sentence: str | Sequence[str], bos: bool = True,
                    eos: bool = True) -> Iterator[tuple[float, int, bool]]:
        """(log10 prob, history length, is OOV) for each word (and ``</s>``), like KenLM."""
        tokens = self._tokens(sentence)
        ids = self._ids(tokens)
        lp, ln = self.score_encoded((ids, np.array([0, len(ids)], np.int64)), bos, eos)
        oov = (ids == UNK_ID).tolist() + [False] * eos
        yield from zip(lp.tolist(), ln.tolist(), oov)

    def score(self, sentence: str | Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """Total log10 probability of a sentence (a string is split on white space)."""
        return float(sum(p for p, _, _ in self.full_scores(sentence, bos, eos)))

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 p(word | <s> context): the context is the sentence so far (a leading ``<s>``
        may be given)."""
        if not isinstance(word, str):
            raise ConfigError(f"word must be a string, got {type(word).__name__}")
        ctx = self._tokens(context)
        if ctx and ctx[0] == BOS:
            ctx = ctx[1:]
        if word == EOS:
            return list(self.full_scores(ctx, eos=True))[-1][0]
        return list(self.full_scores(ctx + [word], eos=False))[-1][0]

    def prob(self, word: str, context: Sequence[str] = ()) -> float:
        return float(10.0 ** self.logprob(word, context))

    def encode(self, data: Corpus | EncodedCorpus | Iterable[str | Sequence[str]] | str) -> EncodedCorpus:
        """Sentences (a string is one sentence) as ids of this model's vocabulary."""
        if isinstance(data, str):
            data = [data]
        if isinstance(data, EncodedCorpus):
            if data.vocab is not None and data.vocab.itos != self.vocab.itos:
                raise ConfigError("the encoded corpus uses another vocabulary; encode it with model.vocab")
            return data
        if not isinstance(data, Corpus):
            data = (self._tokens(s) for s in data)
        return encode_corpus(data, self.vocab)

    def perplexity(self, data: Corpus | EncodedCorpus | Iterable[str | Sequence[str]] | str) -> Perplexity:
        """Perplexity of sentences (each read from <s>, ending with </s>), with and without OOVs."""
        enc = self.encode(data)
        lp, _ = self.score_encoded(enc)
        return corpus_scores(lp, enc.ids, enc.offsets, UNK_ID).perplexity()

    def generate(self, n_words: int = 20, seed: int | None = None, context: Sequence[str] = ()) -> list[str]:
        """Sample up to ``n_words`` words (stopping at ``</s>``) after ``<s>`` + ``context``."""
        rng = np.random.default_rng(seed)
        ctx = self._tokens(context)
        if ctx and ctx[0] == BOS:
            ctx = ctx[1:]
        history = [BOS_ID] + self._ids(ctx).tolist()
        net = self.network
        out: list[str] = []
        state = net.initial_state(1)
        pending = history
        for _ in range(n_words):
            if net.config.recurrent:
                for w in pending:
                    top, state = net.step(np.array([w], np.int32), state)
            else:
                k = net.config.order - 1
                ctx_ids = ([BOS_ID] * k + history)[-k:]
                top = net.sentence_hidden(np.array([ctx_ids], np.int32))[:, -1]
            p = np.exp(net.out.log_distribution(top)[0])
            w = int(rng.choice(len(p), p=p / p.sum()))
            if w == EOS_ID:
                break
            out.append(self.vocab.itos[w])
            history.append(w)
            pending = [w]
        return out

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self.vocab.stoi

    def __repr__(self) -> str:
        c = self.config
        return (f"NeuralLM({c.arch}, layers={c.layers}, emb={c.emb}, hidden={c.hidden}, output={c.output}, "
                f"V={c.vocab_size}, parameters={self.network.n_parameters():,})")

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """The model as a folder (config.json, weights.npz, vocab.tsv), replaced as a whole."""
        with atomic_folder(path) as tmp:
            self.write(tmp)

    def write(self, folder: Path) -> None:
        """The model's files into an existing folder (for callers that switch it themselves)."""
        arrays = {name: p for name, p, _ in self.network.parameters()}
        with open(folder / "weights.npz", "wb") as f:
            np.savez(f, **arrays)
        self.vocab.save(folder / "vocab.tsv")
        with open(folder / "config.json", "w", encoding="utf-8") as out:
            json.dump({"format": FORMAT, "version": VERSION, "network": dataclasses.asdict(self.config),
                       "tokenizer": self.tokenizer.config()}, out, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NeuralLM:
        """A model folder (or a training run's output folder, whose ``model`` it opens)."""
        folder = model_folder(path)
        meta = read_format_json(folder / "config.json", FORMAT, VERSION, "a neural language model folder")
        fields = {f.name: f.type for f in dataclasses.fields(NetworkConfig)}
        settings = meta.get("network")
        if not isinstance(settings, dict) or set(settings) - set(fields) or "vocab_size" not in settings:
            raise ModelFormatError(f"{folder}/config.json: 'network' must be an object with fields {sorted(fields)}")
        for name in ("arch", "output"):
            if name in settings and not isinstance(settings[name], str):
                raise ModelFormatError(f"{folder}/config.json: network.{name} must be a string")
        try:
            config = NetworkConfig(**settings)
            config.check()
            tokenizer = Tokenizer.from_config(meta.get("tokenizer", {}))
            vocab = Vocabulary.load(folder / "vocab.tsv")
            model = cls.create(vocab, config, tokenizer)
        except ConfigError as exc:
            raise ModelFormatError(f"{folder}: {exc}") from None
        model.load_weights(folder / "weights.npz")
        return model

    def load_weights(self, path: str | os.PathLike) -> None:
        """Weights from an npz file, each checked for its name, shape and finite values."""
        load_parameters(path, self.network.parameters(), strict=True)
