"""Every backward pass against central finite differences in float64 (relative error < 1e-6)."""
import numpy as np
import pytest

from lmkit.nn import (
    GRU,
    AdditiveAttention,
    Embedding,
    Linear,
    numerical_grad,
    relative_error,
    softmax_cross_entropy,
)

F64 = np.float64
TOL = 1e-6


def check_params(layer, loss_fn, analytic_fn):
    """Compare every parameter's analytic gradient with the numerical one."""
    for name, p in layer.params.items():
        layer.zero_grad()
        analytic_fn()
        grad = layer.grads[name].copy()
        idx, num = numerical_grad(loss_fn, p, max_entries=40)
        assert relative_error(grad.reshape(-1)[idx], num) < TOL, name


def test_linear():
    rng = np.random.default_rng(0)
    lin = Linear(5, 4, rng, F64)
    x = rng.standard_normal((3, 2, 5))
    R = rng.standard_normal((3, 2, 4))
    loss = lambda: float((lin.forward(x)[0] * R).sum())

    def analytic():
        y, c = lin.forward(x)
        return lin.backward(R, c)
    check_params(lin, loss, analytic)
    lin.zero_grad()
    dx = analytic()
    idx, num = numerical_grad(loss, x)
    assert relative_error(dx.reshape(-1)[idx], num) < TOL


def test_embedding_with_repeated_ids():
    rng = np.random.default_rng(1)
    emb = Embedding(6, 3, rng, F64, padding_idx=0)
    ids = np.array([[1, 2, 2], [5, 1, 0]])
    R = rng.standard_normal((2, 3, 3))
    loss = lambda: float((emb.forward(ids)[0] * R).sum())
    emb.zero_grad()
    emb.backward(R, ids)
    idx, num = numerical_grad(loss, emb.params["W"])
    num = num.reshape(6, 3)
    num[0] = 0  # the padding row is never trained
    assert relative_error(emb.grads["W"], num) < TOL


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("reverse", [False, True])
def test_recurrent_layers_with_padding(reverse, cell):
    from lmkit.nn import LSTM
    rng = np.random.default_rng(2)
    gru = (GRU if cell == "gru" else LSTM)(4, 3, rng, F64, reverse=reverse)
    x = rng.standard_normal((2, 5, 4))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], F64)
    h0 = rng.standard_normal((2, 3)) * 0.5
    R = rng.standard_normal((2, 5, 3))
    Rl = rng.standard_normal((2, 3))

    def loss():
        out, last, _ = gru.forward(x, mask, h0)
        return float((out * R).sum() + (last * Rl).sum())

    def analytic():
        out, last, cache = gru.forward(x, mask, h0)
        return gru.backward(R, Rl, cache)
    check_params(gru, loss, analytic)
    gru.zero_grad()
    dx, dh0 = analytic()
    for arr, grad in ((x, dx), (h0, dh0)):
        idx, num = numerical_grad(loss, arr)
        assert relative_error(grad.reshape(-1)[idx], num) < TOL
    # padded steps leave the state alone
    out, last, _ = gru.forward(x, mask, h0)
    if not reverse:
        np.testing.assert_array_equal(out[1, 3], out[1, 2])
        np.testing.assert_array_equal(last[1], out[1, 2])


@pytest.mark.parametrize("kind", ["additive", "general", "dot", "dot-folded"])
def test_attention_with_mask(kind):
    from lmkit.nn import BilinearAttention
    rng = np.random.default_rng(3)
    if kind == "additive":
        att = AdditiveAttention(value_dim=4, query_dim=3, attn_dim=5, rng=rng, dtype=F64)
    else:
        query_dim = {"general": 3, "dot": 4, "dot-folded": 2}[kind]
        att = BilinearAttention(value_dim=4, query_dim=query_dim, rng=rng, dtype=F64, project=kind == "general")
    values = rng.standard_normal((2, 4, 4))
    query = rng.standard_normal((2, {"additive": 3, "general": 3, "dot": 4, "dot-folded": 2}[kind]))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], F64)
    Rc = rng.standard_normal((2, 4))
    Ra = rng.standard_normal((2, 4))

    def loss():
        ctx, a, _ = att.step(query, att.keys(values), values, mask)
        return float((ctx * Rc).sum() + (a * Ra).sum())

    def analytic():
        keys = att.keys(values)
        ctx, a, cache = att.step(query, keys, values, mask)
        dq, dkeys, dvalues = att.step_backward(Rc, Ra, cache, values)
        dvalues = dvalues + att.keys_backward(dkeys, values)
        return dq, dvalues
    check_params(att, loss, analytic)
    att.zero_grad()
    dq, dv = analytic()
    for arr, grad in ((query, dq), (values, dv)):
        idx, num = numerical_grad(loss, arr)
        assert relative_error(grad.reshape(-1)[idx], num) < TOL
    ctx, a, _ = att.step(query, att.keys(values), values, mask)
    assert np.allclose(a.sum(axis=1), 1) and (a[1, 2:] == 0).all()


