"""Neural language models: gradients of the whole network, exact normalisation, carried state
against sentence-by-sentence scoring, the shared scoring calls, files, resume."""
import json
import shutil

import numpy as np
import pytest

from lmkit import LmkitError
from lmkit.lm import LanguageModel
from lmkit.neural import NetworkConfig, NeuralLM, TrainConfig, Trainer, train_model
from lmkit.neural.data import Stream, StreamBatches
from lmkit.neural.network import Network, stream_contexts
from lmkit.nn import numerical_grad, relative_error
from lmkit.text import BOS_ID, Vocabulary, encode_corpus

TEXT = ["the cat sat on the mat", "the dog sat", "a cat and a dog ran", "on the mat the cat slept",
        "a dog and the cat", "the mat"]
SENTS = [s.split() for s in TEXT]
VOCAB = Vocabulary.build(SENTS)
V = len(VOCAB)
ARCH_OUTPUTS = [(a, o) for a in ("lstm", "gru", "rnn", "ffnn") for o in ("full", "class", "hs")] + \
               [("lstm", "sampled"), ("lstm", "nce"), ("gru", "full-tied")]


def _network(arch, output, layers=1, dtype=np.float64, **kw):
    tied = output.endswith("-tied")
    cfg = NetworkConfig(vocab_size=V, arch=arch, layers=layers, emb=4, hidden=4, output=output.replace("-tied", ""),
                        tied=tied, classes=3, samples=5, order=3, seed=2, **kw)
    return Network(cfg, VOCAB.counts, (BOS_ID,), dtype)


def _stream_batch(net, B=2, T=6):
    enc = encode_corpus(SENTS, VOCAB)
    stream = Stream.from_encoded(enc.ids, enc.offsets)
    batches = StreamBatches(stream, B, T)
    pos = batches.positions(0)
    w = np.full(pos.shape, 1.0 / pos.size)
    if net.config.recurrent:
        return stream.inputs[pos], stream.targets[pos], w
    return stream_contexts(stream.inputs, stream.sentence_start, pos.reshape(-1), net.config.order), \
        stream.targets[pos].reshape(-1), w.reshape(-1)


@pytest.mark.parametrize("arch,output,layers", [(a, o, 1) for a, o in ARCH_OUTPUTS] +
                         [(a, o, 2) for a, o in ARCH_OUTPUTS if a != "ffnn"])   # ffnn: one hidden layer
def test_whole_network_gradients(arch, output, layers):
    net = _network(arch, output, layers)
    rng0 = np.random.default_rng(0)
    for _, p, _ in net.parameters():
        p += rng0.standard_normal(p.shape) * 0.2
    inputs, targets, w = _stream_batch(net)
    state = [s + 0.3 for s in net.initial_state(inputs.shape[0])]   # a carried state, not zeros

    def loss():
        return net.loss(inputs, targets, w, state, np.random.default_rng(5))[0]
    net.zero_grad()
    net.loss(inputs, targets, w, state, np.random.default_rng(5), backward=True)
    for name, p, g in net.parameters():
        idx, num = numerical_grad(loss, p, max_entries=25)
        assert relative_error(g.reshape(-1)[idx], num) < 1e-6, name


def test_dropout_gradients_with_a_fixed_mask():
    net = _network("lstm", "full", 2, dropout=0.3)
    rng0 = np.random.default_rng(1)
    for _, p, _ in net.parameters():
        p += rng0.standard_normal(p.shape) * 0.3
    inputs, targets, w = _stream_batch(net)
    state = net.initial_state(inputs.shape[0])

    def loss():
        return net.loss(inputs, targets, w, state, np.random.default_rng(3), training=True)[0]
    net.zero_grad()
    net.loss(inputs, targets, w, state, np.random.default_rng(3), training=True, backward=True)
    for name, p, g in net.parameters():
        idx, num = numerical_grad(loss, p, max_entries=20)
        assert relative_error(g.reshape(-1)[idx], num) < 1e-6, name


def _model(arch="lstm", output="full", **kw):
    return NeuralLM.create(VOCAB, arch=arch, output=output, emb=6, hidden=6, classes=3, samples=4, order=3, seed=3,
                           **kw)


