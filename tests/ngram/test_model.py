
import numpy as np
import pytest

from lmkit import ConfigError, CorpusError, ModelFormatError
from lmkit.ngram import SMOOTHINGS, NgramModel, count_ngrams
from lmkit.ngram.arpa import ngram_strings
from lmkit.text import Vocabulary, encode_corpus

from .naive import naive_backoff_logprob, naive_counts

TOY = [s.split() for s in ["a b c a b", "b c d", "a b c", "d d a b c c", "c a"]]


@pytest.fixture(scope="module")
def small_corpus(ts_split):
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:3000]
    return [ln.split() for ln in lines]


def test_counts_equal_a_naive_count(small_corpus):
    vocab = Vocabulary.build(small_corpus)
    counts = count_ngrams(encode_corpus(small_corpus, vocab), 4, len(vocab))
    expected = naive_counts(small_corpus, 4)
    texts = ngram_strings(vocab.itos, [o.ctx for o in counts.orders], [o.word for o in counts.orders])
    got = {}
    for k, oc in enumerate(counts.orders):
        for t, c in zip(texts[k], oc.count.tolist()):
            if c:
                got[tuple(t.split())] = c
    assert got == dict(expected)


@pytest.mark.parametrize("fan_in", [8, 3, 2])
def test_chunked_counting_equals_in_memory_counting(small_corpus, monkeypatch, fan_in):
    """About ten pieces, merged at once or as a tree of merges of two or three spilled pieces."""
    from lmkit.ngram import counts
    monkeypatch.setattr(counts, "MERGE_FAN_IN", fan_in)
    vocab = Vocabulary.build(small_corpus)
    enc = encode_corpus(small_corpus, vocab)
    whole = count_ngrams(enc, 4, len(vocab))
    chunked = count_ngrams(enc, 4, len(vocab), chunk_tokens=2500)   # about ten pieces
    for a, b in zip(whole.orders, chunked.orders):
        for field in ("ctx", "word", "count", "suffix", "first"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), field


@pytest.mark.parametrize("source", ["file", "lists", "vocab"])
def test_training_in_chunks_from_text_gives_the_same_model(ts_split, tmp_path, monkeypatch, source):
    """chunk_tokens on text: ids spilled to a temporary file (removed afterwards) and counted in
    pieces; the model equals the one counted in memory."""
    import tempfile

    from lmkit.text import Corpus, Tokenizer
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:3000]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = Corpus(tmp_path / "train.txt", Tokenizer("whitespace"), quiet=True)
    data = [ln.split() for ln in lines] if source == "lists" else corpus
    vocab = Vocabulary.build(corpus, min_count=2) if source == "vocab" else None
    whole = NgramModel.train(data, order=4, vocab=vocab, min_count=2, quiet=True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "spill"))
    (tmp_path / "spill").mkdir()
    chunked = NgramModel.train(data, order=4, vocab=vocab, min_count=2, chunk_tokens=5000, quiet=True)
    assert list((tmp_path / "spill").iterdir()) == []
    assert chunked.vocab.itos == whole.vocab.itos and chunked.sizes == whole.sizes
    for name in ("ctx", "word", "log_probs", "log_backoffs"):
        for a, b in zip(getattr(chunked, name), getattr(whole, name)):
            assert np.array_equal(a, b), name


def test_a_corpus_smaller_than_a_piece_needs_no_temporary_folder(tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))   # any temporary file would fail
    assert NgramModel.train(TOY * 50, order=3, quiet=True).sizes == NgramModel.train(TOY * 50, order=3,
                                                                                      chunk_tokens=0, quiet=True).sizes


def test_a_full_temporary_disk_is_one_clear_error(monkeypatch):
    import errno

    from lmkit.text import encoded

    def full(self, ids):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(encoded._IdSink, "add", full)
    with pytest.raises(CorpusError, match=r"no space left in .* set TMPDIR .*\(chunk_tokens=0"):
        NgramModel.train(TOY, order=2, quiet=True)


