"""word2vec on a Dask LocalCluster (2 worker processes): one replica is the single-process
trainer bit for bit; K replicas (more than the workers) average or add their changes."""
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")   # the 'dask' extra; CI installs it with 'test'

from lmkit.cli.main import main  # noqa: E402
from lmkit.embed import KeyedVectors, Word2Vec  # noqa: E402
from lmkit.embed.combine import (  # noqa: E402
    apply_average,
    apply_scaled,
    apply_sum,
    fold,
    sequential_gain,
    touch_rates,
)


def combined(combine, weights, replicas, state=None, weighted=False, workers=None):
    """``combine`` over replicas' (rows, values, weights) per matrix, folded per worker
    (``workers``: replica indices per worker; default one worker per replica)."""
    workers = workers or [[r] for r in range(len(replicas))]
    updates = [tuple(fold(weights[m], [replicas[r][m] for r in group], weighted) for m in range(len(weights)))
               for group in workers]
    combine(weights, updates, state or {})
from lmkit.errors import ConfigError  # noqa: E402
from lmkit.text import Corpus, Tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOK = Tokenizer("whitespace", lowercase=True)


@pytest.fixture
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    path = tmp_path_factory.mktemp("w2v") / "ts.txt"
    path.write_bytes((ROOT / "data" / "tinyshakespeare.txt").read_bytes()[:200_000])
    return path


@pytest.mark.parametrize("kind", [dict(sg=True, negative=5), dict(sg=False, hs=True, negative=0)])
def test_one_replica_is_the_single_process_trainer_bit_for_bit(client, text, kind):
    kw = dict(dim=16, epochs=2, workers=1, seed=5, min_count=2, batch_words=3000, **kind)
    one = Word2Vec(**kw).train(Corpus(text, TOK, quiet=True), quiet=True)
    many = Word2Vec(**kw).train(Corpus(text, TOK, quiet=True), client=client, replicas=1, sync_words=3000,
                                partitions=3, quiet=True)
    assert one.vocab.itos == many.vocab.itos
    for a, b in [(one.syn0, many.syn0), (one.syn1, many.syn1), (one.syn1neg, many.syn1neg)]:
        np.testing.assert_array_equal(a, b)
    assert [h.words for h in one.history] == [h.words for h in many.history]


@pytest.mark.parametrize("method", ["average", "sum", "scaled"])
def test_more_replicas_than_workers_train_deterministically(client, text, method):
    kw = dict(dim=16, epochs=2, workers=1, seed=5, min_count=2)
    runs = [Word2Vec(**kw).train(Corpus(text, TOK, quiet=True), client=client, replicas=3, sync_words=9000,
                                 sync_method=method, quiet=True) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].syn0, runs[1].syn0)
    losses = [h.loss for h in runs[0].history]
    assert all(np.isfinite(losses)) and losses[1] < losses[0]
    assert runs[0].history[0].words == sum(len(s) for s in Corpus(text, TOK, quiet=True))


def test_average_weights_rows_by_use_and_keeps_lone_rows_exact():
    w = (np.zeros((4, 2), np.float32),)
    ups = [[(np.array([0, 1]), np.array([[1, 1], [0.1, 0.2]], np.float32), np.array([3, 1]))],
           [(np.array([1, 2]), np.array([[0.5, 0.6], [7, 7]], np.float32), np.array([1, 2]))]]
    combined(apply_average, w, ups, weighted=True)
    np.testing.assert_array_equal(w[0][0], [1, 1])            # one replica: its value
    np.testing.assert_allclose(w[0][1], [0.3, 0.4], rtol=1e-6)  # (0.1*1 + 0.5*1) / 2
    np.testing.assert_array_equal(w[0][2], [7, 7])
    np.testing.assert_array_equal(w[0][3], [0, 0])            # untouched
    s = (np.ones((3, 1), np.float32),)
    combined(apply_sum, s, [[(np.array([0, 1]), np.array([[2], [3]], np.float32), np.array([1, 1]))],
                   [(np.array([1]), np.array([[0]], np.float32), np.array([1]))]])
    np.testing.assert_array_equal(s[0][:, 0], [2, 2, 1])      # 1 + (3-1) + (0-1)


