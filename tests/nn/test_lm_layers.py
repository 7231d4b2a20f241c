"""The language-model pieces of lmkit.nn: the plain RNN, state resets, and the output layers
(gradients against central differences in float64; probabilities that sum to one)."""
import numpy as np
import pytest

from lmkit.nn import GRU, LSTM, RNN, numerical_grad, relative_error
from lmkit.nn.outputs import ClassSoftmax, FullSoftmax, HierarchicalSoftmax, SampledSoftmax

F64 = np.float64
TOL = 1e-6


def _check_layer(layer, loss, analytic, inputs=()):
    """Every parameter's (and every listed input's) analytic gradient against the numerical one."""
    for name, p in layer.params.items():
        layer.zero_grad()
        analytic()
        grad = layer.grads[name].copy()
        idx, num = numerical_grad(loss, p, max_entries=40)
        assert relative_error(grad.reshape(-1)[idx], num) < TOL, name
    for i, x in enumerate(inputs):
        layer.zero_grad()
        dx = analytic()[i]
        idx, num = numerical_grad(loss, x, max_entries=40)
        assert relative_error(dx.reshape(-1)[idx], num) < TOL, f"input {i}"


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_recurrent_layers_with_resets_and_initial_state(kind, padded, reverse):
    rng = np.random.default_rng(3)
    layer = {"rnn": RNN, "gru": GRU, "lstm": LSTM}[kind](4, 3, rng, F64, reverse=reverse)
    x = rng.standard_normal((2, 6, 4))
    mask = np.ones((2, 6))
    if padded:
        mask[1, 4:] = 0.0
    resets = np.zeros((2, 6))
    resets[0, 2] = resets[1, 4] = 1.0
    h0 = rng.standard_normal((2, 3)) * 0.5
    R = rng.standard_normal((2, 6, 3))
    Rl = rng.standard_normal((2, 3))

    def loss():
        out, last, _ = layer.forward(x, mask, h0, resets)
        return float((out * R).sum() + (last * Rl).sum())

    def analytic():
        out, last, cache = layer.forward(x, mask, h0, resets)
        return layer.backward(R, Rl, cache)
    _check_layer(layer, loss, analytic, inputs=(x, h0))


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_a_reset_forgets_everything_before_it(kind):
    rng = np.random.default_rng(4)
    layer = {"rnn": RNN, "gru": GRU, "lstm": LSTM}[kind](4, 3, rng, F64)
    x = rng.standard_normal((1, 7, 4))
    resets = np.zeros((1, 7))
    resets[0, 3] = 1
    out, _, _ = layer.forward(x, np.ones((1, 7)), rng.standard_normal((1, 3)), resets)
    fresh, _, _ = layer.forward(x[:, 3:], np.ones((1, 4)))
    np.testing.assert_allclose(out[:, 3:], fresh, rtol=1e-12)


def test_lstm_carries_its_cell_state_across_calls():
    rng = np.random.default_rng(5)
    lstm = LSTM(4, 3, rng, F64)
    x = rng.standard_normal((2, 8, 4))
    ones = np.ones((2, 8))
    whole, _, _ = lstm.forward(x, ones)
    a, h, cache = lstm.forward(x[:, :5], ones[:, :5])
    b, _, _ = lstm.forward(x[:, 5:], ones[:, 5:], h, c0=LSTM.final_cell(cache))
    np.testing.assert_allclose(np.concatenate([a, b], axis=1), whole, rtol=1e-12)


def _outputs(rng, V=11, H=5):
    counts = np.array([0, 0, 50, 30, 20, 12, 9, 7, 5, 3, 1])[:V]
    predictable = np.ones(V, bool)
    predictable[1] = False            # <s> is never predicted
    return {
        "full": FullSoftmax(H, predictable, rng, F64),
        "class": ClassSoftmax(H, predictable, counts, 3, rng, F64),
        "hs": HierarchicalSoftmax(H, predictable, counts, rng, F64),
        "sampled": SampledSoftmax(H, predictable, counts, rng, F64, samples=6),
        "nce": SampledSoftmax(H, predictable, counts, rng, F64, samples=6, objective="nce"),
    }, predictable


@pytest.mark.parametrize("kind", ["full", "class", "hs", "sampled", "nce"])
def test_output_layer_gradients(kind):
    rng = np.random.default_rng(6)
    layers, _ = _outputs(rng)
    out = layers[kind]
    for name in out.params:
        out.params[name] += rng.standard_normal(out.params[name].shape) * 0.3   # hs starts with zero biases
    h = rng.standard_normal((7, 5))
    targets = np.array([2, 3, 10, 0, 5, 2, 9])
    weights = rng.random(7)
    weights[3] = 0.0                  # a padded position

    def loss():   # the sampled objectives draw the same words each time from the same seed
        return out.loss(h, targets, weights, np.random.default_rng(9))[0]

    def analytic():
        return (out.loss(h, targets, weights, np.random.default_rng(9))[1],)
    _check_layer(out, loss, analytic, inputs=(h,))


@pytest.mark.parametrize("kind", ["full", "class", "hs", "sampled"])
def test_output_distributions_sum_to_one_and_agree_with_log_probs(kind):
    rng = np.random.default_rng(7)
    layers, predictable = _outputs(rng)
    out = layers[kind]
    h = rng.standard_normal((4, 5))
    dist = out.log_distribution(h)
    assert dist.shape == (4, 11)
    np.testing.assert_allclose(np.exp(dist).sum(axis=1), 1.0, rtol=1e-10)
    assert np.isneginf(dist[:, ~predictable]).all()
    targets = np.array([2, 10, 4, 0])
    np.testing.assert_allclose(out.log_probs(h, targets), dist[np.arange(4), targets], rtol=1e-10)
    # the training loss is the mean negative log probability
    loss, _ = out.loss(h, targets, np.full(4, 0.25), np.random.default_rng(0)) if kind != "sampled" else (None, None)
    if loss is not None:
        assert loss == pytest.approx(-out.log_probs(h, targets).mean(), rel=1e-10)


def test_class_bins_follow_frequency():
    rng = np.random.default_rng(8)
    V = 1000
    counts = np.zeros(V, np.int64)
    counts[4:] = (1e6 / np.arange(1, V - 3)).astype(np.int64)   # Zipf
    predictable = np.ones(V, bool)
    predictable[1] = False
    out = ClassSoftmax(8, predictable, counts, 32, rng, F64)
    assert 16 <= out.n_classes <= 32
    sizes = np.diff(out.class_start)
    assert sizes[0] < sizes[-1]                      # frequent words share small classes
    assert out.word_class[1] == -1 and (out.word_class[predictable] >= 0).all()
    # each class's words are one block, most frequent first
    assert np.all(np.diff(out.word_class[out.row_word]) >= 0)
