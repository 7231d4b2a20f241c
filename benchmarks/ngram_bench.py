"""n-gram LMs: lmkit against KenLM's lmplz (estimation, whole processes, raced in the same
run), the `kenlm` query module and nltk.lm, on the same data.

Data: the Brown split of the shared KenLM reference (every 10th line of data/brown.txt.gz is
test), and optionally a large corpus made of Brown repeated (``--big-tokens``). Estimation
runs lmkit and lmplz as whole processes under /usr/bin/time -v, interleaved (A B A B ...),
``--repeats`` times each; the table gives medians, the spread (min-max) and lmkit/lmplz ratios
of wall time and peak RSS. lmkit's wall time includes Python start-up, imports and loading
numba's cached kernels. lmplz is built outside the repository (see the README, "Benchmarks").

Reproduce:  pip install -e '.[bench]'
            python benchmarks/ngram_bench.py --lmplz /tmp/kenlm/build/bin/lmplz
"""
from __future__ import annotations

import gzip
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LMPLZ = {  # order: (ppl incl. OOV, ppl excl. OOV) on Brown test, from lmplz + query
    3: (314.5970037457849, 258.77897345598564), 5: (309.38643835809137, 254.44597280566376)}


def brown_split(folder: Path) -> tuple[Path, Path]:
    lines = gzip.open(ROOT / "data" / "brown.txt.gz", "rt", encoding="utf-8").read().split("\n")
    if lines[-1] == "":
        lines.pop()
    train = [ln for i, ln in enumerate(lines, 1) if i % 10 != 0]
    test = [ln for i, ln in enumerate(lines, 1) if i % 10 == 0]
    (folder / "brown.train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    (folder / "brown.test.txt").write_text("\n".join(test) + "\n", encoding="utf-8")
    return folder / "brown.train.txt", folder / "brown.test.txt"


def timed(cmd: list[str]) -> tuple[float, float, str]:
    t = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)) / 1024
    return wall, rss, out.stdout


