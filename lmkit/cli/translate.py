"""`lmkit translate`: train an attentional encoder-decoder, translate, score BLEU."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..checks import Range
from ..errors import ConfigError, CorpusError, ModelFormatError
from ..translate.model import SEQ2SEQ_RANGES as M
from ..translate.shortlist import SHORTLIST_RANGES as SL
from ..translate.train import TRAIN_RANGES as T
from ..translate.translator import DECODE_RANGES as D
from .common import add_text_options, missing_command, positive_int, tokenizer_from_args

log = logging.getLogger("lmkit")


def register(sub: argparse._SubParsersAction, argv: Sequence[str] | None = None) -> None:
    p = sub.add_parser("translate", help="attentional encoder-decoder translation: train, decode, BLEU",
                       description="Train and run a bidirectional-GRU encoder / attentional GRU decoder.")
    cmds = p.add_subparsers(dest="translate_command", metavar="COMMAND")
    t = cmds.add_parser("train", help="train a model (checkpoints in MODEL_DIR/checkpoints)")
    for name in ("--train-src", "--train-tgt"):
        t.add_argument(name, required=True, help="parallel training text, one sentence per line")
    t.add_argument("-o", "--output", required=True, help="model folder")
    _model_options(t)
    _training_options(t)
    t.add_argument("--min-count", type=positive_int, default=2, help="rarer words become <unk> (default 2)")
    t.add_argument("--joint-vocab", action="store_true", help="one vocabulary for both sides")
    add_text_options(t, default_tokenizer="whitespace")
    t.set_defaults(run=run_train)

    k = cmds.add_parser("distill", help="train a smaller student on a teacher's beam-search translations "
                        "(sequence-level knowledge distillation)",
                        description="Translate the training source with the teacher's beam search (written "
                                    "part by part under STUDENT_DIR/distill, resumable), then train a student "
                                    "with the teacher's vocabularies and tokenizer on those translations.")
    k.add_argument("teacher", help="the teacher's model folder")
    k.add_argument("--train-src", required=True, help="training source text, one sentence per line")
    k.add_argument("-o", "--output", required=True, help="the student's model folder")
    k.add_argument("--beam", type=D["beam"].arg(), default=5, help="the teacher's beam size (default 5)")
    k.add_argument("--length-penalty", type=D["alpha"].arg(), default=1.0, help="GNMT length penalty alpha")
    k.add_argument("--decode-batch", type=D["batch"].arg(), default=64, help="sentences the teacher decodes together")
    k.add_argument("--seq-inter", metavar="TRAIN_TGT",
                   help="the training references (line-aligned with --train-src): each student target is "
                        "then the one of the teacher's n-best translations (as many as --beam) closest to "
                        "its reference by sentence BLEU (Kim & Rush's Seq-Inter)")
    _model_options(k)
    _training_options(k)
    k.set_defaults(run=run_distill)

    d = cmds.add_parser("decode", help="translate text, one sentence a line in and out")
    d.add_argument("model", help="model folder")
    d.add_argument("text", nargs="?", default="-", help="source text file or - (stdin)")
    d.add_argument("--beam", type=D["beam"].arg(), default=5, help="beam size (1: greedy)")
    d.add_argument("--batch", type=D["batch"].arg(), default=64, help="sentences decoded together (default 64)")
    d.add_argument("--length-penalty", type=D["alpha"].arg(), default=1.0, help="GNMT length penalty alpha (0: none)")
    d.add_argument("--max-len-ratio", type=D["max_len_ratio"].arg(), default=2.0,
                   help="longest output: ratio x source length + 10 tokens (default 2.0)")
    d.add_argument("--max-src-len", type=D["max_src_len"].arg(), default=250,
                   help="longer source lines are cut there, with a warning (default 250 tokens)")
    d.add_argument("--replace-unk", action="store_true", help="replace <unk> by the most attended source word")
    d.add_argument("--attention-plot", help="PNG heat map of the first sentence's attention (needs matplotlib)")
    d.add_argument("--shortlist", action="store_true",
                   help="decode over the model's target-vocabulary shortlist (see `translate shortlist`)")
    d.add_argument("--nbest", type=positive_int, default=1,
                   help="print each line's N best translations (at most --beam) as 'LINE ||| words ||| "
                        "score' (LINE from 0, score: the length-penalised log probability, best first)")
    d.set_defaults(run=run_decode)

    s = cmds.add_parser("shortlist", help="build a target-vocabulary shortlist for faster decoding",
                        description="Estimate IBM Model 1 on the training pairs and write MODEL/shortlist.npz: "
                                    "the most frequent target words plus each source word's most probable "
                                    "translations. `translate decode --shortlist` then decodes each batch over "
                                    "those words only.")
    s.add_argument("model", help="model folder (the shortlist is written into it)")
    for name in ("--train-src", "--train-tgt"):
        s.add_argument(name, required=True, help="parallel training text, one sentence per line")
    s.add_argument("--frequent", type=SL["frequent"].arg(), default=100,
                   help="most frequent target words always kept (default 100)")
    s.add_argument("--per-word", type=SL["per_word"].arg(), default=50,
                   help="translations kept per source word (default 50)")
    s.add_argument("--iterations", type=SL["iterations"].arg(), default=5, help="IBM Model 1 EM passes (default 5)")
    s.set_defaults(run=run_shortlist)

    b = cmds.add_parser("bleu", help="corpus BLEU / chrF of a hypothesis file against reference files "
                        "(sacreBLEU's numbers and signatures)")
    b.add_argument("hyp", help="hypothesis file, one sentence a line")
    b.add_argument("refs", nargs="+", metavar="REF", help="one or more reference files, line-aligned")
    b.add_argument("-m", "--metrics", nargs="+", choices=["bleu", "chrf"], default=["bleu"],
                   help="metrics to compute (default bleu)")
    b.add_argument("-tok", "--tokenize", choices=["13a", "none", "intl", "char"], default="13a",
                   help="BLEU tokenizer (default 13a)")
    b.add_argument("-lc", "--lowercase", action="store_true", help="case-insensitive scores")
    b.add_argument("-s", "--smooth-method", choices=["exp", "floor", "add-k", "none"], default="exp",
                   help="BLEU smoothing (default exp)")
    b.add_argument("--smooth-value", type=Range(0, 1e6).arg(), default=None,
                   help="floor's value (default 0.1) or add-k's k (default 1)")
    b.add_argument("-cw", "--chrf-word-order", type=Range(0, 10, integer=True).arg(), default=0,
                   help="chrF word n-gram order (2: chrF++; default 0)")
    b.add_argument("-w", "--width", type=Range(0, 10, integer=True).arg(), default=2,
                   help="decimals printed (default 2)")
    b.set_defaults(run=run_bleu)

    a = cmds.add_parser("average", help="average the weights of a model folder's last N checkpoints")
    a.add_argument("model", help="model folder (with checkpoints/)")
    a.add_argument("--last", type=positive_int, default=5, help="how many of the latest checkpoints (default 5)")
    a.add_argument("-o", "--output", required=True, help="folder for the averaged model")
    a.set_defaults(run=run_average)
    p.set_defaults(run=missing_command(p))


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--emb", type=M["emb"].arg(), default=256, help="embedding size (default 256)")
    p.add_argument("--hidden", type=M["hidden"].arg(), default=256, help="GRU/LSTM state size (default 256)")
    p.add_argument("--attn", type=M["attn"].arg(), default=None, help="attention size (default: --hidden)")
    p.add_argument("--layers", type=M["layers"].arg(), default=1, help="stacked encoder and decoder layers")
    p.add_argument("--attention", choices=["additive", "dot", "general"], default="additive",
                   help="additive (Bahdanau), dot or general (Luong) attention")
    p.add_argument("--encoder", choices=["gru", "lstm"], default="gru", help="bidirectional encoder cell")
    p.add_argument("--dropout", type=M["dropout"].arg(), default=0.2, help="dropout rate in [0, 1) (default 0.2)")


def _training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--valid-src", help="validation source (loss and BLEU each epoch, early stopping)")
    p.add_argument("--valid-tgt", help="validation target")
    p.add_argument("--batch", type=T["batch"].arg(), default=64, help="sentence pairs per batch (default 64)")
    p.add_argument("--epochs", type=T["epochs"].arg(), default=10, help="passes over the data (default 10)")
    p.add_argument("--max-steps", type=T["max_steps"].arg(), default=None, help="stop after N batches")
    p.add_argument("--lr", type=T["lr"].arg(), default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--optimizer", choices=["adam", "sgd", "adagrad"], default="adam", help="default adam")
    p.add_argument("--clip", type=T["clip"].arg(), default=1.0, help="global gradient-norm clip (0: off)")
    p.add_argument("--max-len", type=positive_int, default=50, help="skip pairs longer than this (counted)")
    p.add_argument("--patience", type=T["patience"].arg(), default=3, help="epochs without improvement before stopping")
    p.add_argument("--checkpoint-every", type=T["checkpoint_every"].arg(), default=500,
                   help="steps between checkpoints")
    p.add_argument("--seed", type=T["seed"].arg(), default=1, help="random seed (default 1)")
    p.add_argument("--resume", action="store_true", help="continue from the output folder's latest checkpoint")


def _overrides(args: argparse.Namespace) -> dict:
    return dict(epochs=args.epochs, max_steps=args.max_steps, batch=args.batch, lr=args.lr,
                optimizer=args.optimizer, clip=args.clip, patience=args.patience,
                checkpoint_every=args.checkpoint_every, seed=args.seed)


def _model_config(args: argparse.Namespace, sv, tv):
    from ..translate import Seq2SeqConfig
    return Seq2SeqConfig(len(sv), len(tv), args.emb, args.hidden, args.attn or args.hidden, args.dropout,
                         args.seed, args.attention, args.encoder, args.layers)


def _fresh_output(args: argparse.Namespace) -> None:
    if (Path(args.output) / "checkpoints").exists():
        raise ConfigError(f"{args.output}: holds a training run already; continue it with --resume "
                          "or choose another -o (checkpoints of two runs must not mix)")


def _train(trainer, tokenizer, train, args: argparse.Namespace) -> None:
    """Validation data (if given) read with the run's tokenizer, then the training loop."""
    from ..translate import encode_parallel, read_parallel
    valid = None
    if args.valid_src:
        vs, vt = read_parallel(args.valid_src, args.valid_tgt, tokenizer)
        valid = encode_parallel(vs, vt, trainer.src_vocab, trainer.tgt_vocab, None)
    trainer.train(train, valid, quiet=args.quiet)


