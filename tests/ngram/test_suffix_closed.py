"""Stopping a word's lookups at the first missing n-gram (what KenLM does): exact for models
whose listed n-grams' suffixes are all listed, never used for the others; the binary header's
flag written by the builder and type-checked by the reader."""
import json

import numpy as np
import pytest

from lmkit import ModelFormatError
from lmkit.ngram import NgramModel
from lmkit.ngram import _kernels as K
from lmkit.ngram.arpa import ngram_strings
from lmkit.ngram.binary import write_binary
from lmkit.text import encode_corpus

from .naive import naive_backoff_logprob
from .test_kenlm_cases import DATA


@pytest.fixture(scope="module")
def corpus(ts_split):
    return [ln.split() for ln in ts_split[0].read_text(encoding="utf-8").splitlines()[:3000]]


@pytest.fixture(scope="module")
def held_out(ts_split):
    return [ln.split() for ln in ts_split[1].read_text(encoding="utf-8").splitlines()[:300]]


def _kernel_scores(model, sentences, closed):
    """score_tokens over ``sentences`` with the tables' flag forced to ``closed``."""
    enc = encode_corpus(sentences, model.vocab)
    args, fallback = model._score_args()
    args = (*args[:-1], closed)
    return K.score_tokens(np.ascontiguousarray(enc.ids, np.int32), np.ascontiguousarray(enc.offsets, np.int64),
                          *args, True, True, *fallback)


def _mapped(model, tmp_path, layout):
    write_binary(model, tmp_path / f"m.{layout}", layout=layout)
    return NgramModel.load(tmp_path / f"m.{layout}")


@pytest.mark.parametrize("smoothing", ["mkn", "kn", "wb", "katz", "add"])
@pytest.mark.parametrize("layout", ["memory", "probing", "trie"])
def test_stopping_early_changes_no_score_of_a_closed_model(tmp_path, corpus, held_out, smoothing, layout):
    model = NgramModel.train(corpus, order=4, smoothing=smoothing, quiet=True)
    assert model.suffixes_closed()
    if layout != "memory":
        model = _mapped(model, tmp_path, layout)
    assert model._kernel_tables().suffix_closed
    stopped, full = _kernel_scores(model, held_out, True), _kernel_scores(model, held_out, False)
    np.testing.assert_array_equal(stopped[0], full[0])
    np.testing.assert_array_equal(stopped[1], full[1])     # the n-gram lengths too


def test_an_arpa_file_with_missing_suffixes_is_closed_by_its_blanks(held_out):
    """KenLM's test.arpa lists n-grams whose suffixes it does not (model_test.cc's Blanks);
    the blanks added at load close it, and KenLM's lengths come out either way."""
    model = NgramModel.load(DATA / "test.arpa", quiet=True)
    assert model.blank is not None and model.suffixes_closed()
    sent = ["looking", "on", "a", "little", "the", "biarritz", "not_found", "more", "."]
    for sentences in ([sent], held_out):
        stopped, full = _kernel_scores(model, sentences, True), _kernel_scores(model, sentences, False)
        np.testing.assert_array_equal(stopped[0], full[0])
        np.testing.assert_array_equal(stopped[1], full[1])


def _orphaned(model):
    """The model without one bigram that a kept trigram ends with (and without what hangs
    from that bigram), so the trigram's suffix is missing; and that trigram's words."""
    suffix = model.suffix_ids()[2]
    ctx2, ctx3 = model.ctx[2], model.ctx[3]
    texts = ngram_strings(model.vocab.itos, model.ctx[:3], model.word[:3])[2]
    for tri in np.argsort(-model.log_probs[2], kind="stable"):    # a likely trigram of plain words
        drop, words = suffix[tri], texts[tri].split()
        gone3 = ctx2 == drop
        if not gone3[tri] and not {"<s>", "</s>"} & set(words):
            break
    keep = [np.ones(n, bool) for n in model.sizes]
    keep[1][drop] = False
    keep[2][gone3] = False
    keep[3][np.isin(ctx3, np.flatnonzero(gone3))] = False
    return model.subset(keep), words


def _table(model):
    texts = ngram_strings(model.vocab.itos, model.ctx, model.word)
    table = {}
    for k in range(model.order):
        bo = model.log_backoffs[k] if k < model.order - 1 else np.zeros(model.sizes[k])
        for t, p, b in zip(texts[k], model.log_probs[k].tolist(), bo.tolist()):
            table[tuple(t.split())] = (p, b)
    return table


@pytest.mark.parametrize("layout", ["memory", "probing", "trie"])
def test_a_model_with_missing_suffixes_is_scored_in_full(tmp_path, corpus, held_out, layout):
    full_model = NgramModel.train(corpus, order=4, quiet=True)
    model, trigram = _orphaned(full_model)
    assert not model.suffixes_closed()
    if layout != "memory":
        model = _mapped(model, tmp_path, layout)
        assert not model._kernel_tables().suffix_closed
    sentences = [trigram + ["the"]] + held_out[:50]
    table = _table(model)
    got = np.concatenate([[p for p, _, _ in model.full_scores(s)] for s in sentences])
    want = []
    for sent in sentences:
        history = ["<s>"]
        for w in [w if w in model.vocab else "<unk>" for w in sent] + ["</s>"]:
            want.append(naive_backoff_logprob(table, w, history, 4))
            history.append(w)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # the test can fail: stopping early would miss the orphaned trigram
    assert _kernel_scores(model, sentences[:1], True)[0][2] != _kernel_scores(model, sentences[:1], False)[0][2]


def test_the_header_flag_must_be_true_or_false(tmp_path, corpus):
    model = NgramModel.train(corpus[:500], order=3, quiet=True)
    write_binary(model, tmp_path / "m.bin")
    data = (tmp_path / "m.bin").read_bytes()
    assert data.count(b'"suffix_closed": true') == 1
    (tmp_path / "bad.bin").write_bytes(data.replace(b'"suffix_closed": true', b'"suffix_closed": 1   '))
    with pytest.raises(ModelFormatError, match="suffix_closed in the header must be true or false"):
        NgramModel.load(tmp_path / "bad.bin")
    (tmp_path / "off.bin").write_bytes(data.replace(b'"suffix_closed": true', b'"suffix_closed":false'))
    off = NgramModel.load(tmp_path / "off.bin")
    assert not off._kernel_tables().suffix_closed
    sents = [s for s in corpus[500:600]]
    assert [off.score(s) for s in sents] == [model.score(s) for s in sents]


def test_native_files_keep_the_finding(tmp_path, corpus, held_out):
    """A .lmk file records what its writer found, so loading it does not look again; a model
    with a missing suffix keeps scoring in full; a flag of the wrong type is one clear error."""
    model = NgramModel.train(corpus, order=4, quiet=True)
    orphaned, trigram = _orphaned(model)
    for m, closed in ((model, True), (orphaned, False)):
        m.save(tmp_path / "m.lmk")
        back = NgramModel.load(tmp_path / "m.lmk")
        assert back._suffix_closed is closed and "suffix_closed" not in back.meta
        sents = [trigram + ["the"]] + held_out[:30]
        assert [back.score(s) for s in sents] == [m.score(s) for s in sents]
    with np.load(tmp_path / "m.lmk") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["suffix_closed"] = "no"
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(tmp_path / "bad.lmk", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ModelFormatError, match="suffix_closed"):
        NgramModel.load(tmp_path / "bad.lmk")
