"""Translation: lmkit's numpy/numba seq2seq against a PyTorch CPU model of the same
architecture (emb 256, hidden 256, 1-layer bi-GRU encoder, additive attention, GRU decoder fed
[emb; context], output from [state; context; emb]), same data, vocabularies, batches
(64 sentences, length-bucketed), Adam 1e-3, clip 1.0, no dropout, 2 threads, in one run.

Data: data/multi30k (Multi30k task 1, lowercased Moses-tokenised), en->de, vocab min_count 2.
Reports target tokens/s over the same number of training steps, peak RSS (/usr/bin/time -v),
and with --epochs N, test2016 greedy BLEU (tokenize none) after N epochs of each.

Reproduce:  pip install -e '.[bench]' && python benchmarks/translate_bench.py --steps 60
            python benchmarks/translate_bench.py --epochs 1     # ~6 min per tool per epoch
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
D = ROOT / "data" / "multi30k"


def load():
    from lmkit import Tokenizer
    from lmkit.translate import build_vocabs, encode_parallel, read_parallel
    tok = Tokenizer("whitespace")
    src, tgt = read_parallel(D / "train.lc.norm.tok.en.gz", D / "train.lc.norm.tok.de.gz", tok)
    sv, tv = build_vocabs(src, tgt, 2)
    train = encode_parallel(src, tgt, sv, tv)
    ts, tt = read_parallel(D / "test_2016_flickr.lc.norm.tok.en.gz", D / "test_2016_flickr.lc.norm.tok.de.gz", tok)
    return sv, tv, train, ts, tt


def planned_batches(train, epochs: int, steps: int | None):
    """The same batches, in the same order, for both tools; stops after ``steps`` if given."""
    from lmkit.translate import make_batches, pad_batch
    done = 0
    for epoch in range(epochs):
        for b in make_batches(train, 64, 1, epoch):
            yield pad_batch(train, b)
            done += 1
            if steps and done >= steps:
                return


def run_lmkit(steps: int | None, epochs: int) -> dict:
    from lmkit.nn import Adam, clip_by_global_norm
    from lmkit.translate import Seq2Seq, Seq2SeqConfig, Translator, corpus_bleu
    sv, tv, train, ts, tt = load()
    model = Seq2Seq(Seq2SeqConfig(len(sv), len(tv)))
    opt = Adam(1e-3)
    params = list(model.parameters())
    grads = [g for _, _, g in params]
    done, tokens, t0 = 0, 0, time.perf_counter()
    for s, sm, ti, to, tm in planned_batches(train, epochs, steps):
        model.zero_grad()
        model.loss(s, sm, ti, to, tm, training=True, backward=True)
        clip_by_global_norm(grads, 1.0)
        opt.step(params)
        tokens += int(tm.sum())
        done += 1
    seconds = time.perf_counter() - t0
    out = {"steps": done, "tokens": tokens, "seconds": seconds}
    if not steps:
        tr = Translator(model, sv, tv, None)
        t1 = time.perf_counter()
        hyps = tr.translate_ids([sv.encode(s) for s in ts], beam=1)
        out["decode_s"] = time.perf_counter() - t1
        out["bleu"] = corpus_bleu([h.text for h in hyps], [" ".join(t) for t in tt], tokenize="none").score
    return out


def run_torch(steps: int | None, epochs: int) -> dict:
    import torch
    import torch.nn as nn
    torch.set_num_threads(2)
    torch.manual_seed(1)
    from lmkit.translate import corpus_bleu
    from lmkit.translate.data import pad_sources
    sv, tv, train, ts, tt = load()
    E = H = A = 256
    PAD = 3

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.se, self.te = nn.Embedding(len(sv), E, padding_idx=PAD), nn.Embedding(len(tv), E, padding_idx=PAD)
            self.enc = nn.GRU(E, H, batch_first=True, bidirectional=True)
            self.bridge = nn.Linear(2 * H, H)
            self.wk, self.wq = nn.Linear(2 * H, A), nn.Linear(H, A, bias=False)
            self.v = nn.Linear(A, 1, bias=False)
            self.cell = nn.GRUCell(E + 2 * H, H)
            self.out = nn.Linear(H + 2 * H + E, len(tv))

        def encode(self, src, mask):
            lengths = mask.sum(1).long().cpu()
            packed = nn.utils.rnn.pack_padded_sequence(self.se(src), lengths, batch_first=True, enforce_sorted=False)
            out, h = self.enc(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
            s = torch.tanh(self.bridge(torch.cat([h[0], h[1]], 1)))
            return out, self.wk(out), s

        def step(self, y, s, enc, keys, mask):
            e = self.te(y)
            sc = self.v(torch.tanh(keys + self.wq(s)[:, None])).squeeze(2).masked_fill(mask == 0, -1e30)
            a = torch.softmax(sc, 1)
            ctx = torch.bmm(a[:, None], enc).squeeze(1)
            s = self.cell(torch.cat([e, ctx], 1), s)
            return self.out(torch.cat([s, ctx, e], 1)), s

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss(ignore_index=PAD)
    done, tokens, t0 = 0, 0, time.perf_counter()
    for batch in planned_batches(train, epochs, steps):
        s, sm, ti, to, tm = (torch.from_numpy(x) for x in batch)
        enc, keys, st = model.encode(s, sm)
        logits = []
        for t in range(ti.shape[1]):
            lg, st = model.step(ti[:, t], st, enc, keys, sm)
            logits.append(lg)
        loss = lossf(torch.stack(logits, 1).reshape(-1, len(tv)), to.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += int(tm.sum())
        done += 1
    seconds = time.perf_counter() - t0
    out = {"steps": done, "tokens": tokens, "seconds": seconds}
    if not steps:
        t1 = time.perf_counter()
        hyps = []
        with torch.no_grad():
            for i in range(0, len(ts), 64):
                srcs = [sv.encode(x) for x in ts[i:i + 64]]
                s, sm = (torch.from_numpy(x) for x in pad_sources([np.asarray(x, np.int64) for x in srcs]))
                enc, keys, st = model.encode(s, sm)
                y = torch.full((len(srcs),), 1, dtype=torch.long)
                outs = [[] for _ in srcs]
                done_ = [False] * len(srcs)
                for _ in range(2 * s.shape[1] + 10):
                    lg, st = model.step(y, st, enc, keys, sm)
                    y = lg.argmax(1)
                    for r, w in enumerate(y.tolist()):
                        if not done_[r]:
                            if w == 2:
                                done_[r] = True
                            else:
                                outs[r].append(tv.itos[w])
                    if all(done_):
                        break
                hyps += [" ".join(o) for o in outs]
        out["decode_s"] = time.perf_counter() - t1
        out["bleu"] = corpus_bleu(hyps, [" ".join(t) for t in tt], tokenize="none").score
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        tool, steps, epochs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        res = (run_lmkit if tool == "lmkit" else run_torch)(steps or None, epochs)
        print(json.dumps(res))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=60, help="training steps to time (0: whole epochs)")
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    steps = 0 if args.steps == 0 else args.steps
    rows = {}
    for tool in ("torch", "lmkit"):
        cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--child", tool, str(steps), str(args.epochs)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise SystemExit(res.stderr[-3000:])
        r = json.loads(res.stdout.strip().splitlines()[-1])
        r["peak_mb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1)) / 1024
        rows[tool] = r
    print(f"\n{'tool':<8} {'steps':>6} {'seconds':>8} {'target tok/s':>12} {'s/epoch (389,706 tok)':>22} "
          f"{'peak MB':>8} {'BLEU':>6} {'decode s':>8}")
    for tool, r in rows.items():
        tps = r["tokens"] / r["seconds"]
        print(f"{tool:<8} {r['steps']:>6} {r['seconds']:>8.1f} {tps:>12.0f} {389706 / tps:>22.0f} {r['peak_mb']:>8.0f} "
              f"{r.get('bleu', float('nan')):>6.2f} {r.get('decode_s', float('nan')):>8.1f}")
    ratio = (rows['lmkit']['seconds'] / rows['lmkit']['tokens']) / (rows['torch']['seconds'] / rows['torch']['tokens'])
    print(f"\nlmkit time per target token = {ratio:.2f}x PyTorch's (goal: <= 1.5x)")


if __name__ == "__main__":
    main()
