"""n-gram estimation on Dask: one machine against a LocalCluster of 1 and 2 worker processes,
same corpus, same ARPA bytes, in the same run.

Each configuration runs as its own process, interleaved (one, local:1, local:2, one, ...),
``--repeats`` times; the table gives medians and [min-max] of the wall time (whole process:
Python start-up, cluster start and stop included), the peak RSS of the client process and of
each worker process (sampled every 50 ms with psutil), and whether the ARPA file is
byte-identical to the single-machine one.

Corpus: en6 of the word2vec benchmark (Brown, movie reviews, Reuters, ABC, tiny shakespeare,
the Gutenberg selection; one plain text file), ``--copies K`` times: copy i > 0 has the words of
each line in a shuffled order (seed i), so that distinct n-grams keep growing with the corpus as
in real text rather than repeating. ``--memory-limit`` sets each worker's Dask memory limit (Dask
spills held results to disk above 60 % of it).

Reproduce:  pip install -e '.[dask]'
            python benchmarks/dist_bench.py [--copies 1] [--order 5] [--repeats 3]
            python benchmarks/dist_bench.py --brown-times 500 --memory-limit 1GB --repeats 1 --only-cluster
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
EN6 = ["brown/brown.txt.gz", "movie_reviews/*.gz", "reuters/reuters.t*.txt.gz", "abc/abc.txt.gz",
       "tinyshakespeare/input.txt", "gutenberg/*.txt.gz"]


def build_repeated_brown(path: Path, times: int) -> tuple[int, int]:
    """data/brown.txt.gz repeated: the corpus grows, the model stays Brown's."""
    text = gzip.open(ROOT / "data" / "brown.txt.gz", "rb").read()
    with open(path, "wb") as out:
        for _ in range(times):
            out.write(text)
    return len(text.split()) * times, path.stat().st_size


def build_corpus(path: Path, copies: int) -> tuple[int, int]:
    """en6 as one plain file, ``copies`` times (copies after the first shuffled within lines)."""
    lines: list[str] = []
    for pattern in EN6:
        for f in sorted(SHARED.glob(pattern)):
            opener = gzip.open if f.suffix == ".gz" else open
            with opener(f, "rt", encoding="utf-8", errors="replace") as fh:
                lines.extend(ln.rstrip("\n") for ln in fh)
    n_tokens = 0
    with open(path, "w", encoding="utf-8") as out:
        for c in range(copies):
            rng = random.Random(c)
            for ln in lines:
                words = ln.split()
                if c:
                    rng.shuffle(words)
                n_tokens += len(words)
                out.write(" ".join(words) + "\n")
    return n_tokens, path.stat().st_size


def child(corpus: str, out: str, order: int, cluster: str | None, partitions: int | None,
          memory_limit: str | None) -> None:
    """One run in this process; prints JSON (wall, client and worker peak RSS in MB)."""
    import psutil
    me = psutil.Process()
    peaks: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for p in [me] + me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    peaks[p.pid] = max(peaks.get(p.pid, 0.0), p.memory_info().rss / 2 ** 20)
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t = time.perf_counter()
    from lmkit.text import Corpus, Tokenizer
    corp = Corpus(corpus, Tokenizer("whitespace"), quiet=True)
    if cluster is None:
        from lmkit.ngram import NgramModel
        NgramModel.train(corp, order, quiet=True).save(out, quiet=True)
        workers: list[int] = []
    else:
        from lmkit.cluster import connect
        from lmkit.ngram.distributed import train_on_cluster
        with connect(cluster, memory_limit=memory_limit) as client:
            workers = sorted(client.run(lambda: __import__("os").getpid()).values())
            train_on_cluster(client, corp, order, partitions=partitions, quiet=True).write_arpa(out, quiet=True)
    wall = time.perf_counter() - t
    stop.set()
    thread.join()
    print(json.dumps({"wall": wall, "client": peaks.get(me.pid, 0.0),
                      "workers": [peaks.get(w, 0.0) for w in workers]}))


def run(corpus: Path, out: Path, order: int, cluster: str | None, partitions: int | None,
        memory_limit: str | None) -> dict:
    cmd = [sys.executable, __file__, "--child", str(corpus), str(out), str(order), cluster or "-",
           str(partitions or 0), memory_limit or "-"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{cmd} failed:\n{res.stderr}")
    got = json.loads(res.stdout.strip().splitlines()[-1])
    got["sha"] = hashlib.sha256(out.read_bytes()).hexdigest()
    return got


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        corpus, out, order, cluster, parts, limit = sys.argv[2:8]
        child(corpus, out, int(order), None if cluster == "-" else cluster, int(parts) or None,
              None if limit == "-" else limit)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--brown-times", type=int, default=0,
                    help="instead of en6: Brown repeated this many times (memory bounded by the model, not the corpus)")
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=None, help="default: 2 per worker")
    ap.add_argument("--memory-limit", default=None, help="per worker, e.g. 1GB (default: Dask's share of RAM)")
    ap.add_argument("--only-cluster", action="store_true", help="skip the single-machine runs")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="LocalCluster sizes to run (default 1 2)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lmkit-dist-") as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "corpus.txt"
        if args.brown_times:
            n_tokens, n_bytes = build_repeated_brown(corpus, args.brown_times)
            name = f"Brown x {args.brown_times}"
        else:
            n_tokens, n_bytes = build_corpus(corpus, args.copies)
            name = f"en6 x {args.copies}"
        print(f"corpus: {name}: {n_tokens:,} tokens, {n_bytes / 2 ** 20:.0f} MB; order {args.order}; "
              f"worker memory limit {args.memory_limit or 'auto'}")
        configs = ([] if args.only_cluster else [("one machine", None)]) + [(f"local:{w}", f"local:{w}")
                                                                             for w in args.workers]
        results: dict[str, list[dict]] = {name: [] for name, _ in configs}
        for _ in range(args.repeats):
            for name, cluster in configs:
                results[name].append(run(corpus, tmp / f"{name[:5]}.arpa", args.order, cluster, args.partitions,
                                         args.memory_limit))
                print(f"  {name}: {results[name][-1]['wall']:.1f} s", flush=True)
        ref = results[configs[0][0]][0]["sha"]
        base = statistics.median(r["wall"] for r in results[configs[0][0]])
        print("\n| run | wall s | vs first | client peak MB | peak MB per worker | ARPA identical |")
        print("|---|---|---|---|---|---|")
        for name, _ in configs:
            rs = results[name]
            walls = [r["wall"] for r in rs]
            workers = [max(r["workers"]) if r["workers"] else 0.0 for r in rs]
            same = all(r["sha"] == ref for r in rs)
            print(f"| {name} | {spread(walls)} | {statistics.median(walls) / base:.2f}x | "
                  f"{spread([r['client'] for r in rs])} | {spread(workers) if rs[0]['workers'] else '-'} | "
                  f"{'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
