"""Pretrained vectors at scale: lmkit against gensim 4 on the same 1M x 300 word2vec files.

A clustered synthetic matrix (N words x D, float32; 1,000 Gaussian clusters so neighbours are
meaningful) is written once as word2vec binary and text and as lmkit's native folder. Each
measurement runs in its own process under /usr/bin/time -v (peak RSS), the tools taking
turns, --repeats times; the table shows medians and lmkit/gensim ratios of the medians:
- load: read the file (gensim `load_word2vec_format`; lmkit `KeyedVectors.load`), imports
  not counted;
- first query: one `most_similar` right after loading (unit vectors are computed then);
- 1,000 queries: gensim's `most_similar` in a loop (its API has no batch call) against
  lmkit's `neighbors()` (blocked matrix products + running top-k, bounded memory);
- raw read: `cat FILE > /dev/null`, the floor for reading the file.
The same neighbours are checked to agree (top-10 words of 20 queries) before timing.

Reproduce:  pip install -e '.[bench]' && python benchmarks/vectors_bench.py [--words 1000000 --dim 300]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = 1000


def make_files(folder: Path, n: int, dim: int, only_binary: bool = False) -> dict[str, Path]:
    """Clustered vectors (1,000 centres) written in every format; files already in ``folder``
    are reused."""
    import numpy as np
    sys.path.insert(0, str(ROOT))
    from lmkit.embed import KeyedVectors
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, dim)).astype(np.float32)
    vectors = np.empty((n, dim), np.float32)
    step = 100_000
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        vectors[lo:hi] = centres[rng.integers(0, 1000, hi - lo)] + 0.5 * rng.standard_normal((hi - lo, dim))
    kv = KeyedVectors([f"w{i}" for i in range(n)], vectors)
    files = {"bin": folder / "v.bin", "txt": folder / "v.txt", "native": folder / "v.native"}
    if not files["bin"].exists():
        kv.save_word2vec_format(files["bin"], binary=True)
    if only_binary:
        return files
    if not files["txt"].exists():
        kv.save_word2vec_format(files["txt"], binary=False)
    if not files["native"].exists():
        kv.save(files["native"])
    return files


def child(tool: str, fmt: str, path: str, task: str) -> None:
    """One measurement; prints a JSON line of seconds."""
    if tool == "gensim":
        from gensim.models import KeyedVectors as G
        t0 = time.perf_counter()
        kv = G.load_word2vec_format(path, binary=fmt == "bin")
    else:
        sys.path.insert(0, str(ROOT))
        from lmkit.embed import KeyedVectors
        t0 = time.perf_counter()
        kv = KeyedVectors.load(path)
    out = {"load": time.perf_counter() - t0}
    if task in ("first", "many", "check"):
        t1 = time.perf_counter()
        kv.most_similar("w1", topn=10)
        out["first"] = time.perf_counter() - t1
    if task in ("many", "check"):
        step = max(1, len(kv) // QUERIES)
        words = [f"w{i}" for i in range(0, step * QUERIES, step)][:QUERIES]
        t2 = time.perf_counter()
        if tool == "gensim":
            res = [[w for w, _ in kv.most_similar(q, topn=10)] for q in words]
        else:
            res = [[w for w, _ in row] for row in kv.neighbors(words, 10)]
        out["many"] = time.perf_counter() - t2
        if task == "check":
            out["result"] = res[:20]
    print(json.dumps(out))


def run(tool: str, fmt: str, path: Path, task: str) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--child", tool, fmt, str(path), task]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{tool} {task} failed:\n{p.stderr[-2000:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["peak_mb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    res["wall"] = float(_wall(p.stderr))
    return res


def _wall(stderr: str) -> float:
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", stderr)
    h, mnt, s = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + float(s)


def raw_read(path: Path) -> float:
    t0 = time.perf_counter()
    if path.is_dir():
        for p in sorted(path.iterdir()):
            subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL, check=True)
    else:
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


_READ = "import sys, time; t = time.perf_counter(); open(sys.argv[1], 'rb').read(); print(time.perf_counter() - t)"
_LOAD_WARM = ("import sys, time; sys.path.insert(0, sys.argv[3]); from lmkit.embed import KeyedVectors; "
              "KeyedVectors.load_word2vec_format(sys.argv[2], binary=True); t = time.perf_counter(); "
              "KeyedVectors.load_word2vec_format(sys.argv[1], binary=True); print(time.perf_counter() - t)")


def load_vs_read(path: Path, folder: Path, repeats: int) -> None:
    """The binary load call against a plain read() of the same file, fresh processes,
    interleaved; numba's one-time start-up paid on a two-word file first (not the file's cost)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from lmkit.embed import KeyedVectors
    tiny = folder / "tiny.bin"
    KeyedVectors(["a", "b"], np.ones((2, 3), np.float32)).save_word2vec_format(tiny, binary=True)
    def one(code: str, *argv: str) -> float:
        return float(subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                                    check=True).stdout)
    rows = []
    for i in range(repeats):   # the order alternates: on this machine the run after a read() is slower
        if i % 2 == 0:
            read = one(_READ, str(path))
            load = one(_LOAD_WARM, str(path), str(tiny), str(ROOT))
        else:
            load = one(_LOAD_WARM, str(path), str(tiny), str(ROOT))
            read = one(_READ, str(path))
        rows.append((read, load))
    reads, loads = [r for r, _ in rows], [x for _, x in rows]
    ratios = [x / r for r, x in rows]
    print(f"binary load vs read(), {repeats} interleaved pairs of fresh processes: read {statistics.median(reads):.3f} s "
          f"[{min(reads):.3f}-{max(reads):.3f}], load {statistics.median(loads):.3f} s [{min(loads):.3f}-{max(loads):.3f}], "
          f"median ratio {statistics.median(ratios):.2f}x")