def test_softmax_cross_entropy():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((5, 7))
    targets = np.array([1, 0, 6, 3, 3])
    mask = np.array([1, 1, 1, 0, 1], F64)
    loss, d = softmax_cross_entropy(logits, targets, mask)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = -np.log(p[np.arange(5), targets])[mask > 0].mean()
    assert loss == pytest.approx(expected, rel=1e-12)
    idx, num = numerical_grad(lambda: softmax_cross_entropy(logits, targets, mask)[0], logits)
    assert relative_error(d.reshape(-1)[idx], num) < TOL


def test_adam_kernel_equals_the_formula():
    from lmkit.nn import Adam
    rng = np.random.default_rng(5)
    p = rng.standard_normal((4, 3))
    p_ref = p.copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    opt = Adam(lr=0.01)
    for t in range(1, 4):
        g = rng.standard_normal((4, 3))
        opt.step([("p", p, g)])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p_ref -= 0.01 / (1 - 0.9 ** t) * m / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(p, p_ref, rtol=1e-12)


def test_sgd_momentum_and_adagrad_follow_their_formulas():
    from lmkit.nn import SGD, Adagrad
    rng = np.random.default_rng(6)
    p_sgd, p_ada = rng.standard_normal(5), rng.standard_normal(5)
    ref_sgd, ref_ada = p_sgd.copy(), p_ada.copy()
    buf, acc = np.zeros(5), np.zeros(5)
    sgd, ada = SGD(lr=0.1, momentum=0.9), Adagrad(lr=0.5)
    for _ in range(4):
        g1, g2 = rng.standard_normal(5), rng.standard_normal(5)
        sgd.step([("p", p_sgd, g1)])
        ada.step([("p", p_ada, g2)])
        buf = 0.9 * buf + g1
        ref_sgd -= 0.1 * buf
        acc += g2 * g2
        ref_ada -= 0.5 * g2 / (np.sqrt(acc) + 1e-10)
    np.testing.assert_allclose(p_sgd, ref_sgd, rtol=1e-12)
    np.testing.assert_allclose(p_ada, ref_ada, rtol=1e-12)


def test_dropout_gradient_and_scale():
    from lmkit.nn import Dropout
    rng = np.random.default_rng(7)
    x = rng.standard_normal((50, 40))
    drop = Dropout(0.3)
    y, keep = drop.forward(x, np.random.default_rng(1), training=True)
    assert abs((keep > 0).mean() - 0.7) < 0.03 and np.allclose(keep[keep > 0], 1 / 0.7)
    R = rng.standard_normal(x.shape)
    loss = lambda: float((x * keep * R).sum())
    idx, num = numerical_grad(loss, x, max_entries=40)
    assert relative_error(Dropout.backward(R, keep).reshape(-1)[idx], num) < TOL
    y_eval, k_eval = drop.forward(x, None, training=False)
    assert y_eval is x and k_eval is None


def test_global_norm_clipping():
    from lmkit.nn import clip_by_global_norm
    g1, g2 = np.full(4, 3.0), np.full(9, 4.0 / 3.0)   # norms 6 and 4: joint sqrt(52)
    norm = clip_by_global_norm([g1, g2], 1.0)
    assert norm == pytest.approx(np.sqrt(52))
    assert np.sqrt((g1 ** 2).sum() + (g2 ** 2).sum()) == pytest.approx(1.0, rel=1e-5)