def nltk_subset(train: Path, test: Path, n_train: int, n_test: int, order: int) -> dict:
    """nltk.lm KneserNeyInterpolated vs lmkit kn on the same small subset."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    from lmkit.ngram import NgramModel
    tr = [ln.split() for ln in train.read_text(encoding="utf-8").splitlines()[:n_train]]
    te = [ln.split() for ln in test.read_text(encoding="utf-8").splitlines()[:n_test]]
    t = time.perf_counter()
    grams, vocab = padded_everygram_pipeline(order, tr)
    lm = KneserNeyInterpolated(order)
    lm.fit(grams, vocab)
    nltk_fit = time.perf_counter() - t
    t = time.perf_counter()
    total, n = 0.0, 0
    for s in te:
        padded = ["<s>"] * (order - 1) + s + ["</s>"]
        for i in range(order - 1, len(padded)):
            w = padded[i]
            if w not in lm.vocab:
                continue
            p = lm.score(w, padded[i - order + 1:i])
            total += math.log10(p) if p > 0 else -99
            n += 1
    nltk_score = time.perf_counter() - t
    nltk_ppl = 10 ** (-total / n)
    t = time.perf_counter()
    model = NgramModel.train(tr, order=order, smoothing="kn", quiet=True)
    ours_fit = time.perf_counter() - t
    t = time.perf_counter()
    res = model.perplexity(te)
    ours_score = time.perf_counter() - t
    return dict(nltk_fit=nltk_fit, nltk_score=nltk_score, nltk_ppl=nltk_ppl, ours_fit=ours_fit,
                ours_score=ours_score, ours_ppl=res.perplexity_excl_oov, words=n)


def query_speed(arpa: Path, test: Path, model: Path | None = None, stop_early: bool = True) -> dict:
    """Words/s (``</s>`` included) of the kenlm module scoring sentence by sentence, lmkit's
    batch ``score_encoded`` and lmkit's ``score`` per sentence, on ``model`` (default: the ARPA
    file, loaded); ``stop_early=False`` makes lmkit probe every order as if the model's
    suffixes were not all listed (to measure what stopping at the first missing n-gram gives)."""
    import kenlm

    from lmkit import Corpus, Tokenizer, encode_corpus
    from lmkit.ngram import NgramModel
    lines = test.read_text(encoding="utf-8").splitlines() * 5
    words = sum(len(ln.split()) + 1 for ln in lines)
    km = kenlm.Model(str(arpa))
    t = time.perf_counter()
    for ln in lines:
        km.score(ln)
    kenlm_s = time.perf_counter() - t
    ours = NgramModel.load(model or arpa)
    tables = ours._kernel_tables()
    if not stop_early:   # benchmark only: the same tables, every order probed
        ours._tables = tables._replace(suffix_closed=False)
    enc = encode_corpus(Corpus(test, Tokenizer("whitespace"), quiet=True), ours.vocab)
    ours.score_encoded(enc)  # build hash tables once
    t = time.perf_counter()
    for _ in range(5):
        ours.score_encoded(enc)
    batch_s = time.perf_counter() - t
    ours.score(lines[0])   # the first call finds the compiled text kernel
    t = time.perf_counter()
    for ln in lines[: len(lines) // 5]:
        ours.score(ln)
    single_s = (time.perf_counter() - t) * 5
    return dict(words=words, kenlm=words / kenlm_s, batch=words / batch_s, single=words / single_s,
                sentences=len(lines))


def query_table(arpa: Path, test: Path, tmp: Path, repeats: int) -> None:
    """:func:`query_speed` on the probing and trie binary files, stopping early and not, each
    in its own fresh process, all taking turns; medians [min-max] and ratios to kenlm in the
    same runs."""
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q"]
    models = {}
    for layout in ("probing", "trie"):
        models[layout] = tmp / f"q.{layout}.bin"
        subprocess.run(lmkit + ["ngram", "build-binary", str(arpa), "-o", str(models[layout]), "--layout", layout],
                       check=True)
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); from ngram_bench import query_speed; "
            "from pathlib import Path; print(json.dumps(query_speed(Path(sys.argv[2]), Path(sys.argv[3]), "
            "Path(sys.argv[4]), sys.argv[5] == 'stop')))")
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(repeats):
        for layout, path in models.items():
            for mode in ("stop", "probe every order"):
                out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(arpa), str(test),
                                      str(path), mode], check=True, capture_output=True, text=True)
                runs.setdefault((layout, mode), []).append(json.loads(out.stdout.splitlines()[-1]))
    print(f"\nQueries on Brown test x 5 (order 5 model; {repeats} fresh processes each, taking turns; medians "
          "[min-max]; kenlm's module on the ARPA file in the same processes)\n")
    print(f"{'layout':<8} {'lookups':<18} {'batch M words/s':>22} {'x kenlm':>8} {'per sentence us':>22} "
          f"{'kenlm us':>9} {'x kenlm':>8}")
    for (layout, mode), rs in runs.items():
        batch = [r["batch"] / 1e6 for r in rs]
        per = [r["words"] / r["single"] / r["sentences"] * 1e6 for r in rs]
        ken = [r["words"] / r["kenlm"] / r["sentences"] * 1e6 for r in rs]
        bx = _median([r["batch"] / r["kenlm"] for r in rs])
        px = _median([p / k for p, k in zip(per, ken)])
        print(f"{layout:<8} {mode:<18} {_median(batch):>8.2f} [{min(batch):.2f}-{max(batch):.2f}] {bx:>8.2f} "
              f"{_median(per):>8.2f} [{min(per):.2f}-{max(per):.2f}] {_median(ken):>9.2f} {px:>8.2f}")


def race(cmds: dict[str, list[str]], repeats: int) -> dict[str, list[tuple[float, float]]]:
    """Run each command ``repeats`` times, interleaved; (wall s, peak MB) per run."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    for _ in range(repeats):
        for name, cmd in cmds.items():
            wall, rss, _ = timed(cmd)
            runs[name].append((wall, rss))
    return runs


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def estimation_table(train: Path, tmp: Path, lmplz: str | None, orders: list[int], repeats: int,
                     memory: str, label: str, extra: tuple[str, ...] = ()) -> None:
    """lmkit ngram train -> ARPA against lmplz -S ``memory`` on the same file."""
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q"]
    print(f"\nEstimation, {label}, modified Kneser-Ney -> ARPA, whole process, {repeats} interleaved runs each "
          "(median [min-max])\n")
    print(f"{'order':>5} {'lmkit s':>20} {'lmkit MB':>9} {'lmplz s':>20} {'lmplz MB':>9} {'time x':>7} {'mem x':>6}")
    for order in orders:
        cmds = {"lmkit": lmkit + ["ngram", "train", str(train), "-o", str(tmp / f"lmkit.o{order}.arpa"),
                                  "--order", str(order), "--tokenizer", "whitespace", *extra]}
        if lmplz:
            cmds["lmplz"] = [lmplz, "-o", str(order), "-S", memory, "-T", str(tmp), "--text", str(train),
                             "--arpa", str(tmp / f"lmplz.o{order}.arpa"), "--discount_fallback"]
        runs = race(cmds, repeats)
        cells = []
        for name in ("lmkit", "lmplz"):
            if name not in runs:
                cells += ["-", "-"]
                continue
            w = [r[0] for r in runs[name]]
            cells += [f"{_median(w):.2f} [{min(w):.2f}-{max(w):.2f}]", f"{_median([r[1] for r in runs[name]]):.0f}"]
        if lmplz:
            tx = _median([r[0] for r in runs["lmkit"]]) / _median([r[0] for r in runs["lmplz"]])
            mx = _median([r[1] for r in runs["lmkit"]]) / _median([r[1] for r in runs["lmplz"]])
            ratio = [f"{tx:.2f}", f"{mx:.2f}"]
        else:
            ratio = ["-", "-"]
        print(f"{order:>5} {cells[0]:>20} {cells[1]:>9} {cells[2]:>20} {cells[3]:>9} {ratio[0]:>7} {ratio[1]:>6}")


