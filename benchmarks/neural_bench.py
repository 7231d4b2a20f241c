"""Neural language models: training speed against PyTorch, what each output layer costs, and
perplexity against lmkit's modified Kneser-Ney 5-gram (alone and interpolated).

    python benchmarks/neural_bench.py speed [--repeats 3] [--steps 40] [--vocab 10000]
    python benchmarks/neural_bench.py outputs [--vocab 10000 50000]
    python benchmarks/neural_bench.py quality --shared ../shared/data [--seeds 1 2 3] [--epochs 3]
    python benchmarks/neural_bench.py cost [--hidden 128] [--epochs 1]
    python benchmarks/neural_bench.py rnnlm --faster-rnnlm /tmp/frnn/faster-rnnlm/rnnlm [--threads 1 2]

speed: the same LSTM LM (embedding, one LSTM layer, full softmax, Adam, clipping) on the same
batches (B streams x T steps of the same encoded corpus), lmkit and torch (pinned in the
`bench` extra) each in its own process with 2 threads, run alternately; words/s after a few
warm-up steps, medians and the ratio. torch's nn.LSTM cannot zero its state at <s> inside a
sequence, so it trains without those resets (a little less work than lmkit does).

outputs: lmkit's words/s with each output layer (full, class, hs, sampled, nce) at the given
vocabulary sizes, same recurrent layer, one process each.

The lmkit workers run with the thread-pool settings the `lmkit` command makes (idle OpenBLAS
and OpenMP threads sleep at once: lmkit/threads.py); torch with its own defaults.

rnnlm: Mikolov's sigmoid RNN with hierarchical softmax, hidden 100, on Brown's train split,
against faster-rnnlm (yandex/faster-rnnlm, C++; build it outside the repository: fetch its
source, link Debian's libeigen3-dev as eigen3/, `make NVCC_TEST=none` in faster-rnnlm/), each
with its own training procedure, same threads, alternating runs, words/s over one epoch.

quality: one closed vocabulary (the 10k most frequent training words, the rest <unk>) for
every model; training pool = Brown train split (every line but each 10th of data/brown.txt.gz)
+ Reuters train + movie reviews + Gutenberg + ABC from ``--shared`` (regex tokenizer,
lowercased); every 100th line of the non-Brown pool is held out (alternately: validation for
early stopping and EM weights; pool test). Test: Brown's every 10th line, the pool test half,
and PTB / WikiText-2 test as out-of-domain checks. KN5 = lmkit's mkn order 5 on the same ids.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lmkit.threads import quiet_thread_pools

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------- data
def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in f]


def pool_texts(shared: Path) -> dict[str, list[str]]:
    """train / valid / pool_test / brown_test line lists (raw text)."""
    brown = _lines(ROOT / "data" / "brown.txt.gz")
    brown_train = [l for i, l in enumerate(brown, 1) if i % 10]
    brown_test = [l for i, l in enumerate(brown, 1) if i % 10 == 0]
    others: list[str] = []
    for rel in ["reuters/reuters.training.txt.gz", "movie_reviews/movie_reviews.txt.gz", "abc/abc.txt.gz"]:
        others += _lines(shared / rel)
    for p in sorted((shared / "gutenberg").glob("*.txt.gz")):
        others += _lines(p)
    others = [l for l in others if l.strip()]
    held = others[::100]
    rest = [l for i, l in enumerate(others) if i % 100]
    return {"train": brown_train + rest, "valid": held[0::2], "pool_test": held[1::2], "brown_test": brown_test}


def ood_texts(shared: Path) -> dict[str, list[str]]:
    ptb = _lines(shared / "ptb" / "ptb.test.txt")
    wiki = [l for l in _lines(shared / "wikitext2" / "wiki.test.tokens") if l.strip() and not l.strip().startswith("=")]
    return {"ptb_test": ptb, "wikitext2_test": wiki}


# ---------------------------------------------------------------------------------- speed
def _speed_corpus(vocab_size: int, folder: Path) -> Path:
    """Brown, lowercased, its vocab_size most frequent words: the stream both sides read."""
    from lmkit import Corpus, Tokenizer, Vocabulary, encode_corpus
    from lmkit.neural.data import Stream
    corpus = Corpus(ROOT / "data" / "brown.txt.gz", Tokenizer("whitespace", lowercase=True), quiet=True)
    vocab = Vocabulary.build(corpus, max_size=vocab_size - 3)
    enc = encode_corpus(corpus, vocab)
    stream = Stream.from_encoded(enc.ids, enc.offsets)
    np.save(folder / "inputs.npy", stream.inputs)
    np.save(folder / "targets.npy", stream.targets)
    vocab.save(folder / "vocab.tsv")
    return folder


def _timed(step, args) -> dict:
    """Words/s of ``step(k) -> (loss, words)`` over args.steps batches after args.warmup."""
    for k in range(args.warmup):
        step(k)
    t0 = time.perf_counter()
    words, losses = 0, []
    for k in range(args.warmup, args.warmup + args.steps):
        loss, n = step(k)
        words += n
        losses.append(loss)
    dt = time.perf_counter() - t0
    return {"words_per_s": words / dt, "seconds": dt, "last_loss": float(np.mean(losses[-5:]))}


def worker_lmkit(folder: Path, args) -> dict:
    from lmkit import Vocabulary
    from lmkit.neural import NeuralLM, TrainConfig, Trainer
    from lmkit.neural.data import Stream, StreamBatches
    vocab = Vocabulary.load(folder / "vocab.tsv")
    inputs, targets = np.load(folder / "inputs.npy"), np.load(folder / "targets.npy")
    stream = Stream(inputs, targets, np.zeros(len(inputs), np.int64))
    batches = StreamBatches(stream, args.batch, args.bptt)
    model = NeuralLM.create(vocab, arch=args.arch, output=args.output, emb=args.hidden, hidden=args.hidden,
                            samples=args.samples)
    tr = Trainer(model, folder / "unused", TrainConfig(batch=args.batch, bptt=args.bptt, lr=1e-3, clip=1.0))
    net = model.network
    params = list(net.parameters())
    grads = [g for _, _, g in params]
    state = net.initial_state(args.batch)
    from lmkit.nn import clip_by_global_norm

    def step(k):
        nonlocal state
        inp, tg, w, n = tr._batch(stream, batches, k)
        net.zero_grad()
        loss, state = net.loss(inp, tg, w, state, np.random.default_rng(k), training=True, backward=True)
        clip_by_global_norm(grads, 1.0)
        tr.optimizer.step(params)
        return loss, n

    return _timed(step, args)


def worker_torch(folder: Path, args) -> dict:
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    V = sum(1 for _ in open(folder / "vocab.tsv", encoding="utf-8"))
    inputs, targets = np.load(folder / "inputs.npy"), np.load(folder / "targets.npy")
    L = len(inputs) // args.batch
    grid_in = torch.from_numpy(inputs[:L * args.batch].reshape(args.batch, L).astype(np.int64))
    grid_tg = torch.from_numpy(targets[:L * args.batch].reshape(args.batch, L).astype(np.int64))

    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(V, args.hidden)
            self.rnn = torch.nn.LSTM(args.hidden, args.hidden, batch_first=True)
            self.out = torch.nn.Linear(args.hidden, V)

        def forward(self, x, state):
            y, state = self.rnn(self.emb(x), state)
            return self.out(y), state

    model = LM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    state = None

    def step(k):
        nonlocal state
        t0, t1 = k * args.bptt, (k + 1) * args.bptt
        x, y = grid_in[:, t0:t1], grid_tg[:, t0:t1]
        if state is not None:
            state = tuple(s.detach() for s in state)
        opt.zero_grad()
        logits, state = model(x, state)
        loss = lossf(logits.reshape(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss), x.numel()

    return dict(_timed(step, args), torch=torch.__version__)


def _run_worker(side: str, folder: Path, args, extra: list[str] | None = None) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))
    if side == "lmkit":
        quiet_thread_pools(env)       # as the lmkit command runs (lmkit/threads.py)
    cmd = [sys.executable, __file__, "worker", side, str(folder), "--batch", str(args.batch), "--bptt",
           str(args.bptt), "--hidden", str(args.hidden), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--threads", str(args.threads)] + (extra or [])
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        raise SystemExit(f"{side} worker failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def cmd_speed(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = _speed_corpus(args.vocab, Path(tmp))
        runs: dict[str, list[dict]] = {"lmkit": [], "torch": []}
        for r in range(args.repeats):
            for side in ("lmkit", "torch") if r % 2 == 0 else ("torch", "lmkit"):
                runs[side].append(_run_worker(side, folder, args, ["--output", "full", "--arch", "lstm"]))
                print(f"  run {r + 1} {side}: {runs[side][-1]['words_per_s']:,.0f} words/s "
                      f"(loss {runs[side][-1]['last_loss']:.3f})", flush=True)
    med = {s: statistics.median(x["words_per_s"] for x in v) for s, v in runs.items()}
    rng = {s: (min(x["words_per_s"] for x in v), max(x["words_per_s"] for x in v)) for s, v in runs.items()}
    print(f"\nLSTM LM, V={args.vocab}, E=H={args.hidden}, B={args.batch}, T={args.bptt}, full softmax, Adam, "
          f"{args.threads} threads, {args.steps} steps after {args.warmup} warm-up; {args.repeats} runs each "
          f"(torch {runs['torch'][0].get('torch')})")
    print("| side | words/s (median) | range |")
    print("|---|---|---|")
    for s in ("lmkit", "torch"):
        print(f"| {s} | {med[s]:,.0f} | {rng[s][0]:,.0f}-{rng[s][1]:,.0f} |")
    print(f"ratio lmkit/torch: {med['lmkit'] / med['torch']:.2f}x")


def cmd_outputs(args) -> None:
    print(f"words/s by output layer ({args.arch}, H={args.hidden}, B={args.batch}, T={args.bptt}, "
          f"{args.threads} threads, {args.steps} steps after {args.warmup}; median of {args.repeats})")
    print("| V | " + " | ".join(args.outputs) + " |")
    print("|---|" + "---|" * len(args.outputs))
    for V in args.vocab:
        with tempfile.TemporaryDirectory() as tmp:
            folder = _speed_corpus(V, Path(tmp))
            cells = []
            for out in args.outputs:
                w = [_run_worker("lmkit", folder, args, ["--output", out, "--arch", args.arch])["words_per_s"]
                     for _ in range(args.repeats)]
                cells.append(f"{statistics.median(w):,.0f}")
                print(f"  V={V} {out}: {cells[-1]}", flush=True)
        print(f"| {V} | " + " | ".join(cells) + " |")


# ---------------------------------------------------------------------------------- faster-rnnlm
def _frnn_speed(binary: str, train: Path, valid: Path, threads: int, hidden: int, seconds: float) -> float:
    """faster-rnnlm's own words/s over its first epoch (its progress line), killed after that."""
    import re
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [binary, "-rnnlm", f"{tmp}/m", "-train", str(train), "-valid", str(valid), "-hidden", str(hidden),
               "-hidden-type", "sigmoid", "-threads", str(threads), "-direct", "0"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds).stderr
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr
            out = err.decode() if isinstance(err, bytes) else (err or "")
    speeds = re.findall(r"Epoch\s+1\s.*?([\d.]+) Kwords/sec", out.replace("\r", "\n"))
    if not speeds:
        raise SystemExit(f"faster-rnnlm printed no speed:\n{out[-2000:]}")
    return float(speeds[-1]) * 1000