def run_train(args: argparse.Namespace) -> int:
    from ..translate import Seq2Seq, TrainConfig, Trainer, build_vocabs, encode_parallel, read_parallel
    if bool(args.valid_src) != bool(args.valid_tgt):
        raise ConfigError("give both --valid-src and --valid-tgt, or neither")
    if args.resume:
        trainer = Trainer.resume(args.output, overrides={k: v for k, v in _overrides(args).items()
                                                          if k in ("epochs", "max_steps")})
        tokenizer = trainer.tokenizer
        src, tgt = read_parallel(args.train_src, args.train_tgt, tokenizer)
        train = encode_parallel(src, tgt, trainer.src_vocab, trainer.tgt_vocab, args.max_len)
    else:
        _fresh_output(args)
        tokenizer = tokenizer_from_args(args)
        src, tgt = read_parallel(args.train_src, args.train_tgt, tokenizer)
        sv, tv = build_vocabs(src, tgt, args.min_count, args.joint_vocab)
        train = encode_parallel(src, tgt, sv, tv, args.max_len)
        model = Seq2Seq(_model_config(args, sv, tv))
        trainer = Trainer(model, sv, tv, tokenizer, args.output, TrainConfig(**_overrides(args)))
        log.info("%d training pairs (%d skipped: empty, %d: longer than %d); vocabularies %d / %d; "
                 "%d parameters", len(train), train.skipped_empty, train.skipped_long, args.max_len,
                 len(sv), len(tv), model.n_parameters())
    _train(trainer, tokenizer, train, args)
    return 0


