"""Small, fast translators: a teacher, its distilled student and the same student trained on the
references, decoded on Multi30k test2016 greedy and with beam 5, with and without a
target-vocabulary shortlist; BLEU (tokenize none, as the other translation figures) and decode
time, interleaved runs, medians. ``int8`` times an int8 matrix product (numba, per-row scales
on both sides) against float32 BLAS at the decoder's shapes.

Models come from the CLI (README "Small, fast translators"):
    lmkit translate train ... -o TEACHER --emb 256 --hidden 256
    lmkit translate distill TEACHER --train-src EN -o DISTILLED --emb 128 --hidden 128 ...
    lmkit translate train ... -o REFERENCE --emb 128 --hidden 128 ...   (same steps)
    lmkit translate shortlist MODEL --train-src EN --train-tgt DE      (each model)

Reproduce:  python benchmarks/distill_bench.py decode TEACHER DISTILLED REFERENCE --repeats 3
            python benchmarks/distill_bench.py seeds distilled=S1,S2,S3 reference=R1,R2,R3 ...
            python benchmarks/distill_bench.py int8
"""
from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

from lmkit.threads import quiet_thread_pools

quiet_thread_pools()

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
D = ROOT / "data" / "multi30k"


def read(name: str) -> list[str]:
    with gzip.open(D / name, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def decode(args: argparse.Namespace) -> None:
    from lmkit.translate import Translator, corpus_bleu
    src, ref = read("test_2016_flickr.lc.norm.tok.en.gz"), read("test_2016_flickr.lc.norm.tok.de.gz")
    names = ["teacher", "distilled", "reference"][:len(args.models)]
    models = {n: Translator.load(p) for n, p in zip(names, args.models)}
    for n, tr in models.items():
        print(f"{n}: {args.models[names.index(n)]}, {tr.model.n_parameters():,} parameters, "
              f"emb {tr.model.config.emb}, hidden {tr.model.config.hidden}", file=sys.stderr)
    settings = [(beam, sl) for beam in (1, 5) for sl in (False, True)]
    times: dict = {}
    bleu: dict = {}
    for rep in range(args.repeats):                     # every (model, setting) once a round
        for beam, sl in settings:
            for n, tr in models.items():
                if sl and tr.shortlist is None:
                    continue
                t0 = time.perf_counter()
                out = tr.translate(src, beam=beam, batch=args.batch, shortlist=sl)
                times.setdefault((n, beam, sl), []).append(time.perf_counter() - t0)
                b = corpus_bleu([o.text for o in out], ref, tokenize="none").score
                bleu.setdefault((n, beam, sl), set()).add(round(b, 2))
                print(f"round {rep + 1} {n} beam {beam} shortlist {sl}: BLEU {b:.2f}, "
                      f"{times[(n, beam, sl)][-1]:.2f} s", file=sys.stderr)
    base = statistics.median(times[("teacher", 1, False)]) if ("teacher", 1, False) in times else None
    print(f"\n| model | decoding | shortlist | test2016 BLEU | decode 1,000 sentences (median of {args.repeats}) "
          f"| vs teacher greedy |")
    print("|---|---|---|---|---|---|")
    for n in models:
        for beam, sl in settings:
            key = (n, beam, sl)
            if key not in times:
                continue
            med = statistics.median(times[key])
            spread = f"{min(times[key]):.2f}-{max(times[key]):.2f}"
            ratio = f"{base / med:.2f}x" if base else "-"
            print(f"| {n} | {'greedy' if beam == 1 else f'beam {beam}'} | {'yes' if sl else 'no'} | "
                  f"{'/'.join(f'{b:.2f}' for b in sorted(bleu[key]))} | {med:.2f} s ({spread}) | {ratio} |")


def seeds(args: argparse.Namespace) -> None:
    """Greedy and beam-5 test2016 BLEU of each group's models (one per training seed): every
    model's figures, then each group's mean and range and its gap to the first group."""
    from lmkit.translate import Translator, corpus_bleu
    src, ref = read("test_2016_flickr.lc.norm.tok.en.gz"), read("test_2016_flickr.lc.norm.tok.de.gz")
    groups: dict[str, list[tuple[float, float]]] = {}
    for spec in args.groups:
        name, _, folders = spec.partition("=")
        for folder in folders.split(","):
            tr = Translator.load(folder)
            pair = tuple(corpus_bleu([o.text for o in tr.translate(src, beam=beam, batch=args.batch)], ref,
                                     tokenize="none").score for beam in (1, 5))
            groups.setdefault(name, []).append(pair)  # type: ignore[arg-type]
            print(f"{name} {folder}: greedy {pair[0]:.2f}, beam 5 {pair[1]:.2f}", file=sys.stderr)
    first = next(iter(groups))
    print(f"\n| model | seeds | greedy BLEU mean (range) | vs {first} | beam 5 BLEU mean (range) | vs {first} |")
    print("|---|---|---|---|---|---|")
    for name, pairs in groups.items():
        cells = []
        for k in (0, 1):
            vals = [p[k] for p in pairs]
            gap = statistics.mean(vals) - statistics.mean(p[k] for p in groups[first])
            cells.append(f"{statistics.mean(vals):.2f} ({min(vals):.2f}-{max(vals):.2f}) | "
                         f"{'-' if name == first else f'{gap:+.2f}'}")
        print(f"| {name} | {len(pairs)} | {cells[0]} | {cells[1]} |")


def int8(args: argparse.Namespace) -> None:
    from numba import njit, prange

    @njit(parallel=True, fastmath=True, cache=False)
    def int8_product(xq, wq, out):
        """out[b, n] = sum_k xq[b, k] wq[n, k] in int32 (vectorised as vpmaddwd on AVX-512)."""
        B, K = xq.shape
        for j in prange((wq.shape[0] + 15) // 16):
            for b in range(B):
                x = xq[b]
                for n in range(j * 16, min(wq.shape[0], j * 16 + 16)):
                    w = wq[n]
                    acc = np.int32(0)
                    for k in range(K):
                        acc = np.int32(acc + np.int32(x[k]) * np.int32(w[k]))
                    out[b, n] = acc

    def quantised(x, wq, w_scale, out):
        x_scale = np.abs(x).max(axis=1) / 127.0
        xq = np.rint(x / x_scale[:, None]).astype(np.int8)
        int8_product(xq, wq, out)
        return out * (x_scale[:, None] * w_scale[None, :])

    rng = np.random.default_rng(0)
    print("| rows x inner x columns | float32 BLAS ms | int8 numba ms (with activation quantisation) | ratio |")
    print("|---|---|---|---|")
    for B, K, N in args.shapes:
        x = rng.standard_normal((B, K), dtype=np.float32)
        w = rng.standard_normal((K, N), dtype=np.float32)
        w_scale = np.abs(w).max(axis=0) / 127.0
        wq = np.ascontiguousarray(np.rint(w / w_scale).astype(np.int8).T)
        out = np.empty((B, N), np.int32)
        quantised(x, wq, w_scale, out)
        err = np.abs(quantised(x, wq, w_scale, out) - x @ w).max() / np.abs(x @ w).max()
        ta, tb = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            x @ w
            ta.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            quantised(x, wq, w_scale, out)
            tb.append(time.perf_counter() - t0)
        a, b = statistics.median(ta) * 1e3, statistics.median(tb) * 1e3
        print(f"| {B} x {K} x {N} | {a:.2f} | {b:.2f} (max error {err:.1e} of the largest value) | {a / b:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("decode")
    d.add_argument("models", nargs="+", help="teacher [distilled [reference]] model folders")
    d.add_argument("--repeats", type=int, default=3)
    d.add_argument("--batch", type=int, default=64)
    d.set_defaults(run=decode)
    g = sub.add_parser("seeds")
    g.add_argument("groups", nargs="+", metavar="NAME=DIR[,DIR...]",
                   help="a group of models (one per seed), e.g. distilled=s1,s2,s3")
    g.add_argument("--batch", type=int, default=64)
    g.set_defaults(run=seeds)
    q = sub.add_parser("int8")
    q.add_argument("--repeats", type=int, default=21)
    q.add_argument("--shapes", type=lambda s: tuple(int(v) for v in s.split("x")), nargs="+",
                   default=[(64, 1024, 2500), (320, 1024, 2500), (320, 1024, 7859), (320, 768, 768),
                            (320, 512, 1300), (64, 256, 768)],
                   help="rows x inner x columns of the products timed (default: the teacher's and the "
                        "student's decoder at batch 64, greedy and beam 5)")
    q.set_defaults(run=int8)
    args = ap.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