_RSS = "int(open('/proc/self/statm').read().split()[1]) * 4096 / 1e6"
_LOAD = ("import sys, time; from lmkit.ngram import NgramModel; "
         f"r0 = {_RSS}; t1 = time.perf_counter(); m = NgramModel.load(sys.argv[1], quiet=True); "
         "t2 = time.perf_counter(); m.score('the man said'); t3 = time.perf_counter(); "
         "[m.score(line) for line in open(sys.argv[2], encoding='utf-8')] if len(sys.argv) > 2 else 0; "
         f"print(t2 - t1, t3 - t2, {_RSS} - r0)")
#: the same, after a first load (and score) freed: kernels loaded, so load and memory are the model's own.
#: ``del`` frees the first model (it holds no reference cycle); a ``gc.collect()`` here would also hand
#: Python's free memory back to the system, and the timed load would then pay page faults for its first
#: allocations (0.22 -> 0.74 ms measured), which kenlm's load, timed right after its import, does not
_WARM_LOAD = _LOAD.replace("r0 = ", "m = NgramModel.load(sys.argv[1], quiet=True); m.score('the man said'); "
                                    "del m; r0 = ", 1)
_KENLM_LOAD = (f"import sys, time, kenlm; r0 = {_RSS}; t = time.perf_counter(); m = kenlm.Model(sys.argv[1]); "
               "t1 = time.perf_counter(); m.score('the man said'); t2 = time.perf_counter(); "
               "[m.score(line) for line in open(sys.argv[2], encoding='utf-8')] if len(sys.argv) > 2 else 0; "
               f"print(t1 - t, t2 - t1, {_RSS} - r0)")
_PPL = re.compile(r"(?:logprob=\S+ perplexity=|^Perplexity including OOVs:\s*)([0-9.]+)", re.M)