def run_distill(args: argparse.Namespace) -> int:
    """The teacher's translations of the training source (resumable), then a student trained
    on them with the teacher's vocabularies and tokenizer."""
    from ..text import Corpus, Tokenizer
    from ..translate import Seq2Seq, TrainConfig, Trainer, Translator, encode_parallel
    from ..translate.distill import teacher_targets
    if bool(args.valid_src) != bool(args.valid_tgt):
        raise ConfigError("give both --valid-src and --valid-tgt, or neither")
    if not args.resume:
        _fresh_output(args)
    teacher = Translator.load(args.teacher)
    targets = teacher_targets(args.teacher, args.train_src, args.output, beam=args.beam, alpha=args.length_penalty,
                              batch=args.decode_batch, quiet=args.quiet, teacher=teacher,
                              references=args.seq_inter)
    if args.resume and (Path(args.output) / "checkpoints").exists():
        trainer = Trainer.resume(args.output, overrides={k: v for k, v in _overrides(args).items()
                                                          if k in ("epochs", "max_steps")})
    else:
        sv, tv = teacher.src_vocab, teacher.tgt_vocab
        model = Seq2Seq(_model_config(args, sv, tv))
        trainer = Trainer(model, sv, tv, teacher.tokenizer, args.output, TrainConfig(**_overrides(args)))
        log.info("student: %d parameters (teacher %d)", model.n_parameters(), teacher.model.n_parameters())
    src = list(Corpus(args.train_src, trainer.tokenizer, quiet=True))
    tgt = list(Corpus(str(targets), Tokenizer("whitespace"), quiet=True))   # the teacher's words as written
    if len(src) != len(tgt):
        raise CorpusError(f"{args.train_src} has {len(src)} lines but {targets} has {len(tgt)}")
    train = encode_parallel(src, tgt, trainer.src_vocab, trainer.tgt_vocab, args.max_len)
    log.info("%d distilled training pairs (%d skipped: empty, %d: longer than %d)", len(train),
             train.skipped_empty, train.skipped_long, args.max_len)
    _train(trainer, trainer.tokenizer, train, args)
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from ..text import Corpus, Tokenizer
    from ..translate import Translator
    tr = Translator.load(args.model)
    lines = [line for block in Corpus([args.text], Tokenizer("whitespace"), quiet=True).line_blocks()
             for line in block]
    lists = tr.translate_nbest(lines, args.nbest, beam=args.beam, batch=args.batch, alpha=args.length_penalty,
                               replace_unk=args.replace_unk, max_len_ratio=args.max_len_ratio,
                               max_src_len=args.max_src_len, shortlist=args.shortlist)
    results = [hyps[0] for hyps in lists]
    out = sys.stdout
    if args.nbest > 1:
        from ..translate.decode import length_penalty
        for i, hyps in enumerate(lists):
            for h in hyps:
                normed = h.score / length_penalty(len(h.words) + 1, args.length_penalty)
                out.write(f"{i} ||| {h.text} ||| {normed:.6f}\n")
    else:
        for r in results:
            out.write(r.text + "\n")
    if args.attention_plot and results:
        _plot_attention(results[0], args.attention_plot)
    return 0


