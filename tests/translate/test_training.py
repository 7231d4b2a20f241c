import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmkit import ConfigError, CorpusError, ModelFormatError, Tokenizer
from lmkit.text import BOS_ID, EOS_ID
from lmkit.translate import (
    Seq2Seq,
    Seq2SeqConfig,
    TrainConfig,
    Trainer,
    Translator,
    beam_search,
    build_vocabs,
    corpus_bleu,
    encode_parallel,
    greedy,
    read_parallel,
)
from lmkit.translate.data import pad_sources
from lmkit.translate.decode import length_penalty

ROOT = Path(__file__).resolve().parents[2]
WS = Tokenizer("whitespace")


@pytest.fixture(scope="module")
def tiny_pairs(tmp_path_factory):
    """60 short real Multi30k pairs (6 to 9 source words) in files."""
    import gzip
    en = gzip.open(ROOT / "data/multi30k/train.lc.norm.tok.en.gz", "rt", encoding="utf-8").read().splitlines()
    de = gzip.open(ROOT / "data/multi30k/train.lc.norm.tok.de.gz", "rt", encoding="utf-8").read().splitlines()
    pairs = [(a, b) for a, b in zip(en, de) if 6 <= len(a.split()) <= 9 and len(b.split()) <= 10][:60]
    folder = tmp_path_factory.mktemp("pairs")
    (folder / "s.en").write_text("\n".join(a for a, _ in pairs) + "\n")
    (folder / "t.de").write_text("\n".join(b for _, b in pairs) + "\n")
    return folder / "s.en", folder / "t.de"


def make_trainer(tiny_pairs, out, **kw):
    src, tgt = read_parallel(*tiny_pairs, WS)
    sv, tv = build_vocabs(src, tgt, min_count=1)
    data = encode_parallel(src, tgt, sv, tv)
    model = Seq2Seq(Seq2SeqConfig(len(sv), len(tv), emb=32, hidden=48, attn=32, dropout=0.0, seed=3))
    cfg = dict(epochs=40, batch=12, lr=3e-3, checkpoint_every=1000, seed=3, patience=100)
    cfg.update(kw)
    return Trainer(model, sv, tv, WS, out, TrainConfig(**cfg)), data


@pytest.mark.slow
def test_overfits_a_small_corpus_and_translates_it(tmp_path, tiny_pairs):
    trainer, data = make_trainer(tiny_pairs, tmp_path / "m")
    state = trainer.train(data, quiet=True)
    losses = [h["train_loss"] for h in state.history]
    assert losses[-1] < 0.3 * losses[0]
    tr = Translator.load(tmp_path / "m")
    lines = tiny_pairs[0].read_text().splitlines()
    refs = tiny_pairs[1].read_text().splitlines()
    greedy_out = [t.text for t in tr.translate(lines, beam=1)]
    beam_out = [t.text for t in tr.translate(lines, beam=4)]
    assert corpus_bleu(greedy_out, refs, tokenize="none").score > 60
    assert corpus_bleu(beam_out, refs, tokenize="none").score > 60


def test_two_layer_model_learns_and_decodes(tmp_path, tiny_pairs):
    src, tgt = read_parallel(*tiny_pairs, WS)
    sv, tv = build_vocabs(src, tgt, min_count=1)
    data = encode_parallel(src, tgt, sv, tv)
    model = Seq2Seq(Seq2SeqConfig(len(sv), len(tv), emb=24, hidden=32, attn=24, seed=3, layers=2,
                                  attention="general"))
    trainer = Trainer(model, sv, tv, WS, tmp_path / "m2", TrainConfig(epochs=6, batch=12, lr=3e-3, seed=3))
    state = trainer.train(data, quiet=True)
    assert state.history[-1]["train_loss"] < 0.7 * state.history[0]["train_loss"]
    tr = Translator.load(tmp_path / "m2")
    assert tr.model.config.layers == 2
    greedy_out = tr.translate(["a man in a blue shirt ."], beam=1)[0]
    beam_out = tr.translate(["a man in a blue shirt ."], beam=3)[0]
    assert greedy_out.attention.shape[0] == len(greedy_out.words) + 1
    assert beam_out.attention.shape[0] == len(beam_out.words) + 1