@pytest.mark.parametrize("output", ["full", "class", "hs", "sampled", "nce"])
@pytest.mark.parametrize("arch", ["lstm", "ffnn"])
def test_every_output_sums_to_one_over_the_vocabulary(arch, output):
    m = _model(arch, output)
    for context in ([], ["the", "cat"], ["a", "zzz"]):
        total = sum(m.prob(w, context) for w in VOCAB.itos if w != "<s>")
        assert total == pytest.approx(1.0, abs=1e-6)   # float32 network; exact in float64 in tests/nn
        assert m.prob("<s>", context) == 0.0


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn", "ffnn"])
def test_carried_state_over_the_stream_equals_scoring_each_sentence(arch):
    """Training reads the corpus as one stream in pieces, carrying the state and resetting it
    at <s>; the per-token log probabilities must equal scoring each sentence from <s>."""
    m = _model(arch, "class")
    net = m.network
    enc = encode_corpus(SENTS, VOCAB)
    stream = Stream.from_encoded(enc.ids, enc.offsets)
    n = len(stream)
    got = []
    state = net.initial_state(1)
    for a in range(0, n, 4):                         # pieces of 4 steps, state carried
        pos = np.arange(a, min(a + 4, n))[None, :]
        if net.config.recurrent:
            top, state, _ = net._recurrent(stream.inputs[pos], state, False, None)
            top = top[0]
        else:
            top, _ = net._feedforward(stream_contexts(stream.inputs, stream.sentence_start, pos[0], 3), False, None)
        got.append(net.out.log_probs(top, stream.targets[pos[0]]))
    lp, _ = m.score_encoded(enc)
    np.testing.assert_allclose(np.concatenate(got) / np.log(10), lp, rtol=1e-5, atol=1e-6)


def test_the_scoring_calls_agree_with_each_other():
    m = _model("gru", "hs")
    assert isinstance(m, LanguageModel)
    s = "the cat sat on the zzz"
    full = list(m.full_scores(s))
    assert len(full) == 7 and full[5][2] and not full[0][2]         # zzz is an OOV, </s> scored
    assert [n for _, n, _ in full] == [2, 3, 4, 5, 6, 7, 8]
    assert m.score(s) == pytest.approx(sum(p for p, _, _ in full))
    assert m.score(s.split()) == pytest.approx(m.score(s))
    assert m.logprob("sat", ["the", "cat"]) == pytest.approx(full[2][0])
    assert m.logprob("sat", ["<s>", "the", "cat"]) == pytest.approx(full[2][0])
    assert m.logprob("</s>", s.split()) == pytest.approx(full[-1][0])
    assert m.score(s, eos=False) == pytest.approx(sum(p for p, _, _ in full[:-1]))
    ppl = m.perplexity(s)                              # a string is one sentence
    assert ppl.n_sentences == 1 and ppl.n_tokens == 7 and ppl.n_oov == 1
    assert ppl.logprob == pytest.approx(m.score(s))
    both = m.perplexity(TEXT)
    assert both.logprob == pytest.approx(sum(m.score(t) for t in TEXT))
    with pytest.raises(LmkitError, match="bos=False"):
        m.score(s, bos=False)
    ff = _model("ffnn", "full")
    assert [n for _, n, _ in ff.full_scores(s)] == [2, 3, 3, 3, 3, 3, 3]
    words = m.generate(12, seed=4)
    assert words == m.generate(12, seed=4) and len(words) <= 12 and "<s>" not in words
    assert ff.generate(5, seed=1, context=["the"]) == ff.generate(5, seed=1, context=["the"])


def test_save_and_load_round_trip(tmp_path):
    for arch, output in [("lstm", "class"), ("ffnn", "hs"), ("gru", "nce")]:
        m = _model(arch, output)
        m.save(tmp_path / arch)
        back = NeuralLM.load(tmp_path / arch)
        assert back.config == m.config
        for (n1, p1, _), (n2, p2, _) in zip(m.network.parameters(), back.network.parameters()):
            assert n1 == n2 and np.array_equal(p1, p2)
        assert back.score("the cat sat") == m.score("the cat sat")


