"""The kernels' updates against finite differences of the true objective (float64)."""
import numpy as np
import pytest

from lmkit.embed import _kernels as K
from lmkit.embed.tables import huffman_codes

SIG, LOGSIG = K.sigmoid_tables()
NO_HOT = (0, 0, 0, 0, 0)


def _logsig(x):
    return -np.logaddexp(0.0, -x)


def test_hierarchical_softmax_gradient():
    rng = np.random.default_rng(0)
    dim, V = 8, 6
    codes, points, lengths = huffman_codes(np.array([9, 7, 5, 3, 2, 1]))
    l1 = (rng.standard_normal(dim) * 0.3).astype(np.float32)
    syn1 = (rng.standard_normal((V - 1, dim)) * 0.3).astype(np.float32)
    word, alpha = 4, 1e-3

    def loss(v, out):
        total = 0.0
        for d in range(lengths[word]):
            f = float(v @ out[points[word, d]])
            total -= _logsig(f if codes[word, d] == 0 else -f)
        return total

    neu1e = np.zeros(dim, np.float32)
    out = syn1.copy()
    got_loss, _ = K._learn(l1, word, out, np.zeros((V, dim), np.float32), NO_HOT, neu1e, np.float32(alpha), True, 0,
                           points, codes, lengths, np.ones(V, np.float32), np.arange(V, dtype=np.int32),
                           SIG, LOGSIG, np.uint64(1))
    v64, s64 = l1.astype(np.float64), syn1.astype(np.float64)
    assert got_loss == pytest.approx(loss(v64, s64), rel=2e-2)
    eps = 1e-6
    num_l1 = np.array([(loss(v64 + eps * e, s64) - loss(v64 - eps * e, s64)) / (2 * eps) for e in np.eye(dim)])
    np.testing.assert_allclose(neu1e / -alpha, num_l1, rtol=3e-2, atol=3e-3)
    node = points[word, 0]
    num_out = []
    for i in range(dim):
        plus, minus = s64.copy(), s64.copy()
        plus[node, i] += eps
        minus[node, i] -= eps
        num_out.append((loss(v64, plus) - loss(v64, minus)) / (2 * eps))
    np.testing.assert_allclose((out[node] - syn1[node]) / -alpha, num_out, rtol=3e-2, atol=3e-3)


def test_negative_sampling_gradient():
    rng = np.random.default_rng(1)
    dim, V, negative = 8, 4, 3
    l1 = (rng.standard_normal(dim) * 0.3).astype(np.float32)
    syn1neg = (rng.standard_normal((V, dim)) * 0.3).astype(np.float32)
    word, noise, alpha = 1, 2, 1e-3
    # an alias table that always draws `noise`
    prob = np.zeros(V, np.float32)
    prob[noise] = 1.0
    alias = np.full(V, noise, np.int32)

    def loss(v, out):
        return -_logsig(v @ out[word]) - negative * _logsig(-(v @ out[noise]))

    neu1e = np.zeros(dim, np.float32)
    out = syn1neg.copy()
    dummy = np.zeros((1, 1), np.int32)
    got_loss, _ = K._learn(l1, word, np.zeros((1, dim), np.float32), out, NO_HOT, neu1e, np.float32(alpha), False,
                           negative, dummy, dummy.astype(np.uint8), np.zeros(V, np.int32), prob, alias,
                           SIG, LOGSIG, np.uint64(5))
    v64, s64 = l1.astype(np.float64), syn1neg.astype(np.float64)
    assert got_loss == pytest.approx(loss(v64, s64), rel=2e-2)
    eps = 1e-6
    num = np.array([(loss(v64 + eps * e, s64) - loss(v64 - eps * e, s64)) / (2 * eps) for e in np.eye(dim)])
    # the kernel updates the output vectors between negatives (as word2vec does); with a
    # small alpha that changes the l1 gradient only at O(alpha)
    np.testing.assert_allclose(neu1e / -alpha, num, rtol=3e-2, atol=3e-3)
    grad_pos = -(1 - 1 / (1 + np.exp(-(v64 @ s64[word])))) * v64
    np.testing.assert_allclose((out[word] - syn1neg[word]) / -alpha, grad_pos, rtol=3e-2, atol=3e-3)


def test_private_rows_take_the_updates_and_publishing_adds_every_threads_changes():
    """With several workers a thread reads and writes its private copy of the hot rows
    (spare rows at the end of the matrix): it gets exactly the updates the shared rows would
    get, and publishing adds each thread's changes, so no thread's work is lost."""
    rng = np.random.default_rng(3)
    dim, V = 8, 6
    codes, points, lengths = huffman_codes(np.array([9, 7, 5, 3, 2, 1]))
    l1 = (rng.standard_normal(dim) * 0.3).astype(np.float32)
    syn1 = (rng.standard_normal((V - 1, dim)) * 0.3).astype(np.float32)
    rest = (np.float32(0.05), True, 0, points, codes, lengths, np.ones(V, np.float32),
            np.arange(V, dtype=np.int32), SIG, LOGSIG, np.uint64(1))
    unused = np.zeros((V, dim), np.float32)
    shared, e_shared = syn1.copy(), np.zeros(dim, np.float32)
    loss_shared, _ = K._learn(l1, 4, shared, unused, NO_HOT, e_shared, *rest)
    # rows 2..4 held privately in spare rows 5..7 (layout of train_job with one thread)
    first, n_hot, n = 2, 3, V - 1
    assert set(points[4, :lengths[4]]) == {4, 2, 1, 0}   # the path crosses private and shared rows
    ext = np.concatenate([syn1, syn1[first:first + n_hot]])
    e_private = np.zeros(dim, np.float32)
    loss_private, _ = K._learn(l1, 4, ext, unused, (n_hot, first, n, 1, V), e_private, *rest)
    assert loss_private == loss_shared
    np.testing.assert_array_equal(e_private, e_shared)
    np.testing.assert_array_equal(ext[:first], shared[:first])      # shared rows updated in place
    np.testing.assert_array_equal(ext[first:n], syn1[first:])        # hot ones not yet ...
    np.testing.assert_array_equal(ext[n:], shared[first:])           # ... they changed in the copy
    # two threads with private copies of the same rows: publishing keeps both changes
    ext = np.concatenate([syn1, syn1[first:], syn1[first:]])         # thread a at 5.., b at 8..
    base_a, base_b = syn1[first:].copy(), syn1[first:].copy()
    ext[n:n + n_hot] += 1.0
    ext[n + n_hot] -= 0.25
    K._sync_rows(ext, first, n, base_a)
    K._sync_rows(ext, first, n + n_hot, base_b)
    expected = syn1[first:] + 1.0
    expected[0] -= 0.25
    np.testing.assert_allclose(ext[first:n], expected, rtol=1e-6)
    np.testing.assert_array_equal(ext[:first], syn1[:first])
    np.testing.assert_array_equal(ext[n + n_hot:], ext[first:n])     # the last to publish sees both