def binary_table(arpa: Path, test: Path, tmp: Path, build_binary: str | None, query: str | None,
                 repeats: int) -> None:
    """Binary models in every layout, lmkit's and KenLM's: file size, load and first score in a
    fresh process, the model's memory there (RSS growth once loaded and the test file scored
    sentence by sentence), scoring the test file as a whole process (lmkit ngram score /
    KenLM's query) with its peak RSS and perplexity."""
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q"]
    rows: dict[str, tuple[str, Path]] = {}
    for name, flags in (("probing", []), ("trie", ["--layout", "trie"]),
                        ("trie q8 b8", ["--layout", "trie", "--quantize", "8", "--backoff-bits", "8"])):
        out = tmp / f"lmkit.{name.replace(' ', '_')}.bin"
        subprocess.run(lmkit + ["ngram", "build-binary", str(arpa), "-o", str(out), *flags], check=True)
        rows[f"lmkit {name}"] = ("lmkit", out)
    lmk = tmp / "model.lmk"
    subprocess.run(lmkit + ["ngram", "convert", str(arpa), str(lmk)], check=True)
    rows["lmkit .lmk (npz)"] = ("lmkit", lmk)
    if build_binary:
        for name, flags in (("probing", ["probing"]), ("trie", ["trie"]), ("trie q8 b8", ["-q", "8", "-b", "8",
                                                                                          "trie"])):
            out = tmp / f"kenlm.{name.replace(' ', '_')}"
            subprocess.run([build_binary, *flags, str(arpa), str(out)], check=True, capture_output=True)
            rows[f"KenLM {name}"] = ("kenlm", out)
    print(f"\nBinary models, Brown order 5 ({repeats} runs each, interleaved; medians)\n")
    print(f"{'model':<18} {'file MB':>8} {'load s':>8} {'1st score s':>11} {'model MB':>9} {'score file s':>12} "
          f"{'peak MB':>8} {'perplexity':>11}")
    results: dict[str, list] = {name: [] for name in rows}
    ppl: dict[str, float] = {}
    for _ in range(repeats):
        for name, (tool, path) in rows.items():
            code = _WARM_LOAD if tool == "lmkit" else _KENLM_LOAD
            out = subprocess.run([sys.executable, "-c", code, str(path), str(test)], capture_output=True, text=True,
                                 check=True)
            load, first, model_mb = map(float, out.stdout.split())
            if tool == "lmkit":
                wall, rss, text = timed(lmkit + ["ngram", "score", str(path), str(test), "--summary-only"])
            elif query:
                with open(test, "rb") as f:
                    t = time.perf_counter()
                    q = subprocess.run(["/usr/bin/time", "-v", query, str(path)], stdin=f, capture_output=True,
                                       check=True)
                    wall = time.perf_counter() - t
                text = q.stdout.decode() + q.stderr.decode()
                rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
            else:
                wall, rss, text = float("nan"), float("nan"), ""
            found = _PPL.search(text)
            if found:
                ppl[name] = float(found.group(1))
            results[name].append((load, first, model_mb, wall, rss))
    for name, (_, path) in rows.items():
        med = [_median([r[i] for r in results[name]]) for i in range(5)]
        print(f"{name:<18} {path.stat().st_size / 1e6:>8.2f} {med[0]:>8.4f} {med[1]:>11.4f} {med[2]:>9.2f} "
              f"{med[3]:>12.3f} {med[4]:>8.0f} {ppl.get(name, float('nan')):>11.2f}")
    shared_pages_table({"lmkit probing": rows["lmkit probing"][1], "lmkit trie": rows["lmkit trie"][1],
                        "lmkit .lmk (npz)": lmk}, test)
    cold_load_table({name: row for name, row in rows.items() if "npz" not in name}, repeats)


_DROP_CACHES = Path("/proc/sys/vm/drop_caches")
#: after a warm-up load and score (imports, kernels), the file's clean pages are dropped from
#: the page cache (``sync``, then drop_caches: the model file is no longer in memory), then a
#: load and a first score are timed
_COLD = ("import os, sys, time; {imports}; m = {load}; m.score('the man said'); del m; os.sync(); "
         f"open('{_DROP_CACHES}', 'w').write('1'); "
         "t = time.perf_counter(); m = {load}; t1 = time.perf_counter(); m.score('the man said'); "
         "t2 = time.perf_counter(); print(t1 - t, t2 - t1)")
