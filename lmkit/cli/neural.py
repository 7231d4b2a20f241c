"""`lmkit neural`: train, score and sample neural language models."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import __version__
from ..checks import SEED
from ..errors import ConfigError, CorpusError
from ..lm import corpus_scores
from ..neural import ARCHS, NETWORK_RANGES, OUTPUTS, TRAIN_RANGES, NeuralLM, TrainConfig, Trainer
from ..nn import OPTIMIZERS
from ..text import UNK_ID, Corpus, Tokenizer, Vocabulary, encode_corpus
from ..text.tokenizer import MODES
from .common import missing_command, positive_int
from .scoring import write_scores

log = logging.getLogger("lmkit")


def _text_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    group = parser.add_argument_group("text")
    group.add_argument("--tokenizer", choices=MODES, default=default,
                       help="how lines are split into tokens (default: " +
                            (default or "the one the model was trained with") + ")")
    group.add_argument("--lowercase", action="store_true", default=None, help="lowercase text before tokenizing")
    group.add_argument("--strict", action="store_true",
                       help="stop at the first line that is not valid UTF-8 instead of replacing bytes")


def register(sub: argparse._SubParsersAction, argv: Sequence[str] | None = None) -> None:
    p = sub.add_parser("neural", help="neural language models (LSTM, GRU, RNN, feed-forward): train, score, generate",
                       description="Train, score and sample neural language models.")
    cmds = p.add_subparsers(dest="neural_command", metavar="COMMAND")

    t = cmds.add_parser("train", help="train a neural language model",
                        description="Train a recurrent (truncated back-propagation through time) or "
                                    "feed-forward language model; DIR/model holds the model (the best on "
                                    "--valid), DIR/checkpoints resumable states.")
    t.add_argument("corpus", nargs="+", help="training text, one sentence per line (files, dirs, .gz, -)")
    t.add_argument("-o", dest="out_dir", required=True, metavar="DIR", help="output folder")
    m = t.add_argument_group("model")
    m.add_argument("--arch", choices=ARCHS, default="lstm",
                   help="lstm, gru, rnn (Mikolov's sigmoid RNN) or ffnn (Bengio's feed-forward n-gram model)")
    m.add_argument("--layers", type=NETWORK_RANGES["layers"].arg(), default=1, help="recurrent layers, 1-3")
    m.add_argument("--emb", type=NETWORK_RANGES["emb"].arg(), default=200, help="embedding size (default 200)")
    m.add_argument("--hidden", type=NETWORK_RANGES["hidden"].arg(), default=200, help="hidden size (default 200)")
    m.add_argument("--dropout", type=NETWORK_RANGES["dropout"].arg(), default=0.0,
                   help="dropout after the embeddings and every layer (default 0)")
    m.add_argument("--tied", action="store_true", help="output weights = input embeddings (needs --emb = --hidden)")
    m.add_argument("--output", dest="output_layer", choices=OUTPUTS, default="full",
                   help="full softmax, class-factored, hs (hierarchical, Huffman), sampled (importance-sampled "
                        "softmax) or nce; every one is evaluated exactly normalised")
    m.add_argument("--classes", type=NETWORK_RANGES["classes"].arg(), default=0,
                   help="classes of --output class (default about sqrt(V))")
    m.add_argument("--samples", type=NETWORK_RANGES["samples"].arg(), default=256,
                   help="words drawn per batch for --output sampled/nce (default 256)")
    m.add_argument("--order", type=NETWORK_RANGES["order"].arg(), default=5, help="ffnn: n-gram order (default 5)")
    v = t.add_argument_group("vocabulary")
    v.add_argument("--vocab", help="vocabulary file (token<TAB>count); other words become <unk>")
    v.add_argument("--min-count", type=positive_int, default=1, help="words seen fewer times become <unk>")
    v.add_argument("--max-vocab", type=positive_int, default=None, help="keep at most this many words")
    r = t.add_argument_group("training")
    r.add_argument("--valid", help="validation text: perplexity each epoch, rate decay, best model, early stop")
    r.add_argument("--epochs", type=TRAIN_RANGES["epochs"].arg(), default=10, help="epochs (default 10)")
    r.add_argument("--max-steps", type=TRAIN_RANGES["max_steps"].arg(), default=None, help="stop after N batches")
    r.add_argument("--batch", type=TRAIN_RANGES["batch"].arg(), default=32, help="parallel streams (default 32)")
    r.add_argument("--bptt", type=TRAIN_RANGES["bptt"].arg(), default=35, help="steps per batch (default 35)")
    r.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam", help="default adam")
    r.add_argument("--lr", type=TRAIN_RANGES["lr"].arg(), default=2e-3, help="learning rate (default 0.002)")
    r.add_argument("--clip", type=TRAIN_RANGES["clip"].arg(), default=1.0, help="largest gradient norm (0: off)")
    r.add_argument("--lr-decay", type=TRAIN_RANGES["lr_decay"].arg(), default=0.5,
                   help="rate multiplied by this when validation perplexity stops improving (default 0.5)")
    r.add_argument("--patience", type=TRAIN_RANGES["patience"].arg(), default=2,
                   help="epochs without improvement before stopping (default 2)")
    r.add_argument("--checkpoint-every", type=TRAIN_RANGES["checkpoint_every"].arg(), default=1000,
                   help="steps between checkpoints (default 1000; one at every epoch's end too)")
    r.add_argument("--seed", type=SEED.arg(), default=1, help="random seed (default 1)")
    r.add_argument("--resume", action="store_true", help="continue DIR's latest checkpoint exactly")
    _text_options(t, "whitespace")
    t.set_defaults(run=run_train)

    s = cmds.add_parser("score", help="log10 probability of each sentence and perplexity",
                        description="Score text, one sentence per line, with the lines `lmkit ngram score` prints.")
    s.add_argument("model", metavar="DIR", help="model folder (or a training run's output folder)")
    s.add_argument("text", nargs="?", default="-", help="text file, or - for stdin (default)")
    s.add_argument("--per-word", action="store_true", help="print each word's log10 prob and history length")
    s.add_argument("--summary-only", action="store_true", help="print only the summary line")
    s.add_argument("--no-eos", action="store_true", help="do not score </s> at sentence ends")
    _text_options(s, None)
    s.set_defaults(run=run_score)

    g = cmds.add_parser("generate", help="sample sentences from a model")
    g.add_argument("model", metavar="DIR", help="model folder")
    g.add_argument("-n", "--sentences", type=positive_int, default=10, help="how many sentences (default 10)")
    g.add_argument("--max-words", type=positive_int, default=50, help="longest sentence (default 50)")
    g.add_argument("--seed", type=SEED.arg(), default=None, help="random seed (same seed, same sentences)")
    g.set_defaults(run=run_generate)
    p.set_defaults(run=missing_command(p))


def corpus_for(args: argparse.Namespace, sources, model: NeuralLM | None) -> Corpus:
    """A corpus read with the given tokenizer options, else the model's own tokenizer."""
    base = model.tokenizer if model is not None else Tokenizer("whitespace")
    tok = Tokenizer(args.tokenizer or base.mode, lowercase=base.lowercase if args.lowercase is None else True)
    return Corpus(sources, tok, strict=args.strict, quiet=args.quiet)


