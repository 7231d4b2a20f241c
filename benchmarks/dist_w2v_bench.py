"""word2vec on Dask: K replicas synchronised every S words (--methods: synchronous rounds
combined by `scaled`, `average` or `sum`, or asynchronous `downpour` pushes to a
parameter-server actor) against the single-process trainer, same corpus, same settings, seeds
1..N.

Settings of benchmarks/embed_bench.py: skip-gram, negative 5, dim 100, window 5, min_count 5,
sample 1e-3, 5 epochs. The single process trains on 2 threads; the synchronous runs are a
LocalCluster of 2 worker processes (one thread each) holding K replicas, downpour a
LocalCluster of max(2, K) processes (its replicas run at once). Each run is its own
process; the rounds interleave the configurations (seed 1 of every configuration, then seed 2,
...). Quality as in embed_bench (Google analogies over the 30k most frequent words, WS-353
Spearman, from gensim's test data); the table shows the mean over seeds and the range.

Reproduce:  pip install -e '.[dask,bench]'
            python benchmarks/dist_w2v_bench.py --corpus S/brown/brown.txt.gz S/movie_reviews/*.gz \\
                S/reuters/reuters.t*.txt.gz S/abc/abc.txt.gz S/tinyshakespeare/input.txt S/gutenberg/*.txt.gz
            (en6, S = ../shared/data; default corpus: data/brown.txt.gz)
"""
from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
PARAMS = dict(dim=100, window=5, min_count=5, sample=1e-3, epochs=5, negative=5)


def child(corpus: str, out: str, cluster: str, replicas: int, sync: int, method: str, seed: int) -> None:
    from lmkit import Corpus, Tokenizer
    from lmkit.embed import Word2Vec
    c = Corpus(corpus, Tokenizer("whitespace"), quiet=True)
    t = time.perf_counter()
    if cluster == "-":
        model = Word2Vec(workers=2, seed=seed, **PARAMS).train(c, quiet=True)
    else:
        from lmkit.cluster import connect
        with connect(cluster) as client:
            model = Word2Vec(workers=1, seed=seed, **PARAMS).train(c, client=client, replicas=replicas,
                                                                   sync_words=sync, sync_method=method, quiet=True)
    seconds = time.perf_counter() - t
    model.wv.save_word2vec_format(out, binary=True)
    words = sum(h.words for h in model.history)
    print(json.dumps({"seconds": seconds, "wps": words / seconds, "traffic": model.sync_traffic}))


def run(corpus: Path, out: Path, cluster: str, replicas: int, sync: int, method: str, seed: int) -> dict:
    cmd = [sys.executable, __file__, "--child", str(corpus), str(out), cluster, str(replicas), str(sync), method,
           str(seed)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def write_corpus(sources: list[str], out_path: Path) -> int:
    """The sources lowercased and regex-tokenised, one sentence a line; the words written."""
    from lmkit import Tokenizer
    tok = Tokenizer("regex", lowercase=True)
    n_words = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for src in sources:
            opener = gzip.open if src.endswith(".gz") else open
            with opener(src, "rt", encoding="utf-8", errors="ignore") as f:
                for line in f:
                    words = tok(line)
                    if words:
                        n_words += len(words)
                        out.write(" ".join(words) + "\n")
    return n_words


def _traffic(t: dict | None) -> tuple[str, str]:
    """(synchronisations, MB moved per synchronisation) of one run's sync_traffic."""
    if not t:
        return "-", "-"
    if "exchanges" in t:   # downpour: per exchange of one replica with the server
        n = t["exchanges"]
        return f"{n:,} exchanges", f"{(t['bytes_pushed'] + t['bytes_pulled']) / max(n, 1) / 1e6:.2f}"
    n = t["rounds"]
    return f"{n:,} rounds", f"{(t['bytes_sent'] + t['bytes_received']) / max(n, 1) / 1e6:.1f}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        a = sys.argv[2:]
        child(a[0], a[1], a[2], int(a[3]), int(a[4]), a[5], int(a[6]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", nargs="*", help="text files (lowercased and regex-tokenised here)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=1, help="seeds run: first-seed .. first-seed + seeds - 1")
    ap.add_argument("--replicas", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--methods", nargs="+", default=["scaled", "downpour"],
                    choices=["scaled", "average", "sum", "downpour"])
    ap.add_argument("--text", help="an already tokenised corpus file (one sentence a line) instead of --corpus")
    ap.add_argument("--no-single", action="store_true", help="skip the single-process baseline")
    ap.add_argument("--save-text", help="only write the tokenised --corpus here (the EN6.txt the other "
                                        "word2vec replica benchmarks take) and stop")
    ap.add_argument("--sync-words", type=int, default=500_000, help="words between synchronisations (default 500k)")
    args = ap.parse_args()
    if args.save_text:
        n = write_corpus(args.corpus or [str(ROOT / "data" / "brown.txt.gz")], Path(args.save_text))
        print(f"{args.save_text}: {n:,} words")
        return
    from embed_bench import quality

    with tempfile.TemporaryDirectory(prefix="lmkit-w2v-dist-") as tmp_name:
        tmp = Path(tmp_name)
        if args.text:
            corpus = Path(args.text)
            n_words = sum(len(line.split()) for line in open(corpus, encoding="utf-8"))
        else:
            corpus = tmp / "corpus.txt"
            n_words = write_corpus(args.corpus or [str(ROOT / "data" / "brown.txt.gz")], corpus)
        print(f"corpus: {n_words:,} words; skip-gram NS 5, dim 100, 5 epochs; sync every {args.sync_words:,} words")
        # downpour runs its replicas at once: one worker process each (time-sliced on 2 cores)
        configs = ([] if args.no_single else [("one process, 2 threads", "-", 1, "-")]) + [
            (f"local:{max(2, k) if m == 'downpour' else 2}, {k} replicas, {m}",
             f"local:{max(2, k)}" if m == "downpour" else "local:2", k, m)
            for k in args.replicas for m in args.methods]
        results: dict[str, list[dict]] = {name: [] for name, *_ in configs}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name, cluster, k, method in configs:
                out = tmp / "v.bin"
                r = run(corpus, out, cluster, k, args.sync_words, method, seed)
                r.update(quality(out))
                results[name].append(r)
                print(f"  seed {seed} {name}: {r['seconds']:.0f} s, analogy {r['analogy']:.2f} %, "
                      f"WS-353 {r['ws']:.3f}", flush=True)
        base = [] if args.no_single else results[configs[0][0]]
        base_a = statistics.fmean(r["analogy"] for r in base) if base else float("nan")
        base_w = statistics.fmean(r["ws"] for r in base) if base else float("nan")
        print("\n| run | train s | words/s | syncs | MB moved per sync | analogy % (range) | vs one process "
              "| WS-353 (range) | vs one process |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, *_ in configs:
            rs = results[name]
            a = [r["analogy"] for r in rs]
            w = [r["ws"] for r in rs]
            syncs, per_sync = _traffic(rs[0].get("traffic"))
            print(f"| {name} | {statistics.median(r['seconds'] for r in rs):.0f} | "
                  f"{statistics.median(r['wps'] for r in rs):,.0f} | {syncs} | {per_sync} | {statistics.fmean(a):.2f} ({min(a):.2f}-{max(a):.2f}) | "
                  f"{statistics.fmean(a) - base_a:+.2f} | {statistics.fmean(w):.3f} ({min(w):.3f}-{max(w):.3f}) | "
                  f"{statistics.fmean(w) - base_w:+.3f} |")


if __name__ == "__main__":
    main()
