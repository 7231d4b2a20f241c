"""Compressed word vectors: lmkit's int8 rows against float32 search and faiss, same vectors, same run.

For each seed, skip-gram vectors are trained with lmkit (dim 100, window 5, min_count 5, 5
epochs, 2 workers) and compressed; then, on the same 1,000 query words (seeded), recall@10 of
the compressed search against exact float32 search (the query word itself left out), bytes
per vector, query time for one query (`most_similar`, median of 50) and for 1,000 queries
(`neighbors`), and Google-analogy accuracy (30k most frequent words, gensim's test file) of
both. faiss (faiss-cpu, `bench` extra) on the same unit vectors: `IndexScalarQuantizer` 8-bit,
inner product (its int8 counterpart), and `IndexFlatIP` as its exact search; 2 threads each.
Product quantisation (`--pq 20 50`): lmkit's PQ against faiss `IndexPQ` (M x 8 bits, L2 on
the unit rows), both queried with the float32 query vectors; with re-ranking (`--rerank 100`,
on the smallest PQ): lmkit's best R candidates re-scored on int8 rows kept beside the codes,
against faiss `IndexRefineFlat` over the same `IndexPQ` (float32 rows kept, k_factor R / 11).
Quality figures are the mean over the seeds with the range. The process runs with the
thread-pool settings of the `lmkit` command (lmkit/threads.py), for both sides. With ``--index NLIST`` the
synthetic matrix is searched through IVF-PQ indexes instead (lmkit and faiss IndexIVFPQ, both
re-ranking their best candidates; ``--nprobe`` cells a query scans) beside exact search.

Reproduce:  pip install -e '.[bench]' && python benchmarks/compress_bench.py [--seeds 3]
            [--corpus FILE ...] [--synthetic 200000]   (default corpus: data/brown.txt.gz lowercased)
            python benchmarks/compress_bench.py --seeds 0 --synthetic 500000 --index 1024 [--nprobe 8 16 32]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from lmkit.threads import quiet_thread_pools

quiet_thread_pools()      # as the lmkit command runs (before numpy loads OpenBLAS); faiss sees the same

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def train(corpus: list[str], seed: int, tokenizer: str):
    from lmkit import Corpus, Tokenizer
    from lmkit.embed import Word2Vec
    data = Corpus(corpus, Tokenizer(tokenizer, lowercase=True), quiet=True)
    return Word2Vec(dim=100, window=5, min_count=5, sample=1e-3, epochs=5, workers=2, seed=seed).train(
        data, quiet=True).wv


def recall(exact: list[list[str]], approx: list[list[str]], k: int = 10) -> float:
    return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(exact, approx)]))


def timed(fn, repeats: int = 3) -> float:
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t)
    return statistics.median(best)


def lmkit_side(kv, queries: list[str], analogies: bool = True) -> tuple[dict, list[list[str]]]:
    """float32 and int8 search on the same queries (and analogy accuracy with ``analogies``);
    also returns the exact neighbours."""
    small = kv.compress("int8")
    out = {}
    exact = [[w for w, _ in row] for row in kv.neighbors(queries, k=10)]
    for name, m in (("float32", kv), ("int8", small)):
        found = [[w for w, _ in row] for row in m.neighbors(queries, k=10)]
        one = statistics.median(timed(lambda w=w: m.most_similar(w, topn=10), 1) for w in queries[:50])
        many = timed(lambda m=m: m.neighbors(queries, k=10))
        acc = float("nan")
        if analogies:
            from gensim.test.utils import datapath
            acc = m.evaluate_analogies(datapath("questions-words.txt"), restrict_vocab=30000)["accuracy"] * 100
        out[name] = dict(recall=recall(exact, found), bytes=(m.vectors.nbytes / len(m)), one_us=one * 1e6,
                         many_s=many, analogy=acc)
    return out, exact


def rerank_side(kv, queries: list[str], exact: list[list[str]], m: int, r: int) -> dict:
    """lmkit PQ with its best R candidates re-scored on int8 rows kept beside the codes, and
    faiss ``IndexRefineFlat`` over ``IndexPQ`` (float32 rows kept; k_factor = R / 11)."""
    small = kv.compress("pq", m=m, rerank=r)
    vecs = {w: kv.get_vector(w) for w in queries}
    found = [[x for x, _ in small.similar_by_vector(vecs[w], topn=11) if x != w][:10] for w in queries]
    one = statistics.median(timed(lambda w=w: small.similar_by_vector(vecs[w], topn=10), 1) for w in queries[:50])
    out = {f"lmkit PQ{m} + rerank {r} (int8)": dict(
        recall=recall(exact, found), bytes=small.vectors.nbytes / len(kv), one_us=one * 1e6,
        many_s=timed(lambda: small.neighbors(queries, 10)), analogy=float("nan"))}
    try:
        import faiss
    except ImportError:
        return out
    unit = np.ascontiguousarray(kv.unit_rows(slice(None)), dtype=np.float32)
    base = faiss.IndexPQ(kv.dim, m, 8, faiss.METRIC_L2)
    index = faiss.IndexRefineFlat(base)
    index.k_factor = r / 11
    index.train(unit)
    index.add(unit)
    qi = np.array([kv.index_of(w) for w in queries])
    _, ids = index.search(unit[qi], 11)
    found = [[kv.words[j] for j in row if j >= 0 and j != q][:10] for row, q in zip(ids.tolist(), qi.tolist())]
    one = statistics.median(timed(lambda i=i: index.search(unit[i:i + 1], 11), 1) for i in qi[:50])
    out[f"faiss PQ{m}x8 + RefineFlat {r}"] = dict(
        recall=recall(exact, found), bytes=m + 4 * kv.dim, one_us=one * 1e6,
        many_s=timed(lambda: index.search(unit[qi], 11)), analogy=float("nan"))
    return out


def index_side(kv, queries: list[str], exact: list[list[str]], m: int, nlist: int, nprobes: list[int],
               r: int) -> dict:
    """IVF-PQ with re-ranking: lmkit (NLIST cells, residual PQ m bytes, best R re-scored on
    kept int8 rows) against faiss IndexIVFPQ under IndexRefineFlat (same NLIST, m x 8 bits,
    float32 rows kept, k_factor R / 11), for each nprobe; exact float32 search timed too
    (one query: `most_similar`; 1,000: one `neighbors` call). 1 thread for faiss's single
    queries is not forced: both sides run with the machine's 2 threads."""
    out = {}
    one = statistics.median(timed(lambda w=w: kv.most_similar(w, topn=10), 1) for w in queries[:20])
    out["exact float32"] = dict(recall=1.0, bytes=4 * kv.dim, one_us=one * 1e6,
                                many_s=timed(lambda: kv.neighbors(queries, 10), 1), analogy=float("nan"))
    for refine in ("int8", "float32"):
        t = time.perf_counter()
        small = kv.compress("pq", m=m, ivf=nlist, rerank=r, refine=refine)
        build = time.perf_counter() - t
        for p in nprobes:
            small.vectors.nprobe = p
            found = [[w for w, _ in row] for row in small.neighbors(queries, 10)]
            one = statistics.median(timed(lambda w=w: small.most_similar(w, topn=10), 1) for w in queries[:100])
            out[f"lmkit IVF{nlist},PQ{m} + rerank {r} ({refine}), nprobe {p}"] = dict(
                recall=recall(exact, found), bytes=small.vectors.nbytes / len(kv), one_us=one * 1e6,
                many_s=timed(lambda: small.neighbors(queries, 10), 1), analogy=float("nan"), build_s=build)
    try:
        import faiss
    except ImportError:
        return out
    unit = np.ascontiguousarray(kv.unit_rows(slice(None)), dtype=np.float32)
    quantizer = faiss.IndexFlatL2(kv.dim)
    base = faiss.IndexIVFPQ(quantizer, kv.dim, nlist, m, 8)
    index = faiss.IndexRefineFlat(base)
    index.k_factor = r / 11
    t = time.perf_counter()
    index.train(unit)
    index.add(unit)
    build = time.perf_counter() - t
    qi = np.array([kv.index_of(w) for w in queries])
    for p in nprobes:
        base.nprobe = p
        _, ids = index.search(unit[qi], 11)
        found = [[kv.words[j] for j in row if j >= 0 and j != q][:10] for row, q in zip(ids.tolist(), qi.tolist())]
        one = statistics.median(timed(lambda i=i: index.search(unit[i:i + 1], 11), 1) for i in qi[:100])
        out[f"faiss IVF{nlist},PQ{m} + RefineFlat {r}, nprobe {p}"] = dict(
            recall=recall(exact, found), bytes=m + 8 + 4 * kv.dim, one_us=one * 1e6,
            many_s=timed(lambda: index.search(unit[qi], 11), 1), analogy=float("nan"), build_s=build)
    return out