def test_resume_continues_exactly(tmp_path, tiny_pairs):
    whole, data = make_trainer(tiny_pairs, tmp_path / "a", epochs=3)
    whole.train(data, quiet=True)
    part, data2 = make_trainer(tiny_pairs, tmp_path / "b", epochs=3, max_steps=7, checkpoint_every=3)
    part.train(data2, quiet=True)            # "killed" at step 7 (last checkpoint written at step 7)
    resumed = Trainer.resume(tmp_path / "b", overrides={"max_steps": None})
    assert resumed.state.step == 7
    resumed.train(data2, quiet=True)
    assert resumed.state.step == whole.state.step
    for (name, a, _), (_, b, _) in zip(whole.model.parameters(), resumed.model.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


def _tiny_random_model(seed: int, weights_seed: int) -> Seq2Seq:
    """A 6-word float64 model with large random weights (peaked, varied distributions)."""
    model = Seq2Seq(Seq2SeqConfig(src_vocab=6, tgt_vocab=6, emb=5, hidden=4, attn=3, seed=seed), dtype=np.float64)
    rng = np.random.default_rng(weights_seed)
    for _, p, _ in model.parameters():
        p[...] = rng.uniform(-1.5, 1.5, p.shape)
    return model


def _exact_logprob(model, src, mask, seq) -> float:
    """log p(seq </s> | src), one decoder step at a time (the exhaustive searches' reference)."""
    enc, keys, s, _ = model.encode(src, mask)
    total, y = 0.0, BOS_ID
    for w in seq + [EOS_ID]:
        logits, s, _ = model.decode_step(np.array([y]), s, enc, keys, mask)
        z = logits[0] - logits[0].max()
        total += z[w] - np.log(np.exp(z).sum())
        y = w
    return total


def test_beam_search_finds_the_exact_best_on_a_tiny_model():
    """Exhaustive search over every output of up to 3 tokens: the beam (wide enough) must
    return the best length-penalised hypothesis, not the first one that ends."""
    model = _tiny_random_model(11, 2)
    src, mask = pad_sources([np.array([4, 5, 4])])
    words = [0, 3, 4, 5]      # every id except <s> and </s>... and </s> ends the sequence

    def logprob(seq):
        return _exact_logprob(model, src, mask, seq)

    for alpha in (0.0, 1.0):
        best = max((list(seq) for n in range(0, 4) for seq in itertools.product(words + [1], repeat=n)),
                   key=lambda s: logprob(s) / length_penalty(len(s) + 1, alpha))
        hyp = beam_search(model, src, mask, beam=64, alpha=alpha, max_len=3)
        assert hyp.tokens == best
        assert hyp.score == pytest.approx(logprob(best), abs=1e-9)


def test_nbest_are_the_exact_best_hypotheses_in_order_on_a_tiny_model():
    """With a beam wide enough to hold every prefix, the n-best list is the exhaustive
    ranking's top n (tokens and scores), best first under the length penalty; its head is
    what plain beam search returns."""
    from lmkit.translate import beam_search_nbest
    model = _tiny_random_model(5, 7)
    src, mask = pad_sources([np.array([5, 4, 3, 4])])
    alphabet = [0, 1, 3, 4, 5]

    def logprob(seq):
        return _exact_logprob(model, src, mask, seq)

    for alpha in (0.0, 1.0):
        every = [list(seq) for n in range(0, 4) for seq in itertools.product(alphabet, repeat=n)]
        ranked = sorted(every, key=lambda s: -logprob(s) / length_penalty(len(s) + 1, alpha))
        hyps = beam_search_nbest(model, src, mask, beam=200, alpha=alpha, max_len=np.array([3]), nbest=6)[0]
        assert [h.tokens for h in hyps] == ranked[:6]
        for h, seq in zip(hyps, ranked):
            assert h.score == pytest.approx(logprob(seq), abs=1e-9)
            assert h.attention.shape == (len(seq) + 1, src.shape[1])
        assert beam_search(model, src, mask, beam=200, alpha=alpha, max_len=3).tokens == ranked[0]
    with pytest.raises(ValueError, match="nbest"):
        beam_search_nbest(model, src, mask, beam=3, nbest=4)


def test_translate_nbest_heads_are_the_translations(tmp_path, tiny_pairs):
    trainer, data = make_trainer(tiny_pairs, tmp_path / "m", epochs=3)
    trainer.train(data, quiet=True)
    tr = Translator.load(tmp_path / "m")
    lines = tiny_pairs[0].read_text().splitlines()[:12]
    best = tr.translate(lines, beam=4, batch=5)
    lists = tr.translate_nbest(lines, 4, beam=4, batch=5)
    assert [t.text for t in best] == [hyps[0].text for hyps in lists]
    for hyps in lists:
        assert 1 <= len(hyps) <= 4
        assert len({tuple(h.words) for h in hyps}) == len(hyps)          # distinct hypotheses
        normed = [h.score / length_penalty(len(h.words) + 1, 1.0) for h in hyps]
        assert normed == sorted(normed, reverse=True)
    with pytest.raises(ConfigError, match="nbest"):
        tr.translate_nbest(lines, 5, beam=4)


def test_greedy_stops_at_the_length_limit_with_one_attention_row_per_output(tmp_path, tiny_pairs):
    trainer, data = make_trainer(tiny_pairs, tmp_path / "m", epochs=1)
    trainer.train(data, quiet=True)
    src, mask = pad_sources([data.src[0], data.src[1]])
    for hyp in greedy(trainer.model, src, mask, np.array([2, 3])):
        assert len(hyp.tokens) <= 3 and hyp.attention.shape[0] == len(hyp.tokens) + 1


def test_beam_of_one_is_greedy(tmp_path, tiny_pairs):
    trainer, data = make_trainer(tiny_pairs, tmp_path / "m", epochs=3)
    trainer.train(data, quiet=True)
    for i in range(5):
        src, mask = pad_sources([data.src[i]])
        g = greedy(trainer.model, src, mask, np.array([20]))[0]
        b = beam_search(trainer.model, src, mask, beam=1, alpha=0.0, max_len=20)
        assert g.tokens == b.tokens


def test_batched_beam_equals_one_sentence_at_a_time(tmp_path, tiny_pairs):
    from lmkit.translate import beam_search_batch
    trainer, data = make_trainer(tiny_pairs, tmp_path / "m", epochs=3)
    trainer.train(data, quiet=True)
    srcs = [data.src[i] for i in range(8)]
    src, mask = pad_sources(srcs)
    limits = np.array([2 * len(s) + 5 for s in srcs])
    batched = beam_search_batch(trainer.model, src, mask, beam=3, alpha=1.0, max_len=limits)
    for s, lim, hyp in zip(srcs, limits, batched):
        one_src, one_mask = pad_sources([s])
        single = beam_search(trainer.model, one_src, one_mask, beam=3, alpha=1.0, max_len=int(lim))
        assert hyp.tokens == single.tokens
        assert hyp.score == pytest.approx(single.score, abs=1e-3)
        S1 = one_src.shape[1]          # the batch pads longer sources: compare the real positions
        assert hyp.attention.shape == (len(hyp.tokens) + 1, src.shape[1])
        np.testing.assert_allclose(hyp.attention[:, :S1], single.attention, atol=1e-5)
        assert np.all(hyp.attention[:, S1:] == 0)


def test_batched_greedy_equals_one_sentence_at_a_time(tmp_path, tiny_pairs):
    """Rows that finish leave the batch: the others' outputs must not change."""
    trainer, data = make_trainer(tiny_pairs, tmp_path / "m", epochs=3)
    trainer.train(data, quiet=True)
    srcs = [data.src[i] for i in range(10)]
    src, mask = pad_sources(srcs)
    limits = np.array([1, 2, 30, 4, 30, 7, 30, 3, 30, 30])
    for s, lim, hyp in zip(srcs, limits, greedy(trainer.model, src, mask, limits)):
        one_src, one_mask = pad_sources([s])
        single = greedy(trainer.model, one_src, one_mask, np.array([lim]))[0]
        assert hyp.tokens == single.tokens and hyp.score == pytest.approx(single.score, abs=1e-4)
        np.testing.assert_allclose(hyp.attention[:, :one_src.shape[1]], single.attention, atol=1e-5)


def test_unknown_words_and_empty_lines_do_not_crash(tmp_path, tiny_pairs):
    trainer, data = make_trainer(tiny_pairs, tmp_path / "m", epochs=1)
    trainer.train(data, quiet=True)
    tr = Translator.load(tmp_path / "m")
    out = tr.translate(["zzz qqq xxx", "", "a man"], beam=3, replace_unk=True)
    assert len(out) == 3 and all(isinstance(t.text, str) for t in out)
    assert out[0].attention.shape[1] == 4   # 3 source words + </s>


def test_bad_parallel_input(tmp_path, tiny_pairs):
    (tmp_path / "short.de").write_text("ein hund\n")
    with pytest.raises(CorpusError, match=r"s.en has 60 lines but .*short.de has 1"):
        read_parallel(tiny_pairs[0], tmp_path / "short.de", WS)
    src, tgt = [["a", "b"], [], ["c"] * 80], [["x"], ["y"], ["z"]]
    sv, tv = build_vocabs(src, tgt, 1)
    data = encode_parallel(src, tgt, sv, tv, max_len=50)
    assert (len(data), data.skipped_empty, data.skipped_long) == (1, 1, 1)


def test_model_folder_missing_a_file(tmp_path, tiny_pairs):
    trainer, data = make_trainer(tiny_pairs, tmp_path / "m", epochs=1)
    trainer.train(data, quiet=True)
    (tmp_path / "m" / "model" / "tgt_vocab.tsv").unlink()
    with pytest.raises(ModelFormatError, match="tgt_vocab.tsv is missing"):
        Translator.load(tmp_path / "m")


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), *map(str, args)], input=stdin,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_cli_train_decode_bleu_average(tmp_path, tiny_pairs):
    s, t = tiny_pairs
    res = run_cli("-q", "translate", "train", "--train-src", s, "--train-tgt", t, "--valid-src", s,
                  "--valid-tgt", t, "-o", tmp_path / "m", "--emb", "16", "--hidden", "16", "--epochs", "2",
                  "--batch", "16", "--checkpoint-every", "2", "--min-count", "1")
    assert res.returncode == 0, res.stderr
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert len(history) == 2 and "valid_bleu" in history[0]
    res = run_cli("translate", "decode", tmp_path / "m", s, "--beam", "2", "--max-len-ratio", "0.5")
    assert res.returncode == 0 and max(len(ln.split()) for ln in res.stdout.splitlines()) <= 0.5 * 9 + 10
    res = run_cli("translate", "decode", tmp_path / "m", s, "--beam", "2")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 60
    (tmp_path / "hyp.txt").write_text(res.stdout)
    res = run_cli("translate", "decode", tmp_path / "m", s, "--beam", "2", "--nbest", "2")
    rows = [ln.split(" ||| ") for ln in res.stdout.splitlines()]
    assert res.returncode == 0 and all(len(r) == 3 for r in rows)
    firsts = {}
    for line, text, score in rows:               # best first within each line
        assert float(score) <= firsts.setdefault(line, (text, float(score)))[1]
    assert [firsts[str(i)][0] for i in range(60)] == (tmp_path / "hyp.txt").read_text().splitlines()
    res = run_cli("translate", "decode", tmp_path / "m", s, "--beam", "2", "--nbest", "3")
    assert res.returncode == 2 and "nbest" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("translate", "decode", tmp_path / "m", "--beam", "1", "--attention-plot", tmp_path / "att.png",
                  stdin="a man in a blue shirt .\n")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "att.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = run_cli("translate", "bleu", tmp_path / "hyp.txt", t, "--tokenize", "none")
    assert res.returncode == 0 and res.stdout.startswith("BLEU = ") and "tok:none" in res.stdout
    res = run_cli("-q", "translate", "average", tmp_path / "m", "--last", "3", "-o", tmp_path / "avg")
    assert res.returncode == 0, res.stderr
    assert Translator.load(tmp_path / "avg").translate(["a man"], beam=1)
    res = run_cli("translate", "bleu", tmp_path / "hyp.txt", s.parent / "missing.txt")
    assert res.returncode == 2 and "no such file" in res.stderr
    res = run_cli("translate", "decode", tmp_path / "nothing")
    assert res.returncode == 2 and "config.json is missing" in res.stderr