def run_shortlist(args: argparse.Namespace) -> int:
    from ..translate import Translator, encode_parallel, read_parallel
    from ..translate.model import model_folder
    from ..translate.shortlist import FILE, build_shortlist
    tr = Translator.load(args.model)
    src, tgt = read_parallel(args.train_src, args.train_tgt, tr.tokenizer)
    data = encode_parallel(src, tgt, tr.src_vocab, tr.tgt_vocab, None)
    shortlist = build_shortlist(data.src, data.tgt, len(tr.src_vocab), len(tr.tgt_vocab), frequent=args.frequent,
                                per_word=args.per_word, iterations=args.iterations)
    path = model_folder(args.model) / FILE
    shortlist.save(path)
    log.info("%s: shortlist of %d frequent words + %d per source word", path, len(shortlist.frequent),
             args.per_word)
    return 0


def _plot_attention(result, path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("--attention-plot needs matplotlib: pip install 'lmkit[plot]'") from None
    att = result.attention[:, :len(result.source) + 1]
    fig, ax = plt.subplots(figsize=(1 + 0.4 * att.shape[1], 1 + 0.4 * att.shape[0]))
    ax.imshow(att, cmap="viridis", aspect="auto")
    ax.set_xticks(range(att.shape[1]), result.source + ["</s>"], rotation=90)
    ax.set_yticks(range(att.shape[0]), (result.words + ["</s>"])[:att.shape[0]])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_bleu(args: argparse.Namespace) -> int:
    from ..translate import corpus_bleu, corpus_chrf
    hyps = _read_lines(args.hyp)
    streams = []
    for ref in args.refs:
        lines = _read_lines(ref)
        if len(lines) != len(hyps):
            raise CorpusError(f"{args.hyp} has {len(hyps)} lines but {ref} has {len(lines)}")
        streams.append(lines)
    w = args.width
    for metric in args.metrics:
        if metric == "bleu":
            r = corpus_bleu(hyps, streams, tokenize=args.tokenize, lowercase=args.lowercase,
                            smooth_method=args.smooth_method, smooth_value=args.smooth_value)
            p = "/".join(f"{x:.1f}" for x in r.precisions)
            print(f"BLEU = {r.score:.{w}f} {p} (BP = {r.bp:.3f} ratio = {r.ratio:.3f} hyp_len = {r.sys_len} "
                  f"ref_len = {r.ref_len}) [{r.signature}]")
        else:
            c = corpus_chrf(hyps, streams, word_order=args.chrf_word_order, lowercase=args.lowercase)
            print(f"{c.name}{c.beta} = {c.score:.{w}f} [{c.signature}]")
    return 0


def _read_lines(path: str) -> list[str]:
    from ..text import read_line_blocks
    return [line for block in read_line_blocks(path, quiet=True) for line in block]


def run_average(args: argparse.Namespace) -> int:
    from ..translate import average_checkpoints
    ckdir = Path(args.model) / "checkpoints"
    folders = sorted(ckdir.glob("step-*"))[-args.last:]
    if not folders:
        raise ModelFormatError(f"{ckdir}: no checkpoints to average")
    average_checkpoints(folders, Path(args.output))
    log.info("%s: average of %s", args.output, ", ".join(f.name for f in folders))
    return 0