def pq_side(kv, queries: list[str], exact: list[list[str]], m: int) -> dict:
    """lmkit PQ (m bytes) and faiss IndexPQ (m x 8 bits, L2 on unit rows, its best form here),
    both searched with the float32 query vectors (asymmetric distances, as faiss is used)."""
    t = time.perf_counter()
    small = kv.compress("pq", m=m)
    build = time.perf_counter() - t
    vecs = {w: kv.get_vector(w) for w in queries}
    found = [[x for x, _ in small.similar_by_vector(vecs[w], topn=11) if x != w][:10] for w in queries]
    one = statistics.median(timed(lambda w=w: small.similar_by_vector(vecs[w], topn=10), 1) for w in queries[:50])
    out = {f"lmkit PQ{m}": dict(recall=recall(exact, found), bytes=m, one_us=one * 1e6, many_s=float("nan"),
                                analogy=float("nan"), build_s=build)}
    try:
        import faiss
    except ImportError:
        return out
    unit = np.ascontiguousarray(kv.unit_rows(slice(None)), dtype=np.float32)
    index = faiss.IndexPQ(kv.dim, m, 8, faiss.METRIC_L2)
    t = time.perf_counter()
    index.train(unit)
    index.add(unit)
    build = time.perf_counter() - t
    qi = np.array([kv.index_of(w) for w in queries])
    _, ids = index.search(unit[qi], 11)
    found = [[kv.words[j] for j in row if j >= 0 and j != q][:10] for row, q in zip(ids.tolist(), qi.tolist())]
    one = statistics.median(timed(lambda i=i: index.search(unit[i:i + 1], 11), 1) for i in qi[:50])
    out[f"faiss PQ{m}x8"] = dict(recall=recall(exact, found), bytes=m, one_us=one * 1e6,
                                 many_s=timed(lambda: index.search(unit[qi], 11)), analogy=float("nan"), build_s=build)
    return out


