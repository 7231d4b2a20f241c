"""word2vec quality against the number of replicas K and the words S between
synchronisations: K logical replicas (each trains its 1/K shard from the last synchronised model)
on a LocalCluster of 2 worker processes, seeds 1..N, same settings as dist_w2v_bench.py.

K = 1 is the single-process trainer with one thread (S only cuts its chunks, so it runs once
per seed). Prints the table (mean over seeds and range) and writes a PNG of analogy accuracy
and WS-353 against K, one line per S.

Reproduce:  pip install -e '.[dask,bench,plot]'
            python benchmarks/dist_w2v_curve.py --text EN6.txt --method scaled \\
                --replicas 1 10 100 --sync-words 100000 1000000 --plot curve.png
            (EN6.txt: the en6 corpus lowercased and regex-tokenised, one sentence a line, from
            `python benchmarks/dist_w2v_bench.py --corpus EN6-SOURCES... --save-text EN6.txt`)
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def plot(rows: list[dict], path: str, method: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax, label in [("analogy", axes[0], "analogy accuracy %"), ("ws", axes[1], "WS-353 Spearman")]:
        for s in sorted({r["sync"] for r in rows if r["K"] > 1}):
            pts = sorted([r for r in rows if r["sync"] == s or r["K"] == 1], key=lambda r: r["K"])
            ks = [r["K"] for r in pts]
            vals = [[x for x in r[key] if not math.isnan(x)] or [math.nan] for r in pts]   # NaN: diverged
            mean = [statistics.fmean(v) for v in vals]
            lo = [m - min(v) for m, v in zip(mean, vals)]
            hi = [max(v) - m for m, v in zip(mean, vals)]
            ax.errorbar(ks, mean, yerr=[lo, hi], marker="o", capsize=3, label=f"S = {s:,} words")
        ax.set_xscale("log")
        ax.set_xlabel("replicas K (logical)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    seeds = sorted({sd for r in rows for sd in r["seeds"]})
    fig.suptitle(f"word2vec on en6, sync method {method}: mean of seeds {seeds}, bars = range")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--text", required=True, help="tokenised corpus, one sentence a line")
    ap.add_argument("--method", default="scaled", choices=["scaled", "average", "sum"])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--sync-words", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--results", help="append each run here (JSON lines) and tabulate every run the file holds, "
                                      "so seeds can run in separate invocations")
    ap.add_argument("--plot", help="write the curve here (PNG)")
    args = ap.parse_args()
    from dist_w2v_bench import run
    from embed_bench import quality
    configs = [(k, s) for k in args.replicas for s in (args.sync_words[:1] if k == 1 else args.sync_words)]
    runs: list[dict] = []
    if args.results and Path(args.results).exists():
        runs = [json.loads(line) for line in open(args.results) if line.strip()]
        runs = [r for r in runs if r["method"] == args.method]
    with tempfile.TemporaryDirectory(prefix="lmkit-w2v-curve-") as tmp:
        out = Path(tmp) / "v.bin"
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for k, s in configs:
                r = run(Path(args.text), out, "local:2", k, s, args.method, seed)
                q = quality(out)
                one = dict(method=args.method, K=k, sync=s, seed=seed, analogy=q["analogy"], ws=q["ws"],
                           seconds=r["seconds"])
                runs.append(one)
                if args.results:
                    with open(args.results, "a") as f:
                        f.write(json.dumps(one) + "\n")
                print(f"  seed {seed} K={k} S={s:,}: {r['seconds']:.0f} s, analogy {q['analogy']:.2f} %, "
                      f"WS-353 {q['ws']:.3f}", flush=True)
    rows = []
    for k, s in configs:
        mine = [r for r in runs if r["K"] == k and r["sync"] == s]
        rows.append(dict(K=k, sync=s, analogy=[r["analogy"] for r in mine], ws=[r["ws"] for r in mine],
                         seconds=[r["seconds"] for r in mine], seeds=sorted(r["seed"] for r in mine)))
    base_a, base_w = statistics.fmean(rows[0]["analogy"]), statistics.fmean(rows[0]["ws"])

    def cell(xs: list[float], base: float, digits: int) -> str:
        """mean (range) | difference from K = 1; NaN (vectors that diverged to NaN) counted apart."""
        nan = sum(1 for x in xs if math.isnan(x))
        xs = [x for x in xs if not math.isnan(x)]
        if not xs:
            return f"NaN in {nan} | -"
        m = statistics.fmean(xs)
        note = f", NaN in {nan} more" if nan else ""
        return f"{m:.{digits}f} ({min(xs):.{digits}f}-{max(xs):.{digits}f}{note}) | {m - base:+.{digits}f}"
    print(f"\nmethod {args.method}; seeds per row in the last column; K = 1 is one replica (one thread)\n")
    print("| replicas K | words between syncs S | words per replica per sync | train s | analogy % (range) "
          "| vs K = 1 | WS-353 (range) | vs K = 1 | seeds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        a, w = row["analogy"], row["ws"]
        print(f"| {row['K']} | {row['sync']:,} | {row['sync'] // row['K']:,} | {statistics.median(row['seconds']):.0f} | "
              f"{cell(a, base_a, 2)} | {cell(w, base_w, 3)} | {','.join(map(str, row['seeds']))} |")
    if args.plot:
        plot(rows, args.plot, args.method)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