def test_kneser_ney_by_hand():
    """Bigram interpolated KN with lmplz conventions on a corpus small enough to do by hand."""
    sents = [["a", "b"], ["b", "a"], ["a", "a"]]
    model = NgramModel.train(sents, order=2, smoothing="kn", discount=0.5)
    # continuation counts: a <- {<s>, b, a} = 3, b <- {a, <s>} = 2, </s> <- {b, a} = 2; total 7
    # unigram: p(w) = (N1+(.w) - 0.5)/7 + gamma * 1/4, gamma = 0.5 * 3 / 7 (3 types, |V| = 4)
    gamma = 0.5 * 3 / 7
    p_a = (3 - 0.5) / 7 + gamma / 4
    assert model.logprob("a") == pytest.approx(np.log10(p_a), abs=1e-6)
    assert model.logprob("zzz") == pytest.approx(np.log10(gamma / 4), abs=1e-6)
    # bigram (highest order, raw counts): a is followed by b (1), </s> (2), a (1): c(a .) = 4
    p_b = (2 - 0.5) / 7 + gamma / 4
    p_b_a = (1 - 0.5) / 4 + (0.5 * 3 / 4) * p_b
    assert model.logprob("b", ["a"]) == pytest.approx(np.log10(p_b_a), abs=1e-6)
    assert model.prob("</s>", ["a"]) == pytest.approx((2 - 0.5) / 4 + (0.5 * 3 / 4) * ((2 - 0.5) / 7 + gamma / 4),
                                                      abs=1e-6)


