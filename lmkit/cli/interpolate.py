"""`lmkit interpolate`: score text with a linear mixture of language models, n-gram files and
neural model folders alike, weights given or tuned by EM on held-out text."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..checks import Range
from ..errors import ConfigError
from .common import add_text_options, corpus_from_args, normalized_weights
from .scoring import write_scores

log = logging.getLogger("lmkit")


def register(sub: argparse._SubParsersAction, argv: Sequence[str] | None = None) -> None:
    p = sub.add_parser("interpolate", help="score text with a mixture of n-gram and neural models (EM weights)",
                       description="Linear interpolation, token by token, of language models over one vocabulary "
                                   "(n-gram files and neural model folders alike): the lines `ngram score` prints, "
                                   "then the weights.")
    p.add_argument("inputs", nargs="+", metavar="MODEL... FILE",
                   help="two or more models (ARPA/.lmk/binary files, neural model folders), then the text to score")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--weights", type=Range(0, None).arg(), nargs="+", metavar="W",
                     help="one weight per model (normalised to sum 1)")
    how.add_argument("--heldout", metavar="F", help="held-out text whose perplexity EM minimises")
    p.add_argument("--per-word", action="store_true", help="print each word's log10 prob")
    p.add_argument("--summary-only", action="store_true", help="print only the summary line and the weights")
    p.add_argument("--no-eos", action="store_true", help="do not score </s> at sentence ends")
    add_text_options(p, default_tokenizer="whitespace")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..interpolate import InterpolatedLM, best_weights, load_model
    *paths, text = args.inputs
    if len(paths) < 2:
        raise ConfigError("interpolate needs at least two models and then the text to score")
    models = [load_model(p, quiet=args.quiet) for p in paths]
    how = "given"
    if args.weights is not None:
        weights = normalized_weights(args.weights, len(models))
    else:
        lam, iterations, ppl = best_weights(models, corpus_from_args(args, [args.heldout]))
        weights = lam.tolist()
        how = f"EM on {args.heldout}: {iterations} iterations, held-out perplexity {ppl:.4f}"
    mix = InterpolatedLM(models, weights)
    corpus = corpus_from_args(args, [text])
    eos = not args.no_eos
    sentences = list(corpus)
    scores = mix.scores(sentences, eos=eos)
    from ..text import encode_corpus
    enc = encode_corpus(sentences, mix.vocab)
    signature = (f"interpolate:{len(models)}|bos:1|eos:{int(eos)}|tok:{corpus.tokenizer.mode}|"
                 f"lc:{int(corpus.tokenizer.lowercase)}|version:{__version__}")
    write_scores(sys.stdout, scores, enc.ids, enc.offsets, mix.vocab, None, signature,
                 per_word=args.per_word, summary_only=args.summary_only, eos=eos)
    sys.stdout.write("weights=" + " ".join(f"{w:.6f}" for w in weights) + f" ({how})\n")
    return 0