def test_damaged_folders_are_refused_with_one_line(tmp_path):
    m = _model("lstm", "class")
    m.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "weights.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["rnn1.Wh"] = arrays["rnn1.Wh"][:, :3]
    with open(tmp_path / "m" / "weights.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(LmkitError, match=r"weights.npz: parameter rnn1.Wh has shape \(6, 3\)"):
        NeuralLM.load(tmp_path / "m")
    m.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["network"]["arch"] = "transformer"
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(LmkitError, match="arch must be one of"):
        NeuralLM.load(tmp_path / "m")
    with pytest.raises(LmkitError, match="config.json is missing"):
        NeuralLM.load(tmp_path)


def test_bad_settings_fail_when_the_model_is_built():
    with pytest.raises(LmkitError, match="tied embeddings need a full"):
        NeuralLM.create(VOCAB, output="class", tied=True, emb=4, hidden=4)
    with pytest.raises(LmkitError, match="--emb equal to --hidden"):
        NeuralLM.create(VOCAB, tied=True, emb=4, hidden=8)
    with pytest.raises(LmkitError, match="layers"):
        NeuralLM.create(VOCAB, layers=4)


def _corpus():
    return encode_corpus(SENTS * 4, VOCAB)


@pytest.mark.parametrize("arch,output", [("lstm", "full"), ("ffnn", "class")])
def test_resume_equals_an_uninterrupted_run(tmp_path, arch, output):
    cfg = dict(epochs=3, batch=3, bptt=4, checkpoint_every=2, seed=5)
    full = train_model(_model(arch, output, dropout=0.2), _corpus(), tmp_path / "full", TrainConfig(**cfg),
                       valid=encode_corpus(SENTS[:2], VOCAB), quiet=True)
    # stop in the middle of the second epoch (not at a checkpoint), then resume from the last one
    part = Trainer(_model(arch, output, dropout=0.2), tmp_path / "part", TrainConfig(max_steps=9, **cfg))
    part.train(_corpus(), encode_corpus(SENTS[:2], VOCAB), quiet=True)
    resumed = Trainer.resume(tmp_path / "part", overrides={"max_steps": None})
    assert resumed.state.step == 9
    st = resumed.train(_corpus(), encode_corpus(SENTS[:2], VOCAB), quiet=True)
    back = NeuralLM.load(tmp_path / "part")
    for (n, p1, _), (_, p2, _) in zip(full.network.parameters(), back.network.parameters()):
        np.testing.assert_array_equal(p1, p2, err_msg=n)
    hist_full = json.loads((tmp_path / "full" / "history.json").read_text())
    assert [h["valid_ppl"] for h in st.history if "valid_ppl" in h][-1] == hist_full[-1]["valid_ppl"]


def test_resume_from_a_checkpoint_taken_mid_epoch_carries_the_hidden_state(tmp_path):
    cfg = TrainConfig(epochs=1, batch=2, bptt=3, checkpoint_every=2, max_steps=4, seed=1)
    t = Trainer(_model("lstm", "full"), tmp_path / "r", cfg)
    t.train(_corpus(), quiet=True)
    ck = tmp_path / "r" / "checkpoints"
    assert (ck / "latest").read_text().strip() == "step-00000004"
    with np.load(ck / "step-00000004" / "carried.npz") as z:
        assert sorted(z.files) == ["s0", "s1"] and np.abs(z["s0"]).sum() > 0
    shutil.copytree(tmp_path / "r", tmp_path / "bad")
    with open(tmp_path / "bad" / "checkpoints" / "step-00000004" / "carried.npz", "wb") as f:
        np.savez(f, s0=np.zeros((5, 6), np.float32), s1=np.zeros((2, 6), np.float32))
    with pytest.raises(LmkitError, match=r"carried.npz: s0 has shape \(5, 6\)"):
        Trainer.resume(tmp_path / "bad")


@pytest.mark.parametrize("output", ["sampled", "nce", "class", "hs"])
def test_cheap_outputs_lower_the_exact_perplexity(tmp_path, output):
    data = _corpus()
    m = _model("gru", output)
    before = m.perplexity(data).perplexity
    after = train_model(m, data, tmp_path / output, TrainConfig(epochs=15, batch=2, bptt=8, lr=0.02),
                        quiet=True).perplexity(data).perplexity
    assert after < 0.5 * before


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
@pytest.mark.parametrize("output", ["hs", "full-tied", "class"])
def test_row_sparse_updates_equal_dense_ones(optimizer, output):
    """Plain SGD and Adagrad touch only the embedding / tree-node rows a batch used; the result
    must equal the dense update, and zeroing only those rows must leave every gradient zero."""
    from lmkit.nn import SGD, Adagrad, clip_by_global_norm
    nets = [_network("gru", output, dtype=np.float64) for _ in range(2)]
    opts = [SGD(lr=0.3, momentum=0.0) if optimizer == "sgd" else Adagrad(lr=0.3) for _ in range(2)]
    for step in range(3):
        inputs, targets, w = _stream_batch(nets[0], B=2, T=3 + step)
        for k, (net, opt) in enumerate(zip(nets, opts)):
            net.zero_grad()
            assert all(not g.any() for _, _, g in net.parameters())
            net.loss(inputs, targets, w, net.initial_state(2), np.random.default_rng(0), backward=True)
            params = list(net.parameters())
            sparse = net.sparse_rows() if k == 0 else {}
            assert k == 1 or ("emb.W" in sparse) != output.endswith("tied")
            clip_by_global_norm([g for _, _, g in params], 0.05, [sparse.get(n) for n, _, _ in params])
            opt.step(params, sparse)
        for (n, a, _), (_, b, _) in zip(nets[0].parameters(), nets[1].parameters()):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=n)