@pytest.mark.parametrize("smoothing", [s for s in SMOOTHINGS if s != "stupid"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_probabilities_sum_to_one_for_every_context_length(small_corpus, smoothing, order):
    model = NgramModel.train(small_corpus, order=order, smoothing=smoothing, quiet=True)
    cand = np.array([i for i in range(len(model.vocab)) if i != 1], dtype=np.int32)
    rng = np.random.default_rng(0)
    sents = [s for s in small_corpus if len(s) >= 4]
    for trial in range(6):
        sent = sents[rng.integers(len(sents))]
        for n in range(0, order):
            history = (["<s>"] + sent)[:n + 1] if trial % 2 else sent[:n]
            if smoothing == "mle" and trial % 2 == 0 and n:  # unseen contexts have no MLE
                continue
            total = model._next_word_probs(list(history), cand).sum()
            assert total == pytest.approx(1.0, abs=2e-4), (smoothing, history)
    # an unseen context backs off and still sums to one
    if smoothing != "mle":
        total = model._next_word_probs(["zzz", "yyy"][: order - 1], cand).sum()
        assert total == pytest.approx(1.0, abs=2e-4)


@pytest.mark.parametrize("smoothing", ["mkn", "wb", "katz"])
def test_pruned_models_still_sum_to_one(small_corpus, smoothing):
    model = NgramModel.train(small_corpus, order=4, smoothing=smoothing, prune=[0, 1, 1], quiet=True)
    full = NgramModel.train(small_corpus, order=4, smoothing=smoothing, quiet=True)
    assert model.sizes[0] == full.sizes[0] and all(a < b for a, b in zip(model.sizes[1:], full.sizes[1:]))
    cand = np.array([i for i in range(len(model.vocab)) if i != 1], dtype=np.int32)
    for history in (["<s>"], ["<s>", "First"], ["<s>", "First", "Citizen:"], ["the"], ["of", "the"]):
        assert model._next_word_probs(history, cand).sum() == pytest.approx(1.0, abs=2e-4)


def test_bad_prune_thresholds(small_corpus):
    with pytest.raises(ConfigError, match="unigram prune threshold must be 0"):
        NgramModel.train(small_corpus, order=2, prune=[1, 1])
    with pytest.raises(ConfigError, match="must not decrease"):
        NgramModel.train(small_corpus, order=3, prune=[0, 2, 1])


def test_stupid_backoff_says_it_gives_scores(small_corpus):
    model = NgramModel.train(small_corpus, order=3, smoothing="stupid")
    assert not model.is_probability
    assert model.logprob("the", ["zzz"]) == pytest.approx(np.log10(0.4) + model.logprob("the"), abs=1e-5)
    with pytest.raises(ConfigError, match="not probabilities"):
        model.generate(5)


def test_backoff_rule_matches_naive_lookup(small_corpus):
    model = NgramModel.train(small_corpus, order=3, smoothing="wb")
    texts = ngram_strings(model.vocab.itos, model.ctx, model.word)
    table = {}
    for k in range(3):
        bo = model.log_backoffs[k] if k < 2 else np.zeros(model.sizes[k])
        for t, p, b in zip(texts[k], model.log_probs[k].tolist(), bo.tolist()):
            table[tuple(t.split())] = (p, b)
    for sent in small_corpus[:50]:
        words = [w if w in model.vocab else "<unk>" for w in sent]
        scores = [p for p, _, _ in model.full_scores(sent)]
        history = ["<s>"]
        for w, got in zip(words + ["</s>"], scores):
            assert got == pytest.approx(naive_backoff_logprob(table, w, history, 3), abs=1e-5)
            history.append(w)


def test_full_scores_report_ngram_length_and_oov(small_corpus):
    model = NgramModel.train(small_corpus, order=3)
    scores = list(model.full_scores("First Citizen: zzzq"))
    assert [n for _, n, _ in scores][:2] == [2, 3]
    assert [o for _, _, o in scores] == [False, False, True, False]
    assert model.score("First Citizen:") == pytest.approx(sum(p for p, _, _ in model.full_scores("First Citizen:")))


@pytest.mark.parametrize("name", ["m.arpa", "m.arpa.gz", "m.lmk"])
def test_file_round_trip_scores_identically(tmp_path, small_corpus, name):
    model = NgramModel.train(small_corpus, order=4, smoothing="mkn")
    model.save(tmp_path / name)
    back = NgramModel.load(tmp_path / name)
    assert back.sizes == model.sizes
    for sent in small_corpus[:100]:
        assert back.score(sent) == pytest.approx(model.score(sent), abs=1e-4)


def test_generate_is_seeded(small_corpus):
    model = NgramModel.train(small_corpus, order=3)
    a, b = model.generate(12, seed=3), model.generate(12, seed=3)
    assert a == b and len(a) <= 12 and all(w in model.vocab for w in a)


@pytest.mark.parametrize("content, message", [
    ("hello\n", "not an ARPA file"),
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t<s>\n", "truncated: 1 of 2 1-grams"),
    ("\\data\\\nngram 1=3\n\n\\1-grams:\n-1\t<s>\t0\n-1\t</s>\nx\ta\n", ":7: not a number"),
    ("\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1\t<s>\t0\n-1\t</s>\n-1\ta\t0\n\n\\2-grams:\n-1\tb a\n\n\\end\\\n",
     "context 'b' of this 2-gram"),
    ("\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1\t<s>\t0\n-1\t</s>\n-1\ta\t0\n\n", "2-gram section is missing"),
])
def test_malformed_arpa_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.arpa"
    path.write_text(content)
    with pytest.raises(ModelFormatError, match=message):
        NgramModel.load(path)


def test_other_files_are_rejected(tmp_path):
    path = tmp_path / "other.lmk"
    with open(path, "wb") as f:
        np.savez(f, x=np.zeros(3))
    with pytest.raises(ModelFormatError, match="not a readable lmkit n-gram model"):
        NgramModel.load(path)
    with pytest.raises(ModelFormatError, match="no such model file"):
        NgramModel.load(tmp_path / "nothing.lmk")


def test_bad_training_input():
    with pytest.raises(ConfigError, match="order must be between 1 and 10"):
        NgramModel.train(TOY, order=0)
    with pytest.raises(ConfigError, match="order must be between 1 and 10"):
        NgramModel.train(TOY, order=11)
    with pytest.raises(ConfigError, match="smoothing 'foo' is unknown"):
        NgramModel.train(TOY, smoothing="foo")
    with pytest.raises(CorpusError, match="no tokens"):
        NgramModel.train([[], []])


def test_discount_fallback_on_tiny_data(caplog):
    model = NgramModel.train(TOY, order=3, smoothing="mkn")
    assert "falling back" in caplog.text
    assert model.meta["discounts"][2] == [0.5, 1.0, 1.5]
    cand = np.array([i for i in range(len(model.vocab)) if i != 1], dtype=np.int32)
    assert model._next_word_probs(["a", "b"], cand).sum() == pytest.approx(1.0, abs=1e-5)


def test_only_oov_test_text(small_corpus):
    model = NgramModel.train(small_corpus, order=2)
    result = model.perplexity(["qqq zzz", "xxx"])
    assert result.n_oov == 3 and result.n_tokens == 5
    assert np.isfinite(result.perplexity) and np.isfinite(result.perplexity_excl_oov)


def test_katz_warns_once_per_order_not_once_per_count(caplog):
    import logging

    from lmkit.ngram.estimators import _good_turing_ratios, count_of_counts
    # count-of-counts n1..n6 = 10, 40, 5, 30, 2, 20: r* / r out of (0, 1] for several counts
    counts = np.repeat(np.arange(1, 7), [10, 40, 5, 30, 2, 20])
    with caplog.at_level(logging.WARNING):
        d = _good_turing_ratios(count_of_counts(counts), order=2)
    warned = [r.getMessage() for r in caplog.records if "Good-Turing" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("order 2:")
    assert warned[0].count("(") >= 3   # several counts named in the one warning
    assert np.all(d[1:6] > 0) and np.all(d[1:6] <= 1)


def test_score_is_the_sum_of_full_scores(small_corpus):
    model = NgramModel.train(small_corpus[:2000], order=4, quiet=True)
    sentences = [" ".join(s) for s in small_corpus[2000:2300]] + ["never seen wordz here", "", "the"]
    for s in sentences:
        for bos, eos in ((True, True), (False, True), (True, False)):
            total = sum(p for p, _, _ in model.full_scores(s, bos=bos, eos=eos))
            assert model.score(s, bos=bos, eos=eos) == pytest.approx(total, abs=1e-9)
            assert model.score(s.split(), bos=bos, eos=eos) == model.score(s, bos=bos, eos=eos)


def test_training_frees_only_its_own_encoded_corpus(small_corpus):
    data = small_corpus[:500]
    n_tokens = sum(map(len, data))
    model = NgramModel.train(data, order=3, quiet=True)   # encoded internally, then released
    assert model.meta["n_tokens"] == n_tokens and model.meta["n_sentences"] == len(data)
    vocab = Vocabulary.build(data)
    enc = encode_corpus(data, vocab)
    again = NgramModel.train(enc, order=3, quiet=True)    # the caller's corpus stays whole
    assert enc.n_tokens == n_tokens and len(enc.ids) == n_tokens
    assert again.sizes == model.sizes and again.meta["n_tokens"] == n_tokens


@pytest.mark.parametrize("text", ["", "   ", "First Citizen:", "qqq unknown-word zzz", "\u00a0First\u2003Citizen:\t\n",
                                  "caf\u00e9 \u65e5\u672c \ud800 x", "You are all resolved rather to die than to famish?"])
def test_score_of_a_string_splits_and_looks_up_as_python_does(small_corpus, text):
    """score(str) splits and looks words up in one kernel: the same total, bit for bit, as
    summing full_scores of Python's own split (unknown words, Unicode spaces, a surrogate)."""
    model = NgramModel.train(small_corpus, order=3)
    for bos, eos in ((True, True), (False, True), (True, False)):
        expected = 0.0
        for p, _, _ in model.full_scores(text.split(), bos=bos, eos=eos):
            expected += p
        assert model.score(text, bos=bos, eos=eos) == expected
        assert model.score(text.split(), bos=bos, eos=eos) == expected