def test_folding_on_the_workers_gives_the_client_the_same_result():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(50, 4)).astype(np.float32)
    replicas = []
    for _ in range(6):
        rows = np.sort(rng.choice(50, 20, replace=False))
        replicas.append([(rows, (base[rows] + rng.normal(size=(20, 4))).astype(np.float32),
                          rng.integers(1, 5, 20))])
    state = {"touches": (rng.uniform(0, 100, 50),), "rho": 0.01}
    for combine, weighted in [(apply_average, True), (apply_sum, False), (apply_scaled, False)]:
        apart, together = (base.copy(),), (base.copy(),)
        combined(combine, apart, replicas, state, weighted)
        combined(combine, together, replicas, state, weighted, workers=[[0, 1, 2], [3, 4, 5]])
        np.testing.assert_allclose(apart[0], together[0], rtol=1e-5, atol=1e-5)
    # average by hand: row 7's weighted mean of the replicas' values
    mean = (base.copy(),)
    combined(apply_average, mean, replicas, weighted=True, workers=[[0, 1, 2, 3, 4, 5]])
    vals = [(v[list(r).index(7)], w[list(r).index(7)]) for (r, v, w), in replicas if 7 in r]
    assert len(vals) > 1
    expect = sum(wt * v for v, wt in vals) / sum(wt for _, wt in vals)
    np.testing.assert_allclose(mean[0][7], expect, rtol=1e-5)


def test_sequential_gain_makes_summed_replicas_land_where_sequential_touches_do():
    # a row that contracts towards its optimum e by rho per touch: n replicas of T touches each
    # from x0, their changes summed and scaled, land where n*T touches in sequence do
    rho, x0, e = 0.01, 0.0, 1.0
    for T in [1, 5, 50, 500]:
        for n in [1, 2, 4, 100]:
            one_change = (e - x0) * (1 - (1 - rho) ** T)
            scale = sequential_gain(np.array([float(T)]), np.array([n]), rho)[0]
            sequential = e + (x0 - e) * (1 - rho) ** (n * T)
            assert abs(x0 + n * one_change * scale - sequential) < 1e-12
    g = sequential_gain(np.array([0.01, 1.0, 1e4]), np.array([4, 4, 4]), 0.005)
    assert abs(g[0] - 1) < 1e-3 and abs(g[2] - 0.25) < 1e-9 and g[0] > g[1] > g[2]


def test_scaled_converges_where_sum_overshoots_and_adds_small_changes():
    # four replicas that each drive the row to the same optimum 1.0 (many touches each)
    results = {}
    for name, combine in [("scaled", apply_scaled), ("sum", apply_sum)]:
        w = (np.zeros((2, 1), np.float32),)
        state = {"touches": (np.array([1e5, 1.0]),), "rho": 0.01}
        for _ in range(50):
            ups = [[(np.array([0]), np.array([[1.0]], np.float32), np.array([1]))] for _ in range(4)]
            combined(combine, w, ups, state)
            if abs(w[0][0, 0]) > 1e6:
                break
        results[name] = float(w[0][0, 0])
    assert abs(results["scaled"] - 1.0) < 1e-6 and abs(results["sum"] - 1.0) > 1
    # a row touched once by each of two replicas: their small changes add up (scale ~1)
    w = (np.zeros((2, 1), np.float32),)
    combined(apply_scaled, w, [[(np.array([1]), np.array([[0.01]], np.float32), np.array([1]))]] * 2,
             {"touches": (np.array([1e5, 1.0]),), "rho": 0.01})
    assert abs(w[0][1, 0] - 0.02) < 1e-4
    # a row one replica changed: exactly its value
    combined(apply_scaled, w, [[(np.array([0]), np.array([[0.3]], np.float32), np.array([1]))]],
             {"touches": (np.array([1e5, 1.0]),), "rho": 0.01})
    assert w[0][0, 0] == np.float32(0.3)


def test_touch_rates_follow_the_counts_and_the_huffman_paths():
    counts = np.array([0, 6, 3, 1])
    keep = np.ones(4)
    points = np.array([[0, 0], [0, 0], [0, 1], [0, 1]], np.int32)
    lens = np.array([0, 1, 2, 2], np.int32)
    s0, s1, sneg = touch_rates(counts, keep, points, lens, 2, window=4, negative=5, cbow=False, n_words=10)
    np.testing.assert_allclose(s0, [0, 3.0, 1.5, 0.5])            # kept share x (window + 1)
    np.testing.assert_allclose(sneg, s0)                           # skip-gram: one prediction per use
    np.testing.assert_allclose(s1, [5.0, 2.0])                     # root: every prediction; node 1: words 2, 3
    _, _, cb = touch_rates(counts, keep, points, lens, 2, window=4, negative=5, cbow=True, n_words=10)
    np.testing.assert_allclose(cb, [0, 0.6, 0.3, 0.1])             # CBOW: one prediction per word