_COLD_CODE = {"lmkit": _COLD.format(imports="from lmkit.ngram import NgramModel",
                                    load="NgramModel.load(sys.argv[1], quiet=True)"),
              "kenlm": _COLD.format(imports="import kenlm", load="kenlm.Model(sys.argv[1])")}


def cold_load_table(rows: dict[str, tuple[str, Path]], repeats: int) -> None:
    """Load and first score of each binary model when its file is not in the page cache (a
    model's first use after a reboot or after other work), in fresh processes taking turns:
    KenLM's loader reads the whole file into memory (its default, populate or read), lmkit's
    maps it and reads the pages a lookup touches. Needs permission to write drop_caches (root)."""
    if not os.access(_DROP_CACHES, os.W_OK):
        print(f"\n(cold-cache loads skipped: {_DROP_CACHES} is not writable here)")
        return
    print(f"\nLoading from a cold page cache ({repeats} runs each, interleaved; medians [min-max], ms)\n")
    print(f"{'model':<18} {'load':>22} {'1st score':>22} {'load + 1st score':>22}")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, (tool, path) in rows.items():
            out = subprocess.run([sys.executable, "-c", _COLD_CODE[tool], str(path)], capture_output=True, text=True,
                                 check=True)
            load, first = map(float, out.stdout.split())
            results[name].append((load * 1e3, first * 1e3))
    for name, runs in results.items():
        cells = []
        for values in ([r[0] for r in runs], [r[1] for r in runs], [r[0] + r[1] for r in runs]):
            cells.append(f"{_median(values):.2f} [{min(values):.2f}-{max(values):.2f}]")
        print(f"{name:<18} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}")


def _load_run(tool: str, path: Path) -> tuple[float, float]:
    """(load + first score seconds, peak MB) of one fresh process (imports not timed)."""
    code = _LOAD if tool == "lmkit" else _KENLM_LOAD
    out = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True)
    load, first, _ = map(float, out.stdout.split())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)) / 1024
    return load + first, rss


def arpa_load_table(files: dict[str, Path], repeats: int) -> None:
    """ARPA files loaded (and one sentence scored) by lmkit and by the kenlm module, each in a
    fresh process, the two alternating; medians [min-max] and the ratio of the medians."""
    print(f"\nARPA load + first score, fresh processes, {repeats} alternating runs each (median [min-max])\n")
    print(f"{'file':<28} {'MB':>6} {'lmkit s':>20} {'lmkit MB':>9} {'kenlm s':>20} {'kenlm MB':>9} {'time x':>7}")
    for name, path in files.items():
        runs: dict[str, list[tuple[float, float]]] = {"lmkit": [], "kenlm": []}
        for r in range(repeats):
            for tool in (("lmkit", "kenlm") if r % 2 == 0 else ("kenlm", "lmkit")):
                runs[tool].append(_load_run(tool, path))
        cells = []
        for tool in ("lmkit", "kenlm"):
            t = [x[0] for x in runs[tool]]
            cells += [f"{_median(t):.2f} [{min(t):.2f}-{max(t):.2f}]", f"{_median([x[1] for x in runs[tool]]):.0f}"]
        ratio = _median([x[0] for x in runs["lmkit"]]) / _median([x[0] for x in runs["kenlm"]])
        print(f"{name:<28} {path.stat().st_size / 1e6:>6.0f} {cells[0]:>20} {cells[1]:>9} {cells[2]:>20} "
              f"{cells[3]:>9} {ratio:>7.2f}")


_HOLD = ("import sys, time; from lmkit.ngram import NgramModel; from lmkit import Corpus, Tokenizer, encode_corpus; "
         "m = NgramModel.load(sys.argv[1], quiet=True); "
         "m.score_encoded(encode_corpus(Corpus(sys.argv[2], Tokenizer('whitespace'), quiet=True), m.vocab)); "
         "print('ready', flush=True); sys.stdin.read()")


