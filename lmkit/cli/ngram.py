"""`lmkit ngram`: train, score and sample n-gram language models."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import __version__
from ..checks import SEED, Range
from ..errors import ConfigError, CorpusError
from ..lm import corpus_scores
from ..text import UNK_ID, Vocabulary, encode_corpus

if TYPE_CHECKING:
    from ..ngram import NgramModel
    from ..ngram.quick import QuickModel
from .common import (
    add_cluster_options,
    add_text_options,
    command_after,
    corpus_from_args,
    missing_command,
    non_negative_int,
    normalized_weights,
    positive_int,
)
from .scoring import write_scores

log = logging.getLogger("lmkit")


def register(sub: argparse._SubParsersAction, argv: Sequence[str] | None = None) -> None:
    """The `ngram` family's parser; of its commands only the one ``argv`` names (all when
    ``argv`` is None or names none) gets its arguments, the others their name and help line
    (building them all cost a short run 5 ms, and the smoothings' module 2.5 ms more)."""
    p = sub.add_parser("ngram", help="counting n-gram language models (ARPA, KenLM-exact modified Kneser-Ney)",
                       description="Train, score and sample n-gram language models.")
    cmds = p.add_subparsers(dest="ngram_command", metavar="COMMAND")
    wanted = command_after(argv, "ngram")
    for name, add in _COMMANDS.items():
        add(cmds, wanted in (None, name))
    p.set_defaults(run=missing_command(p))


def _add_train(cmds: argparse._SubParsersAction, full: bool) -> None:
    t = cmds.add_parser("train", help="count a corpus and estimate a model",
                        description="Count a corpus and write an n-gram model: .arpa/.arpa.gz (ARPA "
                                    "text, readable by KenLM and SRILM) or .lmk (lmkit's fast format).")
    if not full:
        return
    from ..ngram.estimators import SMOOTHINGS
    t.add_argument("corpus", nargs="+", help="training text, one sentence per line (files, dirs, .gz, -)")
    t.add_argument("-o", "--output", required=True, help="model file: .arpa, .arpa.gz or .lmk")
    t.add_argument("--order", type=positive_int, default=3, help="n-gram order, 1..10 (default 3)")
    t.add_argument("--smoothing", choices=list(SMOOTHINGS), default="mkn",
                   help="; ".join(f"{k}: {v}" for k, v in SMOOTHINGS.items()) + " (default mkn)")
    t.add_argument("--discount", type=Range(0, 1e6).arg(), default=None,
                   help="fixed discount D for kn/abs, or k for add (Lidstone)")
    t.add_argument("--backoff", action="store_true",
                   help="backoff instead of interpolated variant of mkn/kn/abs")
    t.add_argument("--prune", type=Range(0, None, integer=True).arg(), nargs="+", metavar="T", default=None,
                   help="count thresholds per order, like lmplz: '--prune 0 0 1' drops trigrams "
                        "(and higher) seen once; the last value repeats for higher orders")
    t.add_argument("--chunk-tokens", type=non_negative_int, default=None, metavar="N",
                   help="count in pieces of N tokens spilled to $TMPDIR and merged: bounded memory "
                        "(default 5000000; 0: count in memory)")
    t.add_argument("--vocab", help="vocabulary file (token<TAB>count); other words become <unk>")
    t.add_argument("--min-count", type=positive_int, default=1,
                   help="words seen fewer times become <unk> (default 1: keep all, as lmplz)")
    add_cluster_options(t)
    add_text_options(t, default_tokenizer="whitespace")
    t.set_defaults(run=run_train)


def _add_score(cmds: argparse._SubParsersAction, full: bool) -> None:
    s = cmds.add_parser("score", help="log10 probability of each sentence and perplexity",
                        description="Score text, one sentence per line: per-sentence log10 probability "
                                    "and OOV count, then a summary with perplexity including and "
                                    "excluding OOVs (as KenLM's query and SRILM's ngram -ppl).")
    if not full:
        return
    s.add_argument("model", help="model file (.arpa, .arpa.gz, .lmk)")
    s.add_argument("text", nargs="?", default="-", help="text file, or - for stdin (default)")
    s.add_argument("--per-word", action="store_true", help="print each word's log10 prob and n-gram length")
    s.add_argument("--summary-only", action="store_true", help="print only the summary line")
    s.add_argument("--no-bos", action="store_true", help="do not start sentences with <s>")
    s.add_argument("--no-eos", action="store_true", help="do not score </s> at sentence ends")
    add_text_options(s, default_tokenizer="whitespace")
    s.set_defaults(run=run_score)


def _add_generate(cmds: argparse._SubParsersAction, full: bool) -> None:
    g = cmds.add_parser("generate", help="sample sentences from a model")
    if not full:
        return
    g.add_argument("model", help="model file")
    g.add_argument("-n", "--sentences", type=positive_int, default=10, help="how many sentences (default 10)")
    g.add_argument("--max-words", type=positive_int, default=50, help="longest sentence (default 50)")
    g.add_argument("--seed", type=SEED.arg(), default=None, help="random seed (same seed, same sentences)")
    g.set_defaults(run=run_generate)


def _add_prune(cmds: argparse._SubParsersAction, full: bool) -> None:
    pr = cmds.add_parser("prune", help="entropy-based pruning (Stolcke 1998) to a threshold or size",
                         description="Drop the n-grams whose removal raises perplexity least (relative "
                                     "entropy, as SRILM's ngram -prune), then renormalise the backoffs.")
    if not full:
        return
    pr.add_argument("model", help="model file")
    how = pr.add_mutually_exclusive_group(required=True)
    how.add_argument("--threshold", type=Range(0, 1).arg(),
                     help="relative perplexity increase below which an n-gram goes (e.g. 1e-8)")
    how.add_argument("--target-size", type=positive_int, help="keep about this many n-grams of order >= 2")
    pr.add_argument("-o", "--output", required=True, help="pruned model file")
    pr.set_defaults(run=run_prune)


def _add_convert(cmds: argparse._SubParsersAction, full: bool) -> None:
    cv = cmds.add_parser("convert", help="convert a model between ARPA (.arpa, .arpa.gz) and lmkit's .lmk",
                         description="Read a model (ARPA or .lmk, by content) and write it in the format "
                                     "OUT's name asks for.")
    if not full:
        return
    cv.add_argument("model", help="model file")
    cv.add_argument("output", help="OUT.arpa, OUT.arpa.gz or OUT.lmk")
    cv.set_defaults(run=run_convert)


def _add_build_binary(cmds: argparse._SubParsersAction, full: bool) -> None:
    bb = cmds.add_parser("build-binary", help="write a memory-mapped binary model (loads without rebuilding)",
                         description="Read a model (ARPA, .lmk or binary) and write it as a binary file that "
                                     "NgramModel.load and every command map into memory, ready to score "
                                     "(like KenLM's build_binary): probing (hash tables, fastest) or trie "
                                     "(bit-packed, about half the size; --quantize for a quarter).")
    if not full:
        return
    bb.add_argument("model", help="model file")
    bb.add_argument("-o", "--output", required=True, help="binary model file to write")
    bb.add_argument("--layout", choices=("probing", "trie"), default="probing",
                    help="probing: hash tables, fastest lookups; trie: bit-packed ids and pointers, compact")
    bb.add_argument("--quantize", type=int, metavar="Q",
                    help="trie only: store probabilities of orders >= 2 as Q-bit bin codes (KenLM's -q; 1-24)")
    bb.add_argument("--backoff-bits", type=int, metavar="B",
                    help="trie only: bits of the backoff codes (KenLM's -b; default Q)")
    bb.set_defaults(run=run_build_binary)


def _add_check(cmds: argparse._SubParsersAction, full: bool) -> None:
    ck = cmds.add_parser("check", help="read a model and check everything in it (a binary model's tables too)",
                         description="Load a model checking every part of it: ARPA and .lmk files are always "
                                     "checked in full; a binary model's tables (every slot, pointer, word id "
                                     "and value), which loading and scoring leave unchecked, are checked too. "
                                     "Prints one line on success; exit 2 with the problem otherwise.")
    if not full:
        return
    ck.add_argument("model", help="model file")
    ck.set_defaults(run=run_check)


def _add_mix(cmds: argparse._SubParsersAction, full: bool) -> None:
    mx = cmds.add_parser("mix", help="interpolate whole models; weights tuned by EM on held-out text",
                         description="Linear interpolation of models (SRILM's compute-best-mix + -mix-lm): "
                                     "weights by EM on held-out text unless given, written as one backoff model.")
    if not full:
        return
    mx.add_argument("models", nargs="+", help="two or more model files")
    mx.add_argument("--heldout", help="held-out text for EM (one sentence per line)")
    mx.add_argument("--weights", type=Range(0, None).arg(), nargs="+", help="fixed weights, one per model (skip EM)")
    mx.add_argument("-o", "--output", required=True, help="mixed model file")
    add_text_options(mx, default_tokenizer="whitespace")
    mx.set_defaults(run=run_mix)


#: the family's commands, in the order `lmkit ngram --help` lists them
_COMMANDS = {"train": _add_train, "score": _add_score, "generate": _add_generate, "prune": _add_prune,
             "convert": _add_convert, "build-binary": _add_build_binary, "check": _add_check, "mix": _add_mix}


def run_train(args: argparse.Namespace) -> int:
    if not 1 <= args.order <= 10:
        raise ConfigError(f"--order must be between 1 and 10, got {args.order}")
    corpus = corpus_from_args(args, args.corpus)
    vocab = Vocabulary.load(args.vocab) if args.vocab else None
    if args.cluster:
        return _train_on_cluster(args, corpus, vocab)
    start = time.perf_counter()
    from ..ngram import NgramModel
    model = NgramModel.train(corpus, order=args.order, smoothing=args.smoothing, vocab=vocab,
                             min_count=args.min_count, discount=args.discount,
                             interpolate=not args.backoff, prune=args.prune,
                             chunk_tokens=args.chunk_tokens, quiet=args.quiet)
    if model.meta.get("n_tokens", 0) == 0:
        raise CorpusError(f"{', '.join(corpus.paths)}: corpus holds no tokens")
    model.save(args.output, quiet=args.quiet)
    log.info("%s: order %d %s, n-grams %s, from %d tokens in %d sentences (%.1f s)", args.output,
             model.order, args.smoothing, "/".join(map(str, model.sizes)), model.meta["n_tokens"],
             model.meta["n_sentences"], time.perf_counter() - start)
    if "discounts" in model.meta:
        log.info("discounts D1 D2 D3+: %s", " | ".join(
            f"{k + 1}: " + " ".join(f"{d:.6g}" for d in ds) for k, ds in enumerate(model.meta["discounts"])))
    return 0


def _train_on_cluster(args: argparse.Namespace, corpus, vocab: Vocabulary | None) -> int:
    """`ngram train --cluster`: an ARPA output is streamed from the workers; a .lmk one is
    gathered into a model first."""
    from ..cluster import connect
    from ..ngram.distributed import train_on_cluster
    if args.chunk_tokens is not None:
        raise ConfigError("--chunk-tokens applies to one machine; on a cluster use --partitions")
    start = time.perf_counter()
    with connect(args.cluster) as client:
        est = train_on_cluster(client, corpus, args.order, args.smoothing, partitions=args.partitions, vocab=vocab,
                               min_count=args.min_count, discount=args.discount, interpolate=not args.backoff,
                               prune=args.prune, quiet=args.quiet)
        if args.output.endswith((".arpa", ".arpa.gz")):
            est.write_arpa(args.output, quiet=args.quiet)
        else:
            est.to_model().save(args.output, quiet=args.quiet)
        workers = len(client.scheduler_info().get("workers", {}))
    log.info("%s: order %d %s, n-grams %s, from %d tokens in %d sentences on %d workers (%.1f s)", args.output,
             args.order, args.smoothing, "/".join(map(str, est.sizes)), est.meta["n_tokens"],
             est.meta["n_sentences"], workers, time.perf_counter() - start)
    return 0


def run_score(args: argparse.Namespace) -> int:
    from ..ngram.quick import QuickModel
    # a probing binary model is scored in numpy alone: no numba to import and start
    quick = QuickModel.open(args.model)
    if quick is None:
        from ..ngram import NgramModel
        model: NgramModel | QuickModel = NgramModel.load(args.model, quiet=args.quiet)
    else:
        model = quick
    corpus = corpus_from_args(args, [args.text])
    enc = encode_corpus(corpus, model.vocab, numba=quick is None)
    bos, eos = not args.no_bos, not args.no_eos
    lp, lengths = model.score_encoded(enc, bos=bos, eos=eos)
    scores = corpus_scores(lp, enc.ids, enc.offsets, UNK_ID, eos=eos)
    signature = (f"order:{model.order}|smoothing:{model.meta.get('smoothing', 'arpa')}|bos:{int(bos)}|"
                 f"eos:{int(eos)}|tok:{corpus.tokenizer.mode}|lc:{int(corpus.tokenizer.lowercase)}|"
                 f"version:{__version__}")
    kind = "perplexity" if model.is_probability else "score-perplexity (stupid backoff: not a probability)"
    write_scores(sys.stdout, scores, enc.ids, enc.offsets, model.vocab, lengths, signature,
                 per_word=args.per_word, summary_only=args.summary_only, eos=eos, kind=kind)
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from ..ngram import NgramModel
    model = NgramModel.load(args.model, quiet=args.quiet)
    model.save(args.output, quiet=args.quiet)
    log.info("%s: order %d, %s n-grams", args.output, model.order, "/".join(map(str, model.sizes)))
    return 0


def run_build_binary(args: argparse.Namespace) -> int:
    from ..ngram import NgramModel
    from ..ngram.binary import write_binary
    model = NgramModel.load(args.model, quiet=args.quiet)
    write_binary(model, args.output, layout=args.layout, quantize=args.quantize, backoff_bits=args.backoff_bits)
    log.info("%s: %s layout%s, order %d, %s n-grams", args.output, args.layout,
             f" quantised {args.quantize}/{args.backoff_bits or args.quantize} bits" if args.quantize else "",
             model.order, "/".join(map(str, model.sizes)))
    return 0


def run_check(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from ..ngram import NgramModel
    model = NgramModel.load(args.model, quiet=args.quiet, verify=True)
    print(f"{args.model}: ok ({model.layout} layout, order {model.order}, "
          f"{'/'.join(map(str, model.sizes))} n-grams, {len(model.vocab)} words; "
          f"checked in {time.perf_counter() - started:.3f} s)")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    from ..ngram import NgramModel, prune_model
    model = NgramModel.load(args.model, quiet=args.quiet)
    pruned = prune_model(model, threshold=args.threshold, target_size=args.target_size)
    pruned.save(args.output, quiet=args.quiet)
    log.info("%s: n-grams %s -> %s", args.output, "/".join(map(str, model.sizes)),
             "/".join(map(str, pruned.sizes)))
    return 0


def run_mix(args: argparse.Namespace) -> int:
    from ..ngram import NgramModel, best_mix_weights, mix_models
    if len(args.models) < 2:
        raise ConfigError("mix needs at least two models")
    models = [NgramModel.load(m, quiet=args.quiet) for m in args.models]
    if args.weights is not None:
        weights = normalized_weights(args.weights, len(models))
    else:
        if not args.heldout:
            raise ConfigError("give --heldout FILE to tune the weights, or --weights")
        lam, ppl = best_mix_weights(models, corpus_from_args(args, [args.heldout]))
        weights = lam.tolist()
        log.info("EM weights %s; held-out perplexity of the mixture %.4f",
                 " ".join(f"{w:.4f}" for w in weights), ppl)
    mixed = mix_models(models, weights)
    mixed.save(args.output, quiet=args.quiet)
    print(" ".join(f"{w:.6f}" for w in weights))
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from ..ngram import NgramModel
    model = NgramModel.load(args.model, quiet=args.quiet)
    rng = np.random.default_rng(args.seed)
    for _ in range(args.sentences):
        words = model.generate(args.max_words, seed=int(rng.integers(2**63 - 1)))
        sys.stdout.write(" ".join(words) + "\n")
    return 0
