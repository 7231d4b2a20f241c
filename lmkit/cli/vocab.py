"""`lmkit vocab`: count a corpus and write its vocabulary."""
from __future__ import annotations

import argparse
import logging

from ..text import Vocabulary
from .common import add_text_options, corpus_from_args, non_negative_int, positive_int

log = logging.getLogger("lmkit")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vocab", help="count a corpus and write its vocabulary (token<TAB>count)",
                       description="Count the tokens of a corpus and write its vocabulary, one "
                                   "'token<TAB>count' line per entry, most frequent first.")
    p.add_argument("corpus", nargs="+", help="text file(s), .gz/.bz2/.xz, directories, or - for stdin")
    p.add_argument("-o", "--output", required=True, help="vocabulary file to write (.gz compresses)")
    p.add_argument("--min-count", type=positive_int, default=1, help="drop tokens seen fewer times (default 1)")
    p.add_argument("--max-size", type=non_negative_int, default=None,
                   help="keep at most this many tokens besides the specials")
    p.add_argument("--pad", action="store_true", help="add the <pad> special token (id 3)")
    add_text_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import CorpusError
    from ..text.vocab import DEFAULT_SPECIALS, PAD
    corpus = corpus_from_args(args, args.corpus)
    specials = DEFAULT_SPECIALS + ((PAD,) if args.pad else ())
    vocab = Vocabulary.build(corpus, min_count=args.min_count, max_size=args.max_size, specials=specials)
    n_tokens = int(vocab.counts[vocab.n_specials:].sum() + vocab.counts[0])
    if n_tokens == 0:
        raise CorpusError(f"{', '.join(corpus.paths)}: corpus holds no tokens")
    vocab.save(args.output)
    log.info("%s: %d entries (%d specials) from %d tokens in %d lines; %d replaced-UTF-8 lines",
             args.output, len(vocab), vocab.n_specials, n_tokens, corpus.stats.lines,
             corpus.stats.replaced_lines)
    return 0