def faiss_side(kv, queries: list[str], exact: list[list[str]]) -> dict:
    try:
        import faiss
    except ImportError:
        return {}
    faiss.omp_set_num_threads(2)
    unit = np.ascontiguousarray(kv.unit_rows(slice(None)), dtype=np.float32)
    qi = np.array([kv.index_of(w) for w in queries])
    out = {}
    for name, index in (("faiss Flat IP", faiss.IndexFlatIP(kv.dim)),
                        ("faiss SQ8 IP", faiss.IndexScalarQuantizer(kv.dim, faiss.ScalarQuantizer.QT_8bit,
                                                                    faiss.METRIC_INNER_PRODUCT))):
        index.train(unit)
        index.add(unit)
        _, ids = index.search(unit[qi], 11)
        words = kv.words
        found = [[words[j] for j in row if j >= 0 and j != q][:10] for row, q in zip(ids.tolist(), qi.tolist())]
        one = statistics.median(timed(lambda i=i: index.search(unit[i:i + 1], 11), 1) for i in qi[:50])
        many = timed(lambda: index.search(unit[qi], 11))
        out[name] = dict(recall=recall(exact, found), bytes=index.sa_code_size() if hasattr(index, "sa_code_size")
                         else 4 * kv.dim, one_us=one * 1e6, many_s=many, analogy=float("nan"))
    return out


