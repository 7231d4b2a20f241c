"""Compressed vectors (int8 codes with a scale per row): the codes' error bound, queries on the
codes against float32 queries, the folder round trip and its checks, the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

from lmkit import ConfigError, ModelFormatError
from lmkit.embed import KeyedVectors
from lmkit.embed.compress import Int8Rows


def clustered(n=6000, dim=100, clusters=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim))
    rows = centers[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim))
    return KeyedVectors([f"w{i}" for i in range(n)], rows.astype(np.float32))


@pytest.fixture(scope="module")
def kv():
    return clustered()


@pytest.mark.parametrize("center", [True, False])
def test_codes_are_within_half_a_step_of_every_value(center):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(500, 33)) * rng.uniform(0.01, 100, (500, 1)) + 3.0).astype(np.float32)
    q = Int8Rows.encode(x, center=center)
    assert np.allclose(q.offset, x.mean(axis=0) if center else 0.0, atol=1e-4)
    assert q.codes.dtype == np.int8 and q.scales.dtype == np.float32 and q.shape == x.shape
    assert q.nbytes == x.size + 4 * len(x) + 4 * x.shape[1]   # codes, scales, offset
    step = q.scales[:, None]
    assert np.all(np.abs(q[:] - x) <= step / 2 + 1e-5 * (np.abs(x) + np.abs(q.offset)))
    assert np.abs(q.codes).max() == 127 and not np.any(q.codes == -128)
    same = Int8Rows.encode(np.tile(x[:1], (4, 1)))            # every row the offset: scale 0, decoded exactly
    assert np.all(same.scales == 0) and np.allclose(np.asarray(same), x[:1], atol=1e-5)
    np.testing.assert_array_equal(np.asarray(q), q[np.arange(len(x))])
    np.testing.assert_array_equal(q[5], q[5:6][0])
    with pytest.raises(ConfigError, match="finite"):
        Int8Rows.encode(np.array([[1.0, np.nan]], np.float32))


def test_the_scoring_kernel_equals_decoded_rows(kv):
    small = kv.compress("int8")
    q = np.random.default_rng(2).normal(size=kv.dim).astype(np.float32)
    inv = (1.0 / small.norms).astype(np.float32)
    want = (np.asarray(small.vectors, dtype=np.float64) @ q) * inv
    np.testing.assert_allclose(small.vectors.scores(q, inv, len(kv)), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(small.vectors.scores(q, inv, 10), want[:10], rtol=1e-4, atol=1e-4)


def test_queries_on_the_codes_find_the_float_neighbours(kv):
    small = kv.compress("int8")
    assert small.encoding == "int8" and kv.encoding == "float32"
    words = kv.words[:400]
    exact, approx = kv.neighbors(words, k=10), small.neighbors(words, k=10)
    recall = np.mean([len({w for w, _ in a} & {w for w, _ in b}) / 10 for a, b in zip(exact, approx)])
    assert recall >= 0.95, recall
    for w in words[:20]:
        assert small.similarity(w, words[0]) == pytest.approx(kv.similarity(w, words[0]), abs=0.01)
    assert [w for w, _ in small.most_similar(words[3], topn=3)] == [w for w, _ in small.neighbors([words[3]], 3)[0]]
    cos = small.most_similar(positive=[words[1], words[2]], negative=[words[3]], topn=None)
    assert cos.shape == (len(kv),) and np.all(np.abs(cos) <= 1 + 1e-5)
    cosmul = small.most_similar_cosmul(words[1], topn=5)
    assert len(cosmul) == 5 and words[1] not in [w for w, _ in cosmul]
    assert len({w for w, _ in cosmul} & {w for w, _ in kv.most_similar_cosmul(words[1], topn=5)}) >= 4
    limited = small.most_similar(words[1], restrict_vocab=100, topn=5)
    assert len(limited) == 5 and all(small.index_of(w) < 100 for w, _ in limited)


def test_the_folder_round_trips_memory_mapped(tmp_path, kv):
    small = kv.compress("int8")
    small.save(tmp_path / "q")
    meta = json.loads((tmp_path / "q" / "meta.json").read_text())
    assert meta["encoding"] == "int8" and not (tmp_path / "q" / "vectors.npy").exists()
    back = KeyedVectors.load(tmp_path / "q")
    assert back.encoding == "int8" and isinstance(back.vectors.codes, np.memmap) and back.words == kv.words
    np.testing.assert_array_equal(np.asarray(back.vectors.codes), small.vectors.codes)
    np.testing.assert_array_equal(np.asarray(back.vectors.scales), small.vectors.scales)
    assert back.neighbors(kv.words[:5], 4) == small.neighbors(kv.words[:5], 4)
    top = KeyedVectors.load(tmp_path / "q", limit=100)
    assert len(top) == 100 and top.encoding == "int8" and top.words == kv.words[:100]
    back.save_word2vec_format(tmp_path / "q.txt")          # decoded
    np.testing.assert_array_equal(KeyedVectors.load(tmp_path / "q.txt").vectors, np.asarray(small.vectors))
    back.add_vectors(["new"], np.ones((1, kv.dim), np.float32))   # edits decode to float32
    assert back.encoding == "float32" and len(back) == len(kv) + 1 and back.most_similar("new", topn=1)


@pytest.mark.parametrize("edit,message", [
    (lambda f: np.save(f / "codes.npy", np.zeros((5, 3), np.int8)), "int8 codes"),
    (lambda f: np.save(f / "codes.npy", np.load(f / "codes.npy").astype(np.int16)), "int8 codes"),
    (lambda f: np.save(f / "scales.npy", -np.load(f / "scales.npy")), "impossible int8 rows"),
    (lambda f: np.save(f / "scales.npy", np.full_like(np.load(f / "scales.npy"), np.nan)), "impossible int8 rows"),
    (lambda f: np.save(f / "codes.npy", np.full_like(np.load(f / "codes.npy"), -128)), "impossible int8 rows"),
    (lambda f: (f / "scales.npy").unlink(), "scales.npy is missing"),
    (lambda f: np.save(f / "offset.npy", np.zeros(3, np.float32)), "offset of 100"),
    (lambda f: np.save(f / "offset.npy", np.full(100, np.inf, np.float32)), "offset not finite"),
    (lambda f: (f / "meta.json").write_text((f / "meta.json").read_text().replace('"int8"', '"zz"')), "encoding 'zz'"),
])
def test_damaged_folders_are_refused(tmp_path, kv, edit, message):
    kv.compress("int8").save(tmp_path / "q")
    edit(tmp_path / "q")
    with pytest.raises(ModelFormatError, match=message):
        KeyedVectors.load(tmp_path / "q")


def test_cli_compress_then_query(tmp_path, kv):
    kv.save_word2vec_format(tmp_path / "v.txt")
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q", "embed"]
    subprocess.run(lmkit + ["compress", str(tmp_path / "v.txt"), "-o", str(tmp_path / "q"), "--int8"], check=True)
    out = subprocess.run(lmkit + ["neighbors", str(tmp_path / "q"), "w1", "-k", "3"], capture_output=True,
                         text=True, check=True).stdout
    want = KeyedVectors.load(tmp_path / "q").most_similar("w1", topn=3)
    assert out == "w1\t" + " ".join(f"{w}:{s:.4f}" for w, s in want) + "\n"
    bad = subprocess.run(lmkit + ["compress", str(tmp_path / "v.txt"), "-o", str(tmp_path / "z")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--int8" in bad.stderr and "Traceback" not in bad.stderr


def test_kmeans_codebooks_find_known_clusters():
    """Rows drawn near 32 points per sub-space (all of one length, so that scaling rows to unit
    length keeps them 32 points): every point gets centroids of its own, so every row decodes
    to (almost exactly) its point, and rows of different points never share a code."""
    from lmkit.embed.compress import PQRows
    rng = np.random.default_rng(4)
    points = rng.normal(size=(32, 8))
    points *= 10 / np.linalg.norm(points, axis=1, keepdims=True)   # every row then has one length
    pick = rng.integers(0, 32, (4000, 2))
    x = np.concatenate([points[pick[:, 0]], points[pick[:, 1]]], axis=1) + 0.001 * rng.normal(size=(4000, 16))
    x = x.astype(np.float32)
    pq = PQRows.encode(x, 2)
    assert pq.codes.shape == (4000, 2) and pq.codes.dtype == np.uint8 and pq.codebooks.shape == (2, 256, 8)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert np.abs(np.asarray(pq) - unit).max() < 0.01
    for j in range(2):
        owners = {}
        for code, point in zip(pq.codes[:, j].tolist(), pick[:, j].tolist()):
            assert owners.setdefault(code, point) == point


def test_pq_distance_tables_equal_decoded_rows(kv):
    small = kv.compress("pq", m=20, seed=1)
    assert small.encoding == "pq" and small.vectors.codes.shape == (len(kv), 20)
    q = np.random.default_rng(5).normal(size=kv.dim).astype(np.float32)
    inv = (1.0 / small.norms).astype(np.float32)
    want = (np.asarray(small.vectors, dtype=np.float64) @ q) * inv
    np.testing.assert_allclose(small.vectors.scores(q, inv, len(kv)), want, rtol=1e-4, atol=1e-4)
    exact = kv.neighbors(kv.words[:300], k=10)
    approx = [small.similar_by_vector(kv.get_vector(w), topn=11) for w in kv.words[:300]]
    got = [[x for x, _ in row if x != w][:10] for row, w in zip(approx, kv.words[:300])]
    recall = np.mean([len({x for x, _ in a} & set(b)) / 10 for a, b in zip(exact, got)])
    assert recall > 0.5, recall                 # 20 bytes for 100 floats; recall measured in the benchmark
    with pytest.raises(ConfigError, match="divide the dimension"):
        kv.compress("pq", m=7)
    with pytest.raises(ConfigError, match="already compressed"):
        small.compress("int8")


def test_pq_folder_round_trips_and_is_checked(tmp_path, kv):
    small = kv.compress("pq", m=10)
    small.save(tmp_path / "pq")
    back = KeyedVectors.load(tmp_path / "pq")
    assert back.encoding == "pq" and isinstance(back.vectors.codes, np.memmap)
    assert back.neighbors(kv.words[:5], 4) == small.neighbors(kv.words[:5], 4)
    assert len(KeyedVectors.load(tmp_path / "pq", limit=50)) == 50
    np.save(tmp_path / "pq" / "codebooks.npy", np.full((10, 256, 10), np.nan, np.float32))
    with pytest.raises(ModelFormatError, match="not finite"):
        KeyedVectors.load(tmp_path / "pq")
    np.save(tmp_path / "pq" / "codebooks.npy", np.zeros((10, 255, 10), np.float32))
    with pytest.raises(ModelFormatError, match="PQ files hold"):
        KeyedVectors.load(tmp_path / "pq")


def test_cli_compress_pq(tmp_path, kv):
    kv.save_word2vec_format(tmp_path / "v.txt")
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q", "embed"]
    subprocess.run(lmkit + ["compress", str(tmp_path / "v.txt"), "-o", str(tmp_path / "pq"), "--pq", "20"], check=True)
    assert KeyedVectors.load(tmp_path / "pq").encoding == "pq"
    bad = subprocess.run(lmkit + ["compress", str(tmp_path / "v.txt"), "-o", str(tmp_path / "z"), "--pq", "7"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "divide the dimension 100" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("refine", ["int8", "float32"])
def test_rerank_scores_the_best_candidates_on_the_kept_rows(kv, refine):
    """PQ codes pick R candidates, the kept rows score them: float32 kept rows give the exact
    cosines, and recall climbs from the codes' to (nearly) the kept rows'."""
    plain = kv.compress("pq", m=10, seed=1)
    small = kv.compress("pq", m=10, seed=1, rerank=100, refine=refine)
    assert np.array_equal(small.vectors.codes, plain.vectors.codes)
    decoded = small.vectors.decode(slice(None))
    np.testing.assert_allclose(small.vectors.code_inv_norms(), 1 / np.linalg.norm(decoded, axis=1), rtol=1e-5)
    q = kv.get_vector(kv.words[7])
    q = q / np.linalg.norm(q)
    scores = small._scores(q, None)
    assert np.isfinite(scores).sum() == 100                   # the rest are not candidates
    words = kv.words[:300]
    exact = kv.neighbors(words, k=10)

    def recall(model):
        got = [[x for x, _ in model.similar_by_vector(kv.get_vector(w), topn=11) if x != w][:10] for w in words]
        return np.mean([len({x for x, _ in a} & set(b)) / 10 for a, b in zip(exact, got)])
    r_plain, r_rerank = recall(plain), recall(small)
    assert r_rerank >= 0.98 and r_plain < 0.4, (r_plain, r_rerank)     # measured: 0.33 -> 0.986 / 0.998
    kept = kv if refine == "float32" else kv.compress("int8")      # the same int8 rows as kept beside the codes
    q = kv.get_vector(words[3])
    for w, s in small.similar_by_vector(q, topn=5):
        row = np.asarray(kept.vectors[kv.index_of(w)], dtype=np.float64)
        assert s == pytest.approx(row @ q / np.linalg.norm(row) / np.linalg.norm(q), abs=1e-5)
    assert small.similarity(words[1], words[2]) == pytest.approx(kv.similarity(words[1], words[2]), abs=0.01)
    with pytest.raises(ConfigError, match="go with product quantisation"):
        kv.compress("int8", rerank=5)
    with pytest.raises(ConfigError, match="refine must be"):
        kv.compress("pq", m=10, rerank=5, refine="int4")


@pytest.mark.parametrize("refine", ["int8", "float32"])
def test_rerank_folder_round_trips_and_is_checked(tmp_path, kv, refine):
    small = kv.compress("pq", m=10, rerank=40, refine=refine)
    small.save(tmp_path / "pq")
    back = KeyedVectors.load(tmp_path / "pq")
    assert back.vectors.rerank == 40 and back.neighbors(kv.words[:5], 4) == small.neighbors(kv.words[:5], 4)
    assert back.most_similar(kv.words[9], topn=5) == small.most_similar(kv.words[9], topn=5)
    assert KeyedVectors.load(tmp_path / "pq", limit=50).vectors.refine.shape == (50, kv.dim)
    meta = json.loads((tmp_path / "pq" / "meta.json").read_text())
    (tmp_path / "pq" / "meta.json").write_text(json.dumps(dict(meta, rerank=0)))
    with pytest.raises(ModelFormatError, match="rerank 0"):
        KeyedVectors.load(tmp_path / "pq")
    (tmp_path / "pq" / "meta.json").write_text(json.dumps(meta))
    kept = "refine_codes.npy" if refine == "int8" else "refine_vectors.npy"
    np.save(tmp_path / "pq" / kept, np.zeros((3, kv.dim), np.int8 if refine == "int8" else np.float32))
    with pytest.raises(ModelFormatError, match="refine"):
        KeyedVectors.load(tmp_path / "pq")


def test_cli_compress_pq_with_rerank(tmp_path, kv):
    kv.save_word2vec_format(tmp_path / "v.txt")
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q", "embed"]
    subprocess.run(lmkit + ["compress", str(tmp_path / "v.txt"), "-o", str(tmp_path / "pq"), "--pq", "20",
                            "--rerank", "50"], check=True)
    assert KeyedVectors.load(tmp_path / "pq").vectors.rerank == 50
    bad = subprocess.run(lmkit + ["compress", str(tmp_path / "v.txt"), "-o", str(tmp_path / "z"), "--int8",
                                  "--rerank", "5"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--rerank and --ivf go with --pq" in bad.stderr and "Traceback" not in bad.stderr


def test_ivf_scans_the_nearest_cells_on_residual_codes(kv):
    """IVF-PQ: each row coded as its residual from its cell's centroid; the kernel's scores
    equal cosines with the decoded rows in the probed cells and -inf elsewhere; all cells
    probed = every row scored; recall with re-ranking close to the kept rows'."""
    small = kv.compress("pq", m=10, seed=1, ivf=30, nprobe=3)
    pq = small.vectors
    assert pq.ivf.nlist == 30 and sorted(pq.ivf.lists.tolist()) == list(range(len(kv)))
    decoded = pq.decode(slice(None))
    q = kv.get_vector(kv.words[11])
    q = q / np.linalg.norm(q)
    scores = small._scores(q, None)
    probed = pq.ivf.probe(q - pq.offset, 3)
    inside = np.isin(pq.ivf.position_cells()[pq.ivf.row_positions()], probed)
    assert np.isfinite(scores).sum() == inside.sum() < len(kv) / 2
    want = decoded @ q / np.linalg.norm(decoded, axis=1)
    np.testing.assert_allclose(scores[inside], want[inside], rtol=1e-4, atol=1e-4)
    pq.nprobe = 30
    assert np.isfinite(small._scores(q, None)).all()
    limited = small._scores(q, 100)
    assert limited.shape == (100,) and np.isfinite(limited).all()
    words = kv.words[:300]
    exact = kv.neighbors(words, k=10)
    reranked = kv.compress("pq", m=10, seed=1, ivf=30, nprobe=6, rerank=100)
    got = reranked.neighbors(words, 10)
    recall = np.mean([len({x for x, _ in a} & {x for x, _ in b}) / 10 for a, b in zip(exact, got)])
    assert recall >= 0.95, recall
    assert [w for w, _ in got[4]] == [w for w, _ in reranked.most_similar(words[4], topn=10)]
    for model in (reranked, small):           # batches (queries in parallel) answer as one query at a time
        batch = model.neighbors(words[:40], 10)
        for w, row in zip(words[:40], batch):
            one = model.most_similar(w, topn=10)
            assert [x for x, _ in row] == [x for x, _ in one]
            np.testing.assert_allclose([v for _, v in row], [v for _, v in one], rtol=1e-5, atol=1e-6)
    full = reranked._top(reranked._scores(q, None), [], 10)        # the O(n) path gives the same words
    assert [w for w, _ in full] == [w for w, _ in reranked.similar_by_vector(q, topn=10)]
    with pytest.raises(ConfigError, match="between 1 and a quarter"):
        kv.compress("pq", m=10, ivf=len(kv))


