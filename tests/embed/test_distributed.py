"""word2vec on a Dask LocalCluster (2 worker processes): one replica is the single-process
trainer bit for bit; K replicas (more than the workers) average or add their changes."""
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")   # the 'dask' extra; CI installs it with 'test'

from lmkit.cli.main import main  # noqa: E402
from lmkit.embed import KeyedVectors, Word2Vec  # noqa: E402
from lmkit.embed.combine import apply_momentum, apply_sum, apply_average  # noqa: E402
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


@pytest.mark.parametrize("method", ["average", "sum", "momentum"])
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
    apply_average(w, ups)
    np.testing.assert_array_equal(w[0][0], [1, 1])            # one replica: its value
    np.testing.assert_allclose(w[0][1], [0.3, 0.4], rtol=1e-6)  # (0.1*1 + 0.5*1) / 2
    np.testing.assert_array_equal(w[0][2], [7, 7])
    np.testing.assert_array_equal(w[0][3], [0, 0])            # untouched
    s = (np.ones((3, 1), np.float32),)
    apply_sum(s, [[(np.array([0, 1]), np.array([[2], [3]], np.float32), np.array([1, 1]))],
                   [(np.array([1]), np.array([[0]], np.float32), np.array([1]))]])
    np.testing.assert_array_equal(s[0][:, 0], [2, 2, 1])      # 1 + (3-1) + (0-1)


def test_momentum_gives_lone_rows_their_value_and_shared_rows_the_sum_in_the_steady_state():
    w = (np.zeros((3, 1), np.float32),)
    state: dict = {}
    # row 0: both replicas move it by +1 every round (as if the gradient stayed the same);
    # row 1: only replica 0 touches it, once; row 2: nobody
    for k in range(60):
        x0, x1 = float(w[0][0, 0]), float(w[0][1, 0])
        ups = [[(np.array([0, 1]) if k == 0 else np.array([0]),
                 np.array([[x0 + 1], [x1 + 5]] if k == 0 else [[x0 + 1]], np.float32),
                 np.array([1, 1]) if k == 0 else np.array([1]))],
               [(np.array([0]), np.array([[x0 + 1]], np.float32), np.array([1]))]]
        before = float(w[0][0, 0])
        apply_momentum(w, ups, state)
        if k == 0:
            assert w[0][1, 0] == 5.0            # one replica's row: exactly its value
            assert w[0][0, 0] == 1.0            # first round: the mean change, no momentum yet
    step = float(w[0][0, 0]) - before
    assert abs(step - 2.0) < 1e-3               # steady state: the two replicas' changes added
    assert w[0][1, 0] == 5.0 and w[0][2, 0] == 0.0


def test_momentum_converges_where_sum_overshoots():
    # four replicas that each drive the row to the same optimum 1.0 from wherever it is
    for combine, ok in [(apply_momentum, True), (apply_sum, False)]:
        w = (np.zeros((1, 1), np.float32),)
        state: dict = {}
        for _ in range(200):
            ups = [[(np.array([0]), np.array([[1.0]], np.float32), np.array([1]))] for _ in range(4)]
            combine(w, ups, state)
            if not np.isfinite(w[0]).all() or abs(w[0][0, 0]) > 1e6:
                break
        assert (abs(float(w[0][0, 0]) - 1.0) < 1e-3) is ok


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
    # one replica: the same training as one synchronous replica, up to the rounding of
    # adding its change to the server's copy (measured: 1.8e-7 at most, a third of the values)
    np.testing.assert_allclose(alone.syn0, one.syn0, rtol=0, atol=2e-6)


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