def _lmkit_rnn_speed(train: Path, threads: int, hidden: int, args) -> tuple[float, float]:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "lmkit.cli.main", "-q", "neural", "train", str(train), "-o", f"{tmp}/m",
               "--arch", "rnn", "--emb", str(hidden), "--hidden", str(hidden), "--output", "hs", "--optimizer",
               "sgd", "--lr", str(args.lr), "--epochs", "1", "--batch", str(args.batch), "--bptt", str(args.bptt)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode:
            raise SystemExit(f"lmkit failed:\n{res.stderr[-2000:]}")
        hist = json.loads(Path(f"{tmp}/m/history.json").read_text())[-1]
    return hist["words_per_s"], hist["train_ppl"]


def cmd_rnnlm(args) -> None:
    brown = _lines(ROOT / "data" / "brown.txt.gz")
    with tempfile.TemporaryDirectory() as tmp:
        train, valid = Path(tmp) / "train.txt", Path(tmp) / "valid.txt"
        train.write_text("\n".join(l.lower() for i, l in enumerate(brown, 1) if i % 10) + "\n")
        valid.write_text("\n".join([l.lower() for i, l in enumerate(brown, 1) if i % 10 == 0][:2000]) + "\n")
        print(f"sigmoid RNN, hidden {args.hidden}, hierarchical softmax over all {len(set(train.read_text().split()))} "
              f"Brown train words (lowercased); faster-rnnlm defaults otherwise (per-word SGD, bptt 5, no maxent); "
              f"lmkit: plain SGD lr {args.lr}, {args.batch} streams x {args.bptt} steps, one epoch")
        print("| threads | faster-rnnlm words/s | lmkit words/s | ratio |")
        print("|---|---|---|---|")
        for threads in args.threads:
            f, l = [], []
            for r in range(args.repeats):
                for side in ("f", "l") if r % 2 == 0 else ("l", "f"):
                    if side == "f":
                        f.append(_frnn_speed(args.faster_rnnlm, train, valid, threads, args.hidden, args.seconds))
                    else:
                        l.append(_lmkit_rnn_speed(train, threads, args.hidden, args)[0])
            fm, lm = statistics.median(f), statistics.median(l)
            print(f"| {threads} | {fm:,.0f} ({min(f):,.0f}-{max(f):,.0f}) | {lm:,.0f} ({min(l):,.0f}-{max(l):,.0f}) | "
                  f"{lm / fm:.2f}x |", flush=True)