def run_train(args: argparse.Namespace) -> int:
    out = Path(args.out_dir)
    settings = dict(epochs=args.epochs, max_steps=args.max_steps, batch=args.batch, bptt=args.bptt, lr=args.lr,
                    optimizer=args.optimizer, clip=args.clip, lr_decay=args.lr_decay, patience=args.patience,
                    checkpoint_every=args.checkpoint_every, seed=args.seed)
    if args.resume:
        trainer = Trainer.resume(out, overrides={k: settings[k] for k in ("epochs", "max_steps")})
        corpus = corpus_for(args, args.corpus, trainer.model)
    else:
        if (out / "checkpoints").exists():
            raise ConfigError(f"{out}: holds a training run already; continue it with --resume or choose another -o")
        corpus = corpus_for(args, args.corpus, None)
        if args.vocab:
            vocab = Vocabulary.load(args.vocab)
        else:
            vocab = Vocabulary.build(corpus, min_count=args.min_count, max_size=args.max_vocab)
        model = NeuralLM.create(vocab, tokenizer=corpus.tokenizer, arch=args.arch, layers=args.layers, emb=args.emb,
                                hidden=args.hidden, dropout=args.dropout, tied=args.tied, output=args.output_layer,
                                classes=args.classes, samples=args.samples, order=args.order, seed=args.seed)
        trainer = Trainer(model, out, TrainConfig(**settings))
    model = trainer.model
    train = encode_corpus(corpus, model.vocab)
    if train.n_tokens == 0:
        raise CorpusError(f"{', '.join(corpus.paths)}: corpus holds no tokens")
    valid = encode_corpus(corpus_for(args, [args.valid], model), model.vocab) if args.valid else None
    log.info("%r; %d training words in %d sentences", model, train.n_tokens, train.n_sentences)
    st = trainer.train(train, valid, quiet=args.quiet)
    last = st.history[-1] if st.history else {}
    log.info("%s: %d epochs, %d steps; last train perplexity %.2f%s", out / "model", st.epoch, st.step,
             last.get("train_ppl", float("nan")),
             f", best validation perplexity {st.best_valid:.2f}" if valid is not None else "")
    return 0


def run_score(args: argparse.Namespace) -> int:
    model = NeuralLM.load(args.model)
    corpus = corpus_for(args, [args.text], model)
    enc = encode_corpus(corpus, model.vocab)
    eos = not args.no_eos
    lp, lengths = model.score_encoded(enc, eos=eos)
    scores = corpus_scores(lp, enc.ids, enc.offsets, UNK_ID, eos=eos)
    c = model.config
    signature = (f"neural:{c.arch}|layers:{c.layers}|hidden:{c.hidden}|output:{c.output}|V:{c.vocab_size}|bos:1|"
                 f"eos:{int(eos)}|tok:{corpus.tokenizer.mode}|lc:{int(corpus.tokenizer.lowercase)}|"
                 f"version:{__version__}")
    write_scores(sys.stdout, scores, enc.ids, enc.offsets, model.vocab, lengths, signature,
                 per_word=args.per_word, summary_only=args.summary_only, eos=eos)
    return 0


def run_generate(args: argparse.Namespace) -> int:
    model = NeuralLM.load(args.model)
    rng = np.random.default_rng(args.seed)
    for _ in range(args.sentences):
        words = model.generate(args.max_words, seed=int(rng.integers(2**63 - 1)))
        sys.stdout.write(" ".join(words) + "\n")
    return 0