def test_downpour_replicas_train_against_a_parameter_server_actor(client, text):
    kw = dict(dim=16, epochs=2, workers=1, seed=5, min_count=2)
    corpus = Corpus(text, TOK, quiet=True)
    model = Word2Vec(**kw).train(corpus, client=client, replicas=2, sync_words=6000, sync_method="downpour",
                                 quiet=True)
    losses = [h.loss for h in model.history]
    assert np.isfinite(model.syn0).all() and losses[1] < losses[0]
    assert model.history[0].words == sum(len(s) for s in corpus)
    # each replica exchanged once per chunk of 3000 words, pushing and pulling rows
    assert model.sync_traffic["exchanges"] >= 2 * 2 * (model.history[0].words // 2 // 3000)
    assert model.sync_traffic["bytes_pushed"] > 0 and model.sync_traffic["bytes_pulled"] > 0
    one = Word2Vec(**kw).train(corpus, client=client, replicas=1, sync_words=3000, sync_method="average",
                               quiet=True)
    alone = Word2Vec(**kw).train(corpus, client=client, replicas=1, sync_words=3000, sync_method="downpour",
                                 quiet=True)
    # one replica: nobody else changes its rows, so each push sets them to its values: the
    # same training as one synchronous replica, bit for bit
    assert np.array_equal(alone.syn0, one.syn0) and np.array_equal(alone.syn1neg, one.syn1neg)


def test_parameter_server_pushes_add_up_to_the_scaled_combination():
    from lmkit.embed.combine import RHO_PER_ALPHA, sequential_gain
    from lmkit.embed.downpour import ParameterServer
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 3)).astype(np.float32)
    rates = (np.array([0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1]), np.zeros(0), np.zeros(0))
    empty = (np.zeros(0, np.int64), np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    alpha, words, n = 0.025, 1000, 4
    rows = np.arange(6)
    delta = rng.standard_normal((6, 3)).astype(np.float32)
    server = ParameterServer((base, np.zeros((0, 3)), np.zeros((0, 3))), rates)
    for _ in range(n):                 # n replicas pushing the same change from the same base
        server.exchange([(rows, base + delta, base), empty, empty], words, 0, alpha)
    gain = sequential_gain(rates[0] * words, np.full(6, n), RHO_PER_ALPHA * alpha)
    np.testing.assert_allclose(server.weights[0], base + n * gain[:, None] * delta, rtol=1e-5, atol=1e-6)
    # a row nobody else changed takes the pushed value exactly; the others' changes are kept
    # by (1 - rho)^T on top of it
    server = ParameterServer((base, np.zeros((0, 3)), np.zeros((0, 3))), rates)
    clock, _, fresh = server.exchange([(rows[:1], base[:1] + 1, base[:1]), empty, empty], words, 0, alpha)
    assert np.array_equal(server.weights[0][0], base[0] + 1) and fresh[0][0].tolist() == [0]
    server.exchange([(rows[4:5], base[4:5] + 2, base[4:5]), empty, empty], words, 0, alpha)
    server.exchange([(rows[4:5], base[4:5] - 1, base[4:5]), empty, empty], words, 0, alpha)
    keep = (1 - RHO_PER_ALPHA * alpha) ** (rates[0][4] * words)
    np.testing.assert_allclose(server.weights[0][4], base[4] - 1 + keep * 2, rtol=1e-6)
    assert [r.tolist() for r, _ in server.exchange([empty, empty, empty], 0, clock, alpha)[2]] == [[4], [], []]


def test_bad_settings_are_refused(client, text):
    with pytest.raises(ConfigError, match="as many workers"):
        Word2Vec(dim=8, min_count=2).train(Corpus(text, TOK, quiet=True), client=client, replicas=3,
                                           sync_method="downpour")
    with pytest.raises(ConfigError, match="method"):
        Word2Vec(dim=8, min_count=2).train(Corpus(text, TOK, quiet=True), client=client, sync_method="median")
    with pytest.raises(ConfigError, match="one machine"):
        Word2Vec(dim=8, min_count=2).train(Corpus(text, TOK, quiet=True), client=client, resume=True)


def test_cli_embed_train_on_a_cluster(text, tmp_path):
    out = tmp_path / "v.vec"
    assert main(["-q", "embed", "train", str(text), "-o", str(out), "--lowercase", "--tokenizer", "whitespace",
                 "--cluster", "local:2", "--replicas", "3", "--sync-words", "20000", "--min-count", "2",
                 "--dim", "12", "--epochs", "1"]) == 0
    kv = KeyedVectors.load(out)
    assert kv.vectors.shape[1] == 12 and "king" in kv.key_to_index
