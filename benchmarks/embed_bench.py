"""word2vec: lmkit against gensim 4 on the same corpus, same hyper-parameters, same run.

Skip-gram, dim 100, window 5, min_count 5, sample 1e-3, 5 epochs, 2 workers; once with
negative sampling (negative 5) and once with hierarchical softmax (hs, negative 0). gensim runs
in both of its modes: `corpus_file` (its fastest: each thread reads its own part of the file)
and the usual iterable of sentences (LineSentence). Each training runs in its own process under
/usr/bin/time -v (peak RSS); words/s = corpus words x epochs / training seconds (measured inside
the process). The tools take turns, --repeats times (seeds 1..N): speed is the median, the
speed ratio the median of the ratios within each round (the machine is shared and noisy),
quality the mean over the seeds. Quality: Google analogies (30k most frequent words),
WordSim-353 and SimLex-999 Spearman, all from gensim's test data, scored with the same
function for every model.

Reproduce:  pip install -e '.[bench]' && python benchmarks/embed_bench.py [--corpus FILE ...]
            (default corpus: data/brown.txt.gz lowercased)
            en6 (6.5M tokens): --tokenizer regex --corpus S/brown/brown.txt.gz S/movie_reviews/*.gz
                S/reuters/reuters.t*.txt.gz S/abc/abc.txt.gz S/tinyshakespeare/input.txt S/gutenberg/*.txt.gz
                with S = ../shared/data (the project's shared corpora)
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARAMS = dict(dim=100, window=5, min_count=5, sample=1e-3, epochs=5, workers=2)


TOOLS = ("gensim", "gensim-iter", "lmkit")


def child(tool: str, mode: str, corpus: str, out: str, workers: int, seed: int) -> None:
    if tool == "lmkit":
        from lmkit import Corpus, Tokenizer
        from lmkit.embed import Word2Vec
        c = Corpus(corpus, Tokenizer("whitespace"), quiet=True)
        model = Word2Vec(dim=PARAMS["dim"], window=PARAMS["window"], min_count=PARAMS["min_count"],
                         sample=PARAMS["sample"], epochs=PARAMS["epochs"], workers=workers,
                         hs=mode == "hs", negative=0 if mode == "hs" else 5, seed=seed)
        model.build_vocab(c)
        from lmkit.text import encode_corpus
        enc = encode_corpus(c, model.vocab)
        t = time.perf_counter()
        model.train(enc, quiet=True)
        seconds = time.perf_counter() - t
        words = enc.n_tokens
        model.wv.save_word2vec_format(out, binary=True)
    else:
        from gensim.models import Word2Vec as G
        words = sum(len(line.split()) for line in open(corpus, encoding="utf-8"))
        model = G(vector_size=PARAMS["dim"], window=PARAMS["window"], min_count=PARAMS["min_count"],
                  sample=PARAMS["sample"], workers=workers, sg=1, hs=int(mode == "hs"),
                  negative=0 if mode == "hs" else 5, seed=seed)
        if tool == "gensim":
            model.build_vocab(corpus_file=corpus)
            t = time.perf_counter()
            model.train(corpus_file=corpus, total_words=model.corpus_total_words, epochs=PARAMS["epochs"])
        else:
            from gensim.models.word2vec import LineSentence
            model.build_vocab(LineSentence(corpus))
            t = time.perf_counter()
            model.train(LineSentence(corpus), total_examples=model.corpus_count, epochs=PARAMS["epochs"])
        seconds = time.perf_counter() - t
        model.wv.save_word2vec_format(out, binary=True)
    print(json.dumps({"seconds": seconds, "words": int(words)}))


def run(tool: str, mode: str, corpus: Path, out: Path, workers: int = 2, seed: int = 1) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--child", tool, mode, str(corpus), str(out),
           str(workers), str(seed)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr[-2000:])
    info = json.loads(res.stdout.strip().splitlines()[-1])
    info["peak_mb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1)) / 1024
    info["wps"] = info["words"] * PARAMS["epochs"] / info["seconds"]
    return info


def quality(path: Path) -> dict:
    from gensim.test.utils import datapath

    from lmkit.embed import KeyedVectors
    kv = KeyedVectors.load_word2vec_format(path, binary=True)
    a = kv.evaluate_analogies(datapath("questions-words.txt"), restrict_vocab=30000)
    ws = kv.evaluate_pairs(datapath("wordsim353.tsv"))
    sl = kv.evaluate_pairs(datapath("simlex999.txt"))
    return {"analogy": a["accuracy"] * 100, "sem": a["semantic"] * 100, "syn": a["syntactic"] * 100,
            "ws": ws["spearman"], "sl": sl["spearman"]}


def queries(path: Path) -> dict:
    import numpy as np
    from gensim.models import KeyedVectors as GKV

    from lmkit.embed import KeyedVectors
    ours = KeyedVectors.load_word2vec_format(path, binary=True)
    theirs = GKV.load_word2vec_format(str(path), binary=True)
    words = ours.words[:1000]
    ours.most_similar(words[0]); theirs.most_similar(words[0])  # normalise once
    ours.neighbors(words[:2], k=10)  # load the numba top-k kernel once
    single_o, single_g = [], []
    for w in words[:200]:
        t = time.perf_counter(); ours.most_similar(w, topn=10); single_o.append(time.perf_counter() - t)
        t = time.perf_counter(); theirs.most_similar(w, topn=10); single_g.append(time.perf_counter() - t)
    loop_o, loop_g, batch_o = [], [], []
    for _ in range(5):
        t = time.perf_counter(); [theirs.most_similar(w, topn=10) for w in words]; loop_g.append(time.perf_counter() - t)
        t = time.perf_counter(); [ours.most_similar(w, topn=10) for w in words]; loop_o.append(time.perf_counter() - t)
        t = time.perf_counter(); ours.neighbors(words, k=10); batch_o.append(time.perf_counter() - t)
    med = lambda xs: float(np.median(xs))
    return {"single_ours_ms": 1000 * med(single_o), "single_gensim_ms": 1000 * med(single_g),
            "loop_gensim_s": med(loop_g), "loop_ours_s": med(loop_o), "batch_ours_s": med(batch_o), "vocab": len(ours)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", nargs="*", help="text files (lowercased and tokenised here)")
    ap.add_argument("--tokenizer", default="whitespace", choices=["whitespace", "regex"],
                    help="how the corpus files are split before both tools see them (default whitespace)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds of every tool, seeds 1..N (default 3)")
    ap.add_argument("--modes", nargs="+", default=["ns", "hs"], choices=["ns", "hs"])
    ap.add_argument("--scaling-pairs", type=int, default=3,
                    help="alternating 1-/2-worker lmkit runs for the scaling figure (default 3; 0 skips it)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus.txt"
        sources = args.corpus or [str(ROOT / "data" / "brown.txt.gz")]
        from lmkit import Tokenizer
        tok = Tokenizer(args.tokenizer, lowercase=True)
        with open(corpus, "w", encoding="utf-8") as out:
            for src in sources:
                opener = gzip.open if src.endswith(".gz") else open
                with opener(src, "rt", encoding="utf-8", errors="ignore") as f:
                    for line in f:
                        words = tok(line)
                        if words:
                            out.write(" ".join(words) + "\n")
        # warm numba's on-disk cache so compile time is not counted
        subprocess.run([sys.executable, "-c", "from lmkit.embed import Word2Vec; "
                        "Word2Vec(min_count=1, epochs=1, dim=8).train([['a','b','c']]*50, quiet=True); "
                        "Word2Vec(min_count=1, epochs=1, dim=8, hs=True, negative=0)"
                        ".train([['a','b','c']]*50, quiet=True)"], check=True)
        print(f"corpus: {', '.join(Path(s).name for s in sources)} (lowercased), "
              f"skip-gram dim 100 window 5 min_count 5 sample 1e-3 5 epochs 2 workers, "
              f"{args.repeats} rounds\n")
        print(f"{'mode':<4} {'tool':<11} {'train s':>8} {'words/s':>10} {'x gensim':>9} {'x g-iter':>9} {'peak MB':>8} "
              f"{'analogy%':>9} {'sem/syn':>11} {'WS353':>6} {'(range)':>13} {'SL999':>6}")
        for mode in args.modes:
            runs: dict[str, list[dict]] = {tool: [] for tool in TOOLS}
            for rep in range(args.repeats):
                for tool in TOOLS:
                    out = tmp / f"{tool}.{mode}.{rep}.bin"
                    r = run(tool, mode, corpus, out, seed=rep + 1)
                    r.update(quality(out))
                    runs[tool].append(r)
            for tool in TOOLS:
                rs = runs[tool]
                ratio = lambda peer: statistics.median(a["wps"] / b["wps"] for a, b in zip(rs, runs[peer]))
                mean = lambda key: statistics.fmean(r[key] for r in rs)
                ws = [r["ws"] for r in rs]
                print(f"{mode:<4} {tool:<11} {statistics.median(r['seconds'] for r in rs):>8.1f} "
                      f"{statistics.median(r['wps'] for r in rs):>10,.0f} {ratio('gensim'):>9.2f} "
                      f"{ratio('gensim-iter'):>9.2f} {max(r['peak_mb'] for r in rs):>8.0f} {mean('analogy'):>9.2f} "
                      f"{mean('sem'):>5.1f}/{mean('syn'):<5.1f} {mean('ws'):>6.3f} {min(ws):>6.3f}-{max(ws):<6.3f} "
                      f"{mean('sl'):>6.3f}", flush=True)
        for mode in args.modes if args.scaling_pairs else ():
            pairs = []
            for _ in range(args.scaling_pairs):  # alternate; the ratio within each pair, then the median
                one = run("lmkit", mode, corpus, tmp / "one.bin", workers=1)["wps"]
                two = run("lmkit", mode, corpus, tmp / "two.bin", workers=2)["wps"]
                pairs.append((one, two))
            ratios = [b / a for a, b in pairs]
            print(f"\nlmkit scaling 1 -> 2 workers ({mode.upper()}, {len(pairs)} alternating pairs): "
                  f"median {statistics.median(ratios):.2f}x (pairs: {', '.join(f'{r:.2f}' for r in ratios)}); "
                  f"1 worker median {statistics.median(a for a, _ in pairs):,.0f} words/s, "
                  f"2 workers {statistics.median(b for _, b in pairs):,.0f}", flush=True)
        q = queries(tmp / f"lmkit.{args.modes[0]}.0.bin")
        print(f"\nnearest-neighbour queries ({q['vocab']:,} x 100 vectors, top 10, medians): one query "
              f"lmkit {q['single_ours_ms']:.2f} ms, gensim {q['single_gensim_ms']:.2f} ms; 1000 queries: "
              f"gensim most_similar loop {q['loop_gensim_s']:.3f} s, lmkit most_similar loop {q['loop_ours_s']:.3f} s, "
              f"lmkit neighbors() batch {q['batch_ours_s']:.3f} s ({q['loop_gensim_s'] / q['batch_ours_s']:.1f}x gensim's loop)")


if __name__ == "__main__":
    main()