def text_write(rows: int, dim: int, folder: Path, repeats: int) -> None:
    """Writing word2vec text: lmkit, gensim and the plain Python loop ("{:.9g}" per number,
    lmkit's writer before its numba kernels), same vectors, interleaved, medians."""
    import numpy as np
    from gensim.models import KeyedVectors as G

    sys.path.insert(0, str(ROOT))
    from lmkit.embed import KeyedVectors
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(rows)]
    vectors = rng.standard_normal((rows, dim)).astype(np.float32)
    ours = KeyedVectors(words, vectors)
    theirs = G(dim)
    theirs.add_vectors(words, vectors)

    def python_loop(path: Path) -> None:
        fmt = "{:.9g}".format
        with open(path, "w", encoding="utf-8") as out:
            out.write(f"{rows} {dim}\n")
            out.writelines(w + " " + " ".join(map(fmt, v)) + "\n" for w, v in zip(words, vectors.tolist()))
    tools = {"lmkit": lambda p: ours.save_word2vec_format(p, binary=False),
             "gensim": lambda p: theirs.save_word2vec_format(str(p), binary=False),
             "python loop": python_loop}
    ours.save_word2vec_format(folder / "warm.txt", binary=False)   # numba's start-up, once
    times: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(repeats):
        for name, write in tools.items():
            t = time.perf_counter()
            write(folder / f"{name}.txt")
            times[name].append(time.perf_counter() - t)
    same = (folder / "lmkit.txt").read_bytes() == (folder / "python loop.txt").read_bytes()
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"text write {rows} x {dim}, {repeats} interleaved runs, median [min-max]; lmkit's bytes == the "
          f"Python loop's: {same}")
    for name, ts in times.items():
        ratio = "" if name == "lmkit" else f"  ({med[name] / med['lmkit']:.1f}x lmkit's time)"
        print(f"  {name:<12} {med[name]:7.2f} s [{min(ts):.2f}-{max(ts):.2f}]{ratio}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--words", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--text-repeats", type=int, default=1, help="text loading is slow (minutes for gensim)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--load-vs-read", type=int, default=0, metavar="PAIRS",
                    help="only race the binary load call against read() of the file, PAIRS times")
    ap.add_argument("--text-write", type=int, default=0, metavar="ROWS",
                    help="only race writing ROWS x dim text vectors: lmkit, gensim, the plain Python loop")
    args = ap.parse_args()
    folder = Path(args.workdir or tempfile.mkdtemp(prefix="vecbench-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.text_write:
        text_write(args.text_write, args.dim, folder, args.repeats)
        return
    files = make_files(folder, args.words, args.dim, only_binary=bool(args.load_vs_read))
    if args.load_vs_read:
        load_vs_read(files["bin"], folder, args.load_vs_read)
        return
    check_g = run("gensim", "bin", files["bin"], "check")["result"]
    check_l = run("lmkit", "bin", files["bin"], "check")["result"]
    agree = sum(a == b for a, b in zip(check_g, check_l))
    print(f"# {args.words} x {args.dim}; neighbour lists equal for {agree}/{len(check_g)} queries", flush=True)
    rows = []
    cases = [("load binary", "bin", "load"), ("load text", "txt", "load"),
             ("first query, after a binary load", "bin", "first"),
             ("1,000 queries, after a binary load", "bin", "many")]
    for label, fmt, task in cases:
        g_runs, l_runs, n_runs = [], [], []
        for _ in range(args.text_repeats if fmt == "txt" else args.repeats):
            g_runs.append(run("gensim", fmt, files[fmt], task))
            l_runs.append(run("lmkit", fmt, files[fmt], task))
            if fmt == "bin" and task == "load":
                n_runs.append(run("lmkit", "native", files["native"], task))
        key = {"load": "load", "first": "first", "many": "many"}[task]
        g = statistics.median(r[key] for r in g_runs)
        lm = statistics.median(r[key] for r in l_runs)
        gp = statistics.median(r["peak_mb"] for r in g_runs)
        lp = statistics.median(r["peak_mb"] for r in l_runs)
        rows.append((label, g, lm, gp, lp))
        if n_runs:
            rows.append(("load native folder (lmkit)", float("nan"),
                         statistics.median(r["load"] for r in n_runs), float("nan"),
                         statistics.median(r["peak_mb"] for r in n_runs)))
        print(rows[-1], flush=True)
    raws = {fmt: statistics.median(raw_read(files[fmt]) for _ in range(args.repeats)) for fmt in ("bin", "txt")}
    print()
    print("| step | gensim s | lmkit s | lmkit / gensim | gensim peak MB | lmkit peak MB |")
    print("|---|---|---|---|---|---|")
    for label, g, lm, gp, lp in rows:
        ratio = f"{lm / g:.2f}x" if g == g else "–"
        gs = f"{g:.3f}" if g == g else "–"
        gps = f"{gp:.0f}" if gp == gp else "–"
        print(f"| {label} | {gs} | {lm:.3f} | {ratio} | {gps} | {lp:.0f} |")
    print(f"\nraw read (cat): binary {raws['bin']:.3f} s, text {raws['txt']:.3f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