# ---------------------------------------------------------------------------------- cost
def cmd_cost(args) -> None:
    """What each output layer costs in perplexity: the same LSTM trained the same number of
    words with each output, exact test perplexity (Brown split, lowercased, V most frequent)."""
    from lmkit import Tokenizer, Vocabulary, encode_corpus
    from lmkit.neural import NeuralLM, TrainConfig, train_model
    brown = _lines(ROOT / "data" / "brown.txt.gz")
    tok = Tokenizer("whitespace", lowercase=True)
    train = tok.tokenize_lines([l for i, l in enumerate(brown, 1) if i % 10])
    test = tok.tokenize_lines([l for i, l in enumerate(brown, 1) if i % 10 == 0])
    vocab = Vocabulary.build(train, max_size=args.vocab - 3)
    tr, te = encode_corpus(train, vocab), encode_corpus(test, vocab)
    print(f"LSTM {args.hidden}, V={len(vocab)}, {args.epochs} epoch(s) of Brown train ({tr.n_tokens:,} words), Adam "
          f"lr {args.lr}; exact perplexity of Brown test")
    print("| output | test perplexity | vs full | train s |")
    print("|---|---|---|---|")
    base = None
    for out in args.outputs:
        with tempfile.TemporaryDirectory() as tmp:
            model = NeuralLM.create(vocab, arch="lstm", emb=args.hidden, hidden=args.hidden, output=out, seed=args.seed)
            t0 = time.perf_counter()
            model = train_model(model, tr, Path(tmp) / "m", TrainConfig(epochs=args.epochs, lr=args.lr, seed=args.seed),
                                quiet=True)
            dt = time.perf_counter() - t0
        ppl = model.perplexity(te).perplexity
        base = base or ppl
        print(f"| {out} | {ppl:.1f} | {100 * (ppl / base - 1):+.1f} % | {dt:.0f} |", flush=True)