def _memory(pid: int) -> dict[str, float]:
    """Rss, Pss and shared pages (MB) of a running process, from /proc/PID/smaps_rollup."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Shared_Clean", "Private_Clean", "Private_Dirty"):
            out[name] = int(rest.split()[0]) / 1024
    return out


def shared_pages_table(models: dict[str, Path], test: Path) -> None:
    """Two processes hold the same model at once (loaded, the test file scored): how much of
    each one's memory is the file's pages that they share (the binary model is mapped; a
    .lmk model is read into private memory)."""
    print("\nTwo processes scoring with the same model at once (MB, /proc/PID/smaps_rollup)\n")
    print(f"{'model':<24} {'Rss each':>9} {'Pss each':>9} {'shared':>8} {'private':>8}")
    for name, path in models.items():
        procs = [subprocess.Popen([sys.executable, "-c", _HOLD, str(path), str(test)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            for p in procs:
                assert p.stdout is not None and p.stdout.readline().strip() == "ready"
            mem = [_memory(p.pid) for p in procs]
        finally:
            for p in procs:
                p.communicate("")
        avg = {k: sum(m[k] for m in mem) / 2 for k in mem[0]}
        print(f"{name:<24} {avg['Rss']:>9.0f} {avg['Pss']:>9.0f} {avg['Shared_Clean']:>8.0f} "
              f"{avg['Private_Clean'] + avg['Private_Dirty']:>8.0f}")


def big_corpus(train: Path, tokens: float, folder: Path) -> Path:
    """Brown train repeated until it holds about ``tokens`` tokens."""
    text = train.read_bytes()
    n = len(text.split())
    path = folder / "big.txt"
    with open(path, "wb") as f:
        for _ in range(max(1, round(tokens / n))):
            f.write(text)
    return path


def main() -> None:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lmplz", help="path of KenLM's lmplz binary (built outside the repository)")
    ap.add_argument("--build-binary", help="path of KenLM's build_binary (binary-model table)")
    ap.add_argument("--query", help="path of KenLM's query (binary-model table)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only-binary", action="store_true")
    ap.add_argument("--skip-nltk", action="store_true", help="leave out nltk.lm (minutes of scoring)")
    ap.add_argument("--big-tokens", type=float, default=0, help="also race on Brown repeated to this many tokens")
    ap.add_argument("--big-chunk-tokens", type=int, default=None,
                    help="on the big corpus, also race lmkit with --chunk-tokens N (0: counted in memory; "
                         "the default is pieces of 5M tokens spilled and merged)")
    ap.add_argument("--skip-brown", action="store_true", help="leave out the Brown estimation table")
    ap.add_argument("--only-estimation", action="store_true")
    ap.add_argument("--only-queries", action="store_true",
                    help="query speed of the binary layouts against the kenlm module (fresh processes, --repeats)")
    ap.add_argument("--only-arpa-load", action="store_true",
                    help="race ARPA loading against the kenlm module (lmkit's and, with --lmplz, lmplz's file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train, test = brown_split(tmp)
        lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q"]
        timed(lmkit + ["ngram", "train", str(train), "-o", str(tmp / "warm.arpa"), "--order", "2"])  # numba cache
        if args.only_arpa_load:
            files = {"Brown o5, written by lmkit": tmp / "o5.arpa"}
            subprocess.run(lmkit + ["ngram", "train", str(train), "-o", str(files["Brown o5, written by lmkit"]),
                                    "--order", "5"], check=True)
            if args.lmplz:
                files["Brown o5, written by lmplz"] = tmp / "lmplz.o5.arpa"
                subprocess.run([args.lmplz, "-o", "5", "-S", "1G", "-T", str(tmp), "--text", str(train), "--arpa",
                                str(tmp / "lmplz.o5.arpa"), "--discount_fallback"], check=True, capture_output=True)
            arpa_load_table(files, args.repeats)
            return
        if args.only_queries:
            subprocess.run(lmkit + ["ngram", "train", str(train), "-o", str(tmp / "o5.arpa"), "--order", "5"], check=True)
            query_table(tmp / "o5.arpa", test, tmp, args.repeats)
            return
        if args.only_binary:
            subprocess.run(lmkit + ["ngram", "train", str(train), "-o", str(tmp / "o5.arpa"), "--order", "5"], check=True)
            binary_table(tmp / "o5.arpa", test, tmp, args.build_binary, args.query, args.repeats)
            return
        if not args.skip_brown:
            estimation_table(train, tmp, args.lmplz, [3, 5], args.repeats, "1G", "Brown train (1,045,507 tokens)")
        if args.big_tokens:
            big = big_corpus(train, args.big_tokens, tmp)
            label = f"Brown train repeated ({len(big.read_bytes().split()):,} tokens)"
            estimation_table(big, tmp, args.lmplz, [5], max(1, args.repeats // 2), "4G", label + ", lmkit default")
            if args.big_chunk_tokens is not None:
                estimation_table(big, tmp, args.lmplz, [5], max(1, args.repeats // 2), "4G",
                                 f"{label}, lmkit --chunk-tokens {args.big_chunk_tokens}",
                                 extra=("--chunk-tokens", str(args.big_chunk_tokens)))
        if args.only_estimation:
            return
        _quality_and_queries(train, test, tmp, nltk=not args.skip_nltk)


def _quality_and_queries(train: Path, test: Path, tmp: Path, nltk: bool = True) -> None:
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q"]
    print("\nTest perplexity, Brown test, lmkit .lmk model vs lmplz's figures (query)\n")
    print(f"{'order':>5} {'test ppl':>9} {'lmplz ppl':>9} {'ppl excl OOV':>12} {'lmplz excl':>10}")
    for order in (3, 5):
        lmk = tmp / f"brown.o{order}.lmk"
        subprocess.run(lmkit + ["ngram", "train", str(train), "-o", str(lmk), "--order", str(order)], check=True)
        _, _, out = timed(lmkit + ["ngram", "score", str(lmk), str(test), "--summary-only"])
        ppl = float(re.search(r" perplexity=([\d.]+)", out).group(1))
        ppl_ex = float(re.search(r"excluding_OOVs=([\d.]+)", out).group(1))
        ref = LMPLZ[order]
        print(f"{order:>5} {ppl:>9.2f} {ref[0]:>9.2f} {ppl_ex:>12.2f} {ref[1]:>10.2f}")
    subprocess.run(lmkit + ["ngram", "train", str(train), "-o", str(tmp / "brown.o5.arpa"), "--order", "5"], check=True)
    if nltk:
        _nltk_table(train, test)
    _query_table(tmp / "brown.o5.arpa", test)


def _nltk_table(train: Path, test: Path) -> None:
    print("\nnltk.lm KneserNeyInterpolated vs lmkit kn on a subset (5,000 train / 200 test sentences)\n")
    print(f"{'order':>5} {'nltk fit s':>10} {'lmkit fit s':>11} {'fit x':>7} {'nltk score s':>12} "
          f"{'lmkit score s':>13} {'score x':>8} {'nltk ppl':>9} {'lmkit ppl':>9}")
    for order in (3, 5):
        r = nltk_subset(train, test, 5000, 200, order)
        print(f"{order:>5} {r['nltk_fit']:>10.2f} {r['ours_fit']:>11.3f} {r['nltk_fit'] / r['ours_fit']:>7.0f} "
              f"{r['nltk_score']:>12.2f} {r['ours_score']:>13.4f} {r['nltk_score'] / r['ours_score']:>8.0f} "
              f"{r['nltk_ppl']:>9.2f} {r['ours_ppl']:>9.2f}")


def _query_table(arpa: Path, test: Path) -> None:
    print("\nQuery throughput on Brown test (order 5 ARPA written by lmkit), words/s incl. </s>\n")
    q = query_speed(arpa, test)
    print(f"{'kenlm module (score per sentence)':<40} {q['kenlm']:>12,.0f}")
    print(f"{'lmkit score_encoded (whole corpus)':<40} {q['batch']:>12,.0f}  ({q['batch'] / q['kenlm']:.2f}x kenlm)")
    print(f"{'lmkit score (per sentence, Python)':<40} {q['single']:>12,.0f}  ({q['single'] / q['kenlm']:.2f}x kenlm)")


if __name__ == "__main__":
    main()