def synthetic(n: int, dim: int = 300, seed: int = 0):
    from lmkit.embed import KeyedVectors
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(1000, dim)).astype(np.float32)
    rows = centers[rng.integers(0, 1000, n)] + rng.normal(scale=0.8, size=(n, dim)).astype(np.float32)
    return KeyedVectors([f"w{i}" for i in range(n)], rows.astype(np.float32))


def table(title: str, runs: list[dict]) -> None:
    print(f"\n{title}\n")
    print(f"{'method':<16} {'bytes/vec':>9} {'recall@10':>20} {'1 query us':>11} {'1000 queries s':>15} "
          f"{'analogy %':>22}")
    for name in runs[0]:
        rows = [r[name] for r in runs]

        def cell(key, fmt):
            xs = [r[key] for r in rows]
            if any(np.isnan(x) for x in xs):
                return "-"
            spread = f" ({min(xs):{fmt}}-{max(xs):{fmt}})" if len(xs) > 1 else ""
            return f"{statistics.mean(xs):{fmt}}{spread}"
        many = statistics.median(r["many_s"] for r in rows)
        build = f"  build {statistics.median(r['build_s'] for r in rows):.1f} s" if "build_s" in rows[0] else ""
        print(f"{name:<16} {rows[0]['bytes']:>9.0f} {cell('recall', '.4f'):>20} "
              f"{statistics.median(r['one_us'] for r in rows):>11.0f} "
              f"{'-' if np.isnan(many) else f'{many:.3f}':>15} {cell('analogy', '.2f'):>22}{build}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--corpus", nargs="+", default=[str(ROOT / "data" / "brown.txt.gz")])
    ap.add_argument("--tokenizer", default="whitespace")
    ap.add_argument("--synthetic", type=int, default=0, help="also a clustered synthetic N x 300 matrix")
    ap.add_argument("--pq", type=int, nargs="*", default=[20, 50], help="PQ sizes (bytes a vector) to race")
    ap.add_argument("--rerank", type=int, nargs="*", default=[100],
                    help="re-rank this many PQ candidates (smallest --pq) on kept rows, against faiss IndexRefineFlat")
    ap.add_argument("--index", type=int, default=0, metavar="NLIST",
                    help="IVF-PQ (NLIST cells) with re-ranking on the synthetic matrix only, against faiss and exact")
    ap.add_argument("--index-pq", type=int, default=50, help="PQ bytes of the IVF index (default 50)")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    runs = []
    for seed in range(1, args.seeds + 1):
        kv = train(args.corpus, seed, args.tokenizer)
        queries = [kv.words[i] for i in rng.choice(min(len(kv), 30000), 1000, replace=False)]
        mine, exact = lmkit_side(kv, queries)
        mine.update(faiss_side(kv, queries, exact))
        for m in args.pq:
            mine.update(pq_side(kv, queries, exact, m))
        for r in args.rerank if args.pq else []:
            mine.update(rerank_side(kv, queries, exact, min(args.pq), r))
        runs.append(mine)
    if runs:
        table(f"Skip-gram vectors ({len(kv)} words x {kv.dim}, {args.seeds} seeds), 1,000 query words", runs)
    if args.synthetic:
        kv = synthetic(args.synthetic)
        queries = [kv.words[i] for i in rng.choice(len(kv), 1000, replace=False)]
        if args.index:
            exact = [[w for w, _ in row] for row in kv.neighbors(queries, k=10)]
            mine = index_side(kv, queries, exact, args.index_pq, args.index, args.nprobe, max(args.rerank or [100]))
        else:
            mine, exact = lmkit_side(kv, queries, analogies=False)
            mine.update(faiss_side(kv, queries, exact))
        table(f"Clustered synthetic matrix ({len(kv)} x {kv.dim}), 1,000 queries", [mine])


if __name__ == "__main__":
    main()
