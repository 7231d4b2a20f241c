"""`lmkit embed`: train word2vec vectors and query them."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .._io import atomic_write
from ..checks import SEED
from ..embed import WORD2VEC_RANGES as R
from ..embed import KeyedVectors, Word2Vec
from ..embed.compress import PQRows
from ..errors import ConfigError, LmkitError
from ..text import Vocabulary
from .common import add_cluster_options, add_text_options, corpus_from_args, missing_command, positive_int

log = logging.getLogger("lmkit")


def register(sub: argparse._SubParsersAction, argv: Sequence[str] | None = None) -> None:
    p = sub.add_parser("embed", help="word2vec embeddings: train, neighbours, analogies, evaluation",
                       description="Train word2vec vectors and query them.")
    cmds = p.add_subparsers(dest="embed_command", metavar="COMMAND")
    t = cmds.add_parser("train", help="train word vectors (skip-gram or CBOW; negative sampling or HS)")
    t.add_argument("corpus", nargs="+", help="training text, one sentence per line (files, dirs, .gz, -)")
    t.add_argument("-o", "--output", required=True,
                   help="vectors file (word2vec format; .gz compresses) or, with --native, a folder")
    t.add_argument("--dim", type=R["dim"].arg(), default=100, help="vector size (default 100)")
    t.add_argument("--window", type=R["window"].arg(), default=5, help="max context distance (default 5)")
    t.add_argument("--negative", type=R["negative"].arg(), default=None,
                   help="negative samples (default 5; 0 with --hs)")
    t.add_argument("--hs", action="store_true", help="hierarchical softmax (alone unless --negative N)")
    t.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram")
    t.add_argument("--min-count", type=R["min_count"].arg(), default=5, help="ignore rarer words (default 5)")
    t.add_argument("--max-vocab", type=R["max_vocab_size"].arg(), default=None, help="keep the N most frequent words")
    t.add_argument("--sample", type=R["sample"].arg(), default=1e-3,
                   help="sub-sampling threshold (default 1e-3; 0 off)")
    t.add_argument("--epochs", "--iter", type=R["epochs"].arg(), default=5, help="passes over the corpus (default 5)")
    t.add_argument("--alpha", type=R["alpha"].arg(), default=None, help="start learning rate (0.025 sg, 0.05 cbow)")
    t.add_argument("--min-alpha", type=R["min_alpha"].arg(), default=0.0001, help="final learning rate (default 1e-4)")
    t.add_argument("--workers", "--threads", type=R["workers"].arg(), default=2, help="training threads (default 2)")
    t.add_argument("--seed", type=R["seed"].arg(), default=1, help="random seed (workers=1: bit-identical runs)")
    fmt = t.add_mutually_exclusive_group()
    fmt.add_argument("--binary", action="store_true", help="word2vec binary format")
    fmt.add_argument("--text", action="store_true", help="word2vec text format (the default)")
    fmt.add_argument("--native", action="store_true", help="lmkit folder (npy, memory-mapped loading)")
    t.add_argument("--save-vocab", help="also write the vocabulary (word<TAB>count)")
    t.add_argument("--read-vocab", help="train with this vocabulary (word count lines, e.g. the C tool's "
                   "-save-vocab file) instead of counting the corpus")
    t.add_argument("--classes", type=positive_int, default=None, metavar="K",
                   help="write K k-means word classes ('word class' lines, as the C tool's -classes) "
                        "instead of vectors")
    t.add_argument("--save-model", help="folder for the full model (resumable; with --resume)")
    t.add_argument("--resume", action="store_true", help="continue training the --save-model model")
    add_cluster_options(t)
    t.add_argument("--replicas", type=positive_int, default=None, metavar="K",
                   help="with --cluster: model replicas (default: one per worker)")
    t.add_argument("--sync-words", type=positive_int, default=None, metavar="S",
                   help="with --cluster: corpus words over all replicas between synchronisations "
                        "(default: replicas x 10000)")
    t.add_argument("--sync-method", choices=("scaled", "average", "sum", "downpour"), default="scaled",
                   help="with --cluster: how replicas combine: rounds adding their changes scaled per row "
                        "as sequential training would move it (scaled, the default), averaging or adding "
                        "them; or asynchronous pushes to a parameter-server actor (downpour)")
    add_text_options(t, default_tokenizer="regex")
    t.set_defaults(run=run_train)

    n = cmds.add_parser("neighbors", help="nearest neighbours of words (stdin when none are given)")
    _vector_input(n, query=True)
    n.add_argument("words", nargs="*", help="query words; none: read one per line from stdin")
    n.add_argument("-k", type=positive_int, default=10, help="neighbours per word (default 10)")
    n.set_defaults(run=run_neighbors)

    a = cmds.add_parser("analogy", help="A is to B as C is to ? (3CosAdd)")
    _vector_input(a, query=True)
    a.add_argument("a", help="A (subtracted)")
    a.add_argument("b", help="B (added)")
    a.add_argument("c", help="C (added)")
    a.add_argument("-k", type=positive_int, default=5, help="answers to print (default 5)")
    a.set_defaults(run=run_analogy)

    e = cmds.add_parser("evaluate", help="analogy accuracy and word-pair correlations")
    _vector_input(e, query=True)
    e.add_argument("--analogies", help="Google analogy file (questions-words.txt format)")
    e.add_argument("--pairs", nargs="+", default=[], help="WordSim-353 / SimLex-999 style files")
    e.add_argument("--restrict-vocab", type=positive_int, default=30000,
                   help="analogies: search the N most frequent words (default 30000)")
    e.set_defaults(run=run_evaluate)

    c = cmds.add_parser("convert", help="convert vectors between word2vec text, binary and lmkit's folder")
    _vector_input(c)
    c.add_argument("output", help="output file, or folder with --native")
    cf = c.add_mutually_exclusive_group(required=True)
    cf.add_argument("--binary", dest="to_binary", action="store_true", help="write word2vec binary")
    cf.add_argument("--text", dest="to_text", action="store_true", help="write word2vec text")
    cf.add_argument("--native", dest="to_native", action="store_true",
                    help="write an lmkit folder (opens memory-mapped in milliseconds)")
    c.set_defaults(run=run_convert)
    z = cmds.add_parser("compress", help="write compressed vectors that every query runs on (int8: 4x smaller)",
                        description="Compress vectors into an lmkit folder that KeyedVectors.load and every "
                                    "embed command open memory-mapped and search on the codes.")
    _vector_input(z)
    z.add_argument("-o", "--output", required=True, help="output folder")
    zf = z.add_mutually_exclusive_group(required=True)
    zf.add_argument("--int8", action="store_true",
                    help="int8 codes with a float32 scale per row (a quarter of float32, plus 4 bytes a row)")
    zf.add_argument("--pq", type=positive_int, metavar="M",
                    help="product quantisation: M bytes a vector (M divides the dimension; unit directions)")
    z.add_argument("--seed", type=SEED.arg(), default=0, help="k-means seed for --pq (default 0)")
    z.add_argument("--rerank", type=positive_int, metavar="R", default=0,
                   help="with --pq: keep the rows beside the codes and score a query's best R candidates again "
                        "on them (recall close to the kept rows' at the codes' speed)")
    z.add_argument("--refine", choices=("int8", "float32"), default="int8",
                   help="the rows kept for --rerank (default int8: a quarter of float32)")
    z.add_argument("--ivf", type=positive_int, metavar="NLIST", default=0,
                   help="with --pq: an inverted-file index of NLIST k-means cells (residuals coded); a query "
                        "scans only its --nprobe nearest cells")
    z.add_argument("--nprobe", type=positive_int, default=8, help="cells a query scans with --ivf (default 8)")
    z.set_defaults(run=run_compress)
    p.set_defaults(run=missing_command(p))


def run_train(args: argparse.Namespace) -> int:
    negative = args.negative if args.negative is not None else (0 if args.hs else 5)
    corpus = corpus_from_args(args, args.corpus)
    if args.cluster:
        return _train_on_cluster(args, corpus, negative)
    if args.resume:
        if not args.save_model:
            raise ConfigError("--resume needs --save-model FOLDER")
        model = Word2Vec.load(args.save_model)
        log.info("resuming %s after %d epochs", args.save_model, model.epochs_done)
    else:
        model = Word2Vec(dim=args.dim, window=args.window, sg=not args.cbow, hs=args.hs, negative=negative,
                         sample=args.sample, alpha=args.alpha, min_alpha=args.min_alpha,
                         min_count=args.min_count, max_vocab_size=args.max_vocab, epochs=args.epochs,
                         workers=args.workers, seed=args.seed)
        if args.read_vocab:
            model.use_vocab(Vocabulary.load(args.read_vocab))
        else:
            model.build_vocab(corpus)
        log.info("vocabulary: %d words (min_count %d)", len(model.wv), args.min_count)
    model.config.workers = args.workers
    model.train(corpus, resume=args.resume, quiet=args.quiet, checkpoint=args.save_model)
    return _write_outputs(args, model)


def _train_on_cluster(args: argparse.Namespace, corpus, negative: int) -> int:
    """`embed train --cluster`: replicas on Dask workers, synchronised every --sync-words."""
    from ..cluster import connect
    if args.resume or args.save_model:
        raise ConfigError("--save-model/--resume apply to one machine; not with --cluster")
    model = Word2Vec(dim=args.dim, window=args.window, sg=not args.cbow, hs=args.hs, negative=negative,
                     sample=args.sample, alpha=args.alpha, min_alpha=args.min_alpha, min_count=args.min_count,
                     max_vocab_size=args.max_vocab, epochs=args.epochs, workers=1, seed=args.seed)
    if args.read_vocab:
        model.use_vocab(Vocabulary.load(args.read_vocab))
    with connect(args.cluster) as client:
        model.train(corpus, client=client, replicas=args.replicas, sync_words=args.sync_words,
                    sync_method=args.sync_method, partitions=args.partitions, quiet=args.quiet)
    return _write_outputs(args, model)


def _write_outputs(args: argparse.Namespace, model: Word2Vec) -> int:
    if args.classes:
        classes = model.wv.word_classes(args.classes)
        with atomic_write(args.output) as out:
            out.writelines(f"{w} {int(c)}\n" for w, c in zip(model.wv.words, classes.tolist()))
    elif args.native:
        model.wv.save(args.output)
    else:
        model.wv.save_word2vec_format(args.output, binary=args.binary)
    if args.save_vocab and model.vocab is not None:
        model.vocab.save(args.save_vocab)
    last = model.history[-1] if model.history else None
    if last:
        log.info("%s: %d words x %d; last epoch loss %.4f, %.0f words/s", args.output, len(model.wv),
                 model.config.dim, last.loss, last.words_per_second)
    return 0


def _vector_input(parser: argparse.ArgumentParser, query: bool = False) -> None:
    parser.add_argument("vectors", help="vectors: word2vec text/binary file (.gz too) or lmkit folder")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="read only the first N vectors (the most frequent words)")
    if query:
        parser.add_argument("--nprobe", dest="query_nprobe", type=positive_int, default=None,
                            help="IVF folders: cells each query scans (default: the one saved with the folder)")


def _load_vectors(args: argparse.Namespace) -> KeyedVectors:
    import os
    import time
    t0 = time.perf_counter()
    kv = KeyedVectors.load(args.vectors, limit=args.limit)
    if getattr(args, "query_nprobe", None) is not None:
        if not (isinstance(kv.vectors, PQRows) and kv.vectors.ivf is not None):
            raise ConfigError(f"--nprobe: {args.vectors} has no IVF index (made by embed compress --pq M --ivf NLIST)")
        kv.vectors.nprobe = args.query_nprobe
    seconds = time.perf_counter() - t0
    if not os.path.isdir(args.vectors) and seconds > 2.0:
        log.info("%s took %.1f s to read; `lmkit embed convert %s FOLDER --native` makes a folder "
                 "that opens in milliseconds", args.vectors, seconds, args.vectors)
    return kv


def _print_neighbors(query: str, result) -> None:
    """One line per query: the query, a tab, then ``word:cosine`` pairs best first."""
    print(query + "\t" + " ".join(f"{w}:{s:.4f}" for w, s in result))


def run_neighbors(args: argparse.Namespace) -> int:
    kv = _load_vectors(args)
    words = args.words or [ln.strip() for ln in sys.stdin if ln.strip()]
    status = 0
    known = [w for w in words if w in kv]
    results = dict(zip(known, kv.neighbors(known, args.k))) if known else {}
    for w in words:
        if w in results:
            _print_neighbors(w, results[w])
        else:
            print(f"lmkit: error: {w!r} is not in the vocabulary of {args.vectors}", file=sys.stderr)
            status = 2
    return status


def run_analogy(args: argparse.Namespace) -> int:
    kv = _load_vectors(args)
    missing = [w for w in (args.a, args.b, args.c) if w not in kv]
    if missing:
        raise LmkitError(f"not in the vocabulary of {args.vectors}: {', '.join(missing)}")
    result = kv.most_similar(positive=[args.b, args.c], negative=[args.a], topn=args.k)
    _print_neighbors(f"{args.a}:{args.b}::{args.c}:?", result)
    return 0


def run_convert(args: argparse.Namespace) -> int:
    kv = _load_vectors(args)
    if args.to_native:
        kv.save(args.output)
    else:
        kv.save_word2vec_format(args.output, binary=args.to_binary)
    log.info("%s: %d words x %d", args.output, len(kv), kv.dim)
    return 0


def run_compress(args: argparse.Namespace) -> int:
    kv = _load_vectors(args)
    if (args.rerank or args.ivf) and not args.pq:
        raise ConfigError("--rerank and --ivf go with --pq (int8 rows are scored directly)")
    small = kv.compress("pq", m=args.pq, seed=args.seed, rerank=args.rerank, refine=args.refine, ivf=args.ivf,
                        nprobe=args.nprobe) if args.pq else kv.compress("int8")
    small.save(args.output)
    before = 4 * len(kv) * kv.dim
    log.info("%s: %d words x %d, %s: %.1f MB of rows (float32 %.1f MB)", args.output, len(kv), kv.dim,
             small.encoding, small.vectors.nbytes / 1e6, before / 1e6)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    if not args.analogies and not args.pairs:
        raise ConfigError("give --analogies FILE and/or --pairs FILE...")
    kv = _load_vectors(args)
    if args.analogies:
        r = kv.evaluate_analogies(args.analogies, restrict_vocab=args.restrict_vocab)
        print(f"analogies\taccuracy={r['accuracy']:.4f}\tsemantic={r['semantic']:.4f}\t"
              f"syntactic={r['syntactic']:.4f}\ttried={r['tried']}\tskipped={r['skipped']}")
    for path in args.pairs:
        r = kv.evaluate_pairs(path)
        print(f"{path}\tspearman={r['spearman']:.4f}\tpearson={r['pearson']:.4f}\t"
              f"pairs={r['pairs']}\toov_ratio={r['oov_ratio']:.3f}")
    return 0
