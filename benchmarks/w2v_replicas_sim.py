"""K logical word2vec replicas in one process, over the very functions the Dask path runs
(lmkit.embed.distributed._train_replicas and the combiners of lmkit.embed.combine), with the
per-touch contraction of ``scaled`` overridable: the quick loop the rho figures of the README
and of combine.RHO_PER_ALPHA were tuned with. Prints one JSON line (analogy % and WS-353 as in
embed_bench.py).

Shards as the cluster cuts them roughly: the sentences in 2K contiguous blocks, replica r
holding blocks r and r + K.

Reproduce:  python benchmarks/w2v_replicas_sim.py EN6.txt --replicas 10 --sync-words 100000 --rho 0.4
            (EN6.txt: the en6 corpus tokenised one sentence a line, from `dist_w2v_bench.py --corpus ... --save-text EN6.txt`)
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def shards_of(ids: np.ndarray, offsets: np.ndarray, replicas: int, chunk_words: int) -> list:
    from lmkit.embed.distributed import _Shard
    from lmkit.embed.word2vec import _plan_jobs
    cuts = np.linspace(0, len(offsets) - 1, 2 * replicas + 1).astype(int)
    out = []
    for r in range(replicas):
        blocks = [(cuts[r], cuts[r + 1]), (cuts[r + replicas], cuts[r + replicas + 1])]
        lens = np.concatenate([np.diff(offsets[a:b + 1]) for a, b in blocks])
        offs = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        part = np.concatenate([ids[offsets[a]:offsets[b]] for a, b in blocks]).astype(np.int32)
        out.append(_Shard(part, offs, _plan_jobs(offs, chunk_words)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("text")
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--sync-words", type=int, default=100_000)
    ap.add_argument("--method", default="scaled", choices=["scaled", "average", "sum"])
    ap.add_argument("--rho", type=float, default=None, help="per-touch contraction / alpha (default: the library's)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    from embed_bench import quality

    from lmkit.embed import Word2Vec
    from lmkit.embed.combine import COMBINERS, RHO_PER_ALPHA, touch_rates
    from lmkit.embed.distributed import _alpha, _train_replicas
    from lmkit.embed.word2vec import SYNC_WORDS, _job_seed
    from lmkit.text import Corpus, Tokenizer, encode_corpus
    K, S = args.replicas, args.sync_words
    corpus = Corpus(args.text, Tokenizer("whitespace"), quiet=True)
    model = Word2Vec(dim=100, window=5, min_count=5, sample=1e-3, epochs=args.epochs, negative=5, workers=1,
                     seed=args.seed).build_vocab(corpus)
    enc = encode_corpus(corpus, model.vocab)
    shards = shards_of(np.asarray(enc.ids), np.asarray(enc.offsets, dtype=np.int64), K, max(1, S // K))
    c = model.config
    tables = tuple(model._train_tables())
    settings = (c.window, c.negative, c.hs, not c.sg, c.max_sentence, SYNC_WORDS)
    sizes = [[int(sh.offsets[hi] - sh.offsets[lo]) for lo, hi, _ in sh.chunks] for sh in shards]
    n_tokens = sum(map(sum, sizes))
    schedule = (c.start_alpha, c.min_alpha, n_tokens * args.epochs)
    before = [np.concatenate([[0], np.cumsum(s)]) for s in sizes]
    weights = (model.syn0, model.syn1, model.syn1neg)
    rates = touch_rates(model.vocab.counts, tables[0], tables[1], tables[3], len(model.syn1), window=c.window,
                        negative=c.negative, cbow=not c.sg, n_words=n_tokens)
    state: dict = {"touches": tuple(r * (S / K) for r in rates)}
    rho = RHO_PER_ALPHA if args.rho is None else args.rho
    t0 = time.perf_counter()
    for e in range(args.epochs):
        done = n_tokens * e
        for j in range(max(map(len, sizes))):
            lo = done + sum(int(bw[min(j, len(bw) - 1)]) for bw in before)
            hi = done + sum(int(bw[min(j + 1, len(bw) - 1)]) for bw in before)
            reps = [r for r in range(K) if j < len(sizes[r])]
            folded, _ = _train_replicas([shards[r] for r in reps], j, weights, tables, settings, _alpha(schedule, lo),
                                        _alpha(schedule, hi), [_job_seed(args.seed, e, j * K + r) for r in reps],
                                        args.method == "average")
            state["rho"] = rho * _alpha(schedule, lo)
            COMBINERS[args.method](weights, [folded], state)
    seconds = time.perf_counter() - t0
    model._wv = None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "v.bin"
        model.wv.save_word2vec_format(out, binary=True)
        q = quality(out)
    print(json.dumps(dict(K=K, S=S, method=args.method, rho=rho, seed=args.seed, seconds=round(seconds, 1),
                          analogy=q["analogy"], ws=q["ws"])))


if __name__ == "__main__":
    main()