# ---------------------------------------------------------------------------------- quality
def cmd_quality(args) -> None:
    from lmkit import Tokenizer, Vocabulary, encode_corpus
    from lmkit.interpolate import InterpolatedLM, best_weights
    from lmkit.neural import NeuralLM, TrainConfig, train_model
    from lmkit.ngram import NgramModel
    tok = Tokenizer("regex", lowercase=True)
    texts = pool_texts(args.shared)
    texts.update(ood_texts(args.shared))
    sents = {k: tok.tokenize_lines(v) for k, v in texts.items()}
    sents = {k: [s for s in v if s] for k, v in sents.items()}
    vocab = Vocabulary.build(sents["train"], max_size=args.vocab)
    enc = {k: encode_corpus(v, vocab) for k, v in sents.items()}
    print(f"train {enc['train'].n_tokens:,} tokens, {enc['train'].n_sentences:,} sentences; vocabulary {len(vocab):,}; "
          + ", ".join(f"{k} {e.n_tokens:,}" for k, e in enc.items() if k != "train"), flush=True)
    t0 = time.perf_counter()
    kn = NgramModel.train(sents["train"], order=5, smoothing="mkn", vocab=vocab, quiet=True)
    print(f"KN5: {time.perf_counter() - t0:.1f} s", flush=True)
    tests = ["brown_test", "pool_test", "ptb_test", "wikitext2_test"]
    rows = {"KN5 (mkn, order 5)": {t: kn.perplexity(enc[t]).perplexity for t in tests}}
    out_root = Path(args.out)
    for seed in args.seeds:
        folder = out_root / f"{args.arch}-{args.output}-h{args.hidden}-s{seed}"
        if (folder / "model" / "config.json").exists() and not (folder / "checkpoints").exists():
            model = NeuralLM.load(folder)
        elif (folder / "checkpoints").exists():
            from lmkit.neural import Trainer
            tr = Trainer.resume(folder)
            tr.train(enc["train"], enc["valid"])
            model = NeuralLM.load(folder)
        else:
            model = NeuralLM.create(vocab, tokenizer=tok, arch=args.arch, layers=args.layers, emb=args.hidden,
                                    hidden=args.hidden, dropout=args.dropout, output=args.output, seed=seed,
                                    tied=args.tied)
            t0 = time.perf_counter()
            model = train_model(model, enc["train"], folder,
                                TrainConfig(epochs=args.epochs, batch=args.batch, bptt=args.bptt, lr=args.lr,
                                            seed=seed, patience=2), valid=enc["valid"])
            print(f"seed {seed}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
        hist = json.loads((folder / "history.json").read_text())
        name = f"{args.arch} {args.layers}x{args.hidden} {args.output}"
        for label, m in (("KN5", kn), (name, model)):
            t0 = time.perf_counter()
            m.score_encoded(enc["brown_test"])
            dt = time.perf_counter() - t0
            print(f"scoring Brown test ({enc['brown_test'].n_tokens + enc['brown_test'].n_sentences:,} predictions) "
                  f"with {label}: {dt:.2f} s, {(enc['brown_test'].n_tokens + enc['brown_test'].n_sentences) / dt:,.0f} "
                  "words/s", flush=True)
        rows.setdefault(name, {})
        for t in tests:
            rows[name].setdefault(t, []).append(model.perplexity(enc[t]).perplexity)
        lam, _, _ = best_weights([kn, model], sents["valid"])
        mix = InterpolatedLM([kn, model], lam)
        iname = f"KN5 + {name} (EM weights)"
        rows.setdefault(iname, {})
        for t in tests:
            rows[iname].setdefault(t, []).append(mix.perplexity(sents[t]).perplexity)
        print(f"seed {seed}: epochs {len(hist)}, words/s {hist[-1]['words_per_s']:,.0f}, weights {np.round(lam, 3)}, "
              + ", ".join(f"{t} {rows[name][t][-1]:.1f}/{rows[iname][t][-1]:.1f}" for t in tests), flush=True)
    print("\n| model | " + " | ".join(tests) + " |")
    print("|---|" + "---|" * len(tests))
    base = rows["KN5 (mkn, order 5)"]
    for name, cells in rows.items():
        parts = []
        for t in tests:
            v = cells[t]
            if isinstance(v, list):
                m = float(np.mean(v))
                spread = f" ({min(v):.1f}-{max(v):.1f})" if len(v) > 1 else ""
                parts.append(f"{m:.1f}{spread} ({100 * (m / base[t] - 1):+.1f} %)")
            else:
                parts.append(f"{v:.1f}")
        print(f"| {name} | " + " | ".join(parts) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--batch", type=int, default=32)
    common.add_argument("--bptt", type=int, default=35)
    common.add_argument("--hidden", type=int, default=200)
    common.add_argument("--steps", type=int, default=40)
    common.add_argument("--warmup", type=int, default=5)
    common.add_argument("--threads", type=int, default=2)
    sp = sub.add_parser("speed", parents=[common])
    sp.add_argument("--repeats", type=int, default=3)
    sp.add_argument("--vocab", type=int, default=10000)
    so = sub.add_parser("outputs", parents=[common])
    so.add_argument("--repeats", type=int, default=1)
    so.add_argument("--vocab", type=int, nargs="+", default=[10000, 50000])
    so.add_argument("--arch", default="lstm")
    so.add_argument("--outputs", nargs="+", default=["full", "class", "hs", "sampled", "nce"])
    sc = sub.add_parser("cost")
    sc.add_argument("--vocab", type=int, default=10000)
    sc.add_argument("--hidden", type=int, default=128)
    sc.add_argument("--epochs", type=int, default=1)
    sc.add_argument("--lr", type=float, default=2e-3)
    sc.add_argument("--seed", type=int, default=1)
    sc.add_argument("--outputs", nargs="+", default=["full", "class", "hs", "sampled", "nce"])
    sr = sub.add_parser("rnnlm")
    sr.add_argument("--faster-rnnlm", required=True, help="path of faster-rnnlm's rnnlm binary")
    sr.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    sr.add_argument("--repeats", type=int, default=2)
    sr.add_argument("--hidden", type=int, default=100)
    sr.add_argument("--batch", type=int, default=32)
    sr.add_argument("--bptt", type=int, default=35)
    sr.add_argument("--lr", type=float, default=1.0)
    sr.add_argument("--seconds", type=float, default=30.0, help="faster-rnnlm runs this long (its first epoch)")
    sq = sub.add_parser("quality")
    sq.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    sq.add_argument("--out", default="neural_runs")
    sq.add_argument("--seeds", type=int, nargs="+", default=[1])
    sq.add_argument("--vocab", type=int, default=10000)
    sq.add_argument("--arch", default="lstm")
    sq.add_argument("--layers", type=int, default=1)
    sq.add_argument("--hidden", type=int, default=256)
    sq.add_argument("--dropout", type=float, default=0.0)
    sq.add_argument("--tied", action="store_true")
    sq.add_argument("--output", default="class")
    sq.add_argument("--epochs", type=int, default=3)
    sq.add_argument("--batch", type=int, default=32)
    sq.add_argument("--bptt", type=int, default=35)
    sq.add_argument("--lr", type=float, default=2e-3)
    w = sub.add_parser("worker", parents=[common])
    w.add_argument("side", choices=["lmkit", "torch"])
    w.add_argument("folder", type=Path)
    w.add_argument("--output", default="full")
    w.add_argument("--arch", default="lstm")
    w.add_argument("--samples", type=int, default=256)
    args = ap.parse_args()
    if args.cmd == "worker":
        result = (worker_lmkit if args.side == "lmkit" else worker_torch)(args.folder, args)
        print(json.dumps(result))
    else:
        {"speed": cmd_speed, "outputs": cmd_outputs, "quality": cmd_quality, "rnnlm": cmd_rnnlm,
         "cost": cmd_cost}[args.cmd](args)


if __name__ == "__main__":
    main()