def test_ivf_folder_round_trips_and_is_checked(tmp_path, kv):
    small = kv.compress("pq", m=10, ivf=20, nprobe=4, rerank=50)
    small.save(tmp_path / "ivf")
    back = KeyedVectors.load(tmp_path / "ivf")
    assert back.vectors.ivf.nlist == 20 and back.vectors.nprobe == 4
    assert back.neighbors(kv.words[:5], 4) == small.neighbors(kv.words[:5], 4)
    head = KeyedVectors.load(tmp_path / "ivf", limit=300)
    assert all(head.index_of(w) < 300 for row in head.neighbors(head.words[:20], 5) for w, _ in row)
    lists = np.load(tmp_path / "ivf" / "ivf_lists.npy")
    lists[0] = lists[1]                       # one row twice, another never
    np.save(tmp_path / "ivf" / "ivf_lists.npy", lists)
    with pytest.raises(ModelFormatError, match="impossible IVF index"):
        KeyedVectors.load(tmp_path / "ivf")
    np.save(tmp_path / "ivf" / "ivf_lists.npy", lists.astype(np.int32))
    with pytest.raises(ModelFormatError, match="IVF files hold"):
        KeyedVectors.load(tmp_path / "ivf")


def test_cli_ivf_compress_and_query_time_nprobe(tmp_path, kv):
    kv.save_word2vec_format(tmp_path / "v.txt")
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q", "embed"]
    subprocess.run(lmkit + ["compress", str(tmp_path / "v.txt"), "-o", str(tmp_path / "ivf"), "--pq", "20",
                            "--ivf", "16", "--nprobe", "2", "--rerank", "50"], check=True)
    assert KeyedVectors.load(tmp_path / "ivf").vectors.nprobe == 2
    out = subprocess.run(lmkit + ["neighbors", str(tmp_path / "ivf"), kv.words[0], "--nprobe", "16", "-k", "3"],
                         capture_output=True, text=True, check=True).stdout
    want = KeyedVectors.load(tmp_path / "ivf")
    want.vectors.nprobe = 16
    assert out.split("\t")[1].split()[0].split(":")[0] == want.most_similar(kv.words[0], topn=1)[0][0]
    bad = subprocess.run(lmkit + ["neighbors", str(tmp_path / "v.txt"), kv.words[0], "--nprobe", "4"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "has no IVF index" in bad.stderr and "Traceback" not in bad.stderr
