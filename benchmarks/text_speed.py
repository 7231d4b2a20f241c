"""Text-layer throughput: reading + tokenising + counting, and encoding to int32 ids.

Compares lmkit with the plain-Python baseline most scripts use (``Counter`` updated line by
line; ids by a dict lookup per token into a Python list) on the same data in one run, and
shows that peak memory stays flat as the corpus grows (each size runs in its own process
under ``/usr/bin/time -v``).

Reproduce:  python benchmarks/text_speed.py            # shipped Brown + 50M-token repeat
            python benchmarks/text_speed.py --tokens 10e6   # smaller big corpus
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWN = ROOT / "data" / "brown.txt.gz"


def _child(path: str, mode: str, tool: str) -> None:
    """Run one measurement in this process and print JSON."""
    from collections import Counter

    import numpy as np

    from lmkit import Corpus, Tokenizer, Vocabulary, encode_corpus
    from lmkit.progress import set_quiet
    set_quiet(True)
    result = {}
    if tool == "lmkit":
        corpus = Corpus(path, Tokenizer(mode))
        t = time.perf_counter()
        vocab = Vocabulary.build(corpus)
        result["count_s"] = time.perf_counter() - t
        t = time.perf_counter()
        enc = encode_corpus(corpus, vocab)
        result["encode_s"] = time.perf_counter() - t
        result["tokens"] = int(enc.n_tokens)
    else:  # the usual hand-written loop
        opener = gzip.open if path.endswith(".gz") else open
        t = time.perf_counter()
        counts = Counter()
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                counts.update(line.split())
        result["count_s"] = time.perf_counter() - t
        stoi = {w: i for i, w in enumerate(counts)}
        t = time.perf_counter()
        ids, lengths = [], []
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                toks = line.split()
                ids.extend(stoi[w] for w in toks)
                lengths.append(len(toks))
        arr = np.array(ids, dtype=np.int32)
        result["encode_s"] = time.perf_counter() - t
        result["tokens"] = int(len(arr))
    print(json.dumps(result))


def measure(path: Path, mode: str, tool: str) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--child", str(path), mode, tool]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    result["peak_mb"] = int(rss.group(1)) / 1024 if rss else float("nan")
    return result


def make_big(tokens: float, folder: Path) -> Path:
    text = gzip.open(BROWN, "rb").read()
    per_copy = 1161192
    copies = max(1, int(round(tokens / per_copy)))
    big = folder / f"brown_x{copies}.txt"
    with open(big, "wb") as out:
        for _ in range(copies):
            out.write(text)
    return big


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:5])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=float, default=50e6, help="size of the big corpus (tokens)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = make_big(args.tokens, Path(tmp))
        small_plain = Path(tmp) / "brown.txt"
        small_plain.write_bytes(gzip.open(BROWN, "rb").read())
        rows = []
        cases = [(BROWN, "whitespace"), (small_plain, "whitespace"), (small_plain, "regex"),
                 (big, "whitespace")]
        for path, mode in cases:
            lm = measure(path, mode, "lmkit")
            base = measure(path, mode, "baseline") if mode == "whitespace" else None
            rows.append((path.name, mode, lm, base))
    print(f"\n{'corpus':<18} {'tokenizer':<10} {'tokens':>11} {'count Mtok/s':>12} {'encode Mtok/s':>13} "
          f"{'peak MB':>8} {'baseline count':>14} {'baseline enc':>12} {'base MB':>8} {'count x':>7} {'enc x':>6}")
    for name, mode, lm, base in rows:
        n = lm["tokens"]
        c, e = n / lm["count_s"] / 1e6, n / lm["encode_s"] / 1e6
        line = f"{name:<18} {mode:<10} {n:>11,} {c:>12.2f} {e:>13.2f} {lm['peak_mb']:>8.0f}"
        if base:
            bc, be = n / base["count_s"] / 1e6, n / base["encode_s"] / 1e6
            line += f" {bc:>14.2f} {be:>12.2f} {base['peak_mb']:>8.0f} {c / bc:>7.2f} {e / be:>6.2f}"
        print(line)
    print("\nMtok/s = million tokens per second (wall); peak MB = max RSS from /usr/bin/time -v; "
          "x = lmkit / baseline. Encoding keeps ids in RAM (4 bytes/token); "
          "encode_corpus(..., cache=DIR) streams them to disk instead.")


if __name__ == "__main__":
    main()
