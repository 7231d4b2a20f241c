"""The whole model's backward pass against finite differences (float64)."""
import numpy as np
import pytest

from lmkit.nn import numerical_grad, relative_error
from lmkit.translate.model import Seq2Seq, Seq2SeqConfig


@pytest.mark.parametrize("attention, encoder, layers", [("additive", "gru", 1), ("general", "gru", 1),
                                                        ("dot", "gru", 1), ("additive", "lstm", 1),
                                                        ("additive", "gru", 2), ("general", "lstm", 3)])
def test_whole_model_gradient(attention, encoder, layers):
    model = Seq2Seq(Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=4, hidden=3, attn=5, seed=0, attention=attention,
                                  encoder=encoder, layers=layers), dtype=np.float64)
    rng = np.random.default_rng(0)
    for _, p, _ in model.parameters():   # larger weights: gradients well away from zero
        p[...] = rng.uniform(-0.5, 0.5, p.shape)
    src = np.array([[4, 5, 6, 2], [7, 8, 2, 0]])
    src_mask = (src != 0).astype(np.float64)
    tgt_in = np.array([[1, 4, 5], [1, 6, 0]])
    tgt_out = np.array([[4, 5, 2], [6, 2, 0]])
    tgt_mask = (tgt_out != 0).astype(np.float64)
    loss = lambda: model.loss(src, src_mask, tgt_in, tgt_out, tgt_mask)
    model.zero_grad()
    model.loss(src, src_mask, tgt_in, tgt_out, tgt_mask, backward=True)
    for name, p, g in model.parameters():
        idx, num = numerical_grad(loss, p, eps=1e-5, max_entries=30)
        if name.endswith("emb.W"):   # the padding row is never trained
            rows = idx // p.shape[1]
            num = np.where(rows == 0, 0.0, num)
        err = relative_error(g.reshape(-1)[idx], num)
        assert err < 1e-6, (name, err)
