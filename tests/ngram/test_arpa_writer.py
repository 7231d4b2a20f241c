"""The fast ARPA writer prints exactly what a plain Python writer prints (8 significant digits
through Python's own formatting, '0' and '-99'), and the radix counter's suffix ids are right."""
import gzip
from pathlib import Path

import numpy as np
import pytest

from lmkit.ngram import NgramModel, count_ngrams
from lmkit.ngram.arpa import ngram_strings
from lmkit.text import Vocabulary, encode_corpus

DATA = Path(__file__).parent.parent / "data" / "kenlm"


def _number(x: float) -> str:
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return "-99"
    return f"{x:.8g}"


def reference_arpa(model) -> str:
    """The ARPA text, written one Python string at a time (the naive reference)."""
    texts = ngram_strings(model.vocab.itos, model.ctx, model.word)
    N = model.order
    listed = [np.ones(len(t), bool) if model.blank is None else ~model.blank[k] for k, t in enumerate(texts)]
    out = ["\\data\\\n"] + [f"ngram {k + 1}={int(listed[k].sum())}\n" for k in range(N)]
    for k in range(N):
        out.append(f"\n\\{k + 1}-grams:\n")
        for i, text in enumerate(texts[k]):
            if not listed[k][i]:
                continue
            line = f"{_number(float(model.log_probs[k][i]))}\t{text}"
            if k < N - 1:
                line += f"\t{_number(float(model.log_backoffs[k][i]))}"
            out.append(line + "\n")
    out.append("\n\\end\\\n")
    return "".join(out)


@pytest.fixture(scope="module")
def sentences(ts_split):
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:4000]
    return [ln.split() for ln in lines] + [["naïve", "café", "日本語", "x"]]


@pytest.mark.parametrize("order", [1, 2, 3, 6])
@pytest.mark.parametrize("smoothing", ["mkn", "kn", "abs", "wb", "katz", "add-backoff", "mle", "stupid"])
def test_written_arpa_equals_the_reference(tmp_path, sentences, order, smoothing):
    model = NgramModel.train(sentences, order=order, smoothing=smoothing, quiet=True)
    path = tmp_path / "m.arpa"
    model.save(path, quiet=True)
    assert path.read_text(encoding="utf-8") == reference_arpa(model)


def test_pruned_and_compressed(tmp_path, sentences):
    model = NgramModel.train(sentences, order=4, prune=[0, 1, 1, 2], quiet=True)
    model.save(tmp_path / "m.arpa.gz", quiet=True)
    assert gzip.open(tmp_path / "m.arpa.gz", "rt", encoding="utf-8").read() == reference_arpa(model)


def test_blanks_are_left_out_as_kenlm_expects(tmp_path):
    model = NgramModel.load(DATA / "test.arpa", quiet=True)
    assert model.blank is not None and any(b.any() for b in model.blank)
    model.save(tmp_path / "again.arpa", quiet=True)
    assert (tmp_path / "again.arpa").read_text(encoding="utf-8") == reference_arpa(model)


def test_more_lines_than_one_chunk(tmp_path, monkeypatch, sentences):
    import lmkit.ngram.arpa as arpa
    monkeypatch.setattr(arpa, "_LINES_PER_CHUNK", 1000)
    model = NgramModel.train(sentences, order=3, quiet=True)
    model.save(tmp_path / "m.arpa", quiet=True)
    assert (tmp_path / "m.arpa").read_text(encoding="utf-8") == reference_arpa(model)


def test_suffix_ids_name_the_last_words(sentences):
    vocab = Vocabulary.build(sentences)
    counts = count_ngrams(encode_corpus(sentences, vocab), 4, len(vocab))
    texts = ngram_strings(vocab.itos, [o.ctx for o in counts.orders], [o.word for o in counts.orders])
    for k in range(1, 4):
        suffix = counts.orders[k].suffix
        assert [texts[k - 1][s] for s in suffix.tolist()] == [t.split(" ", 1)[1] for t in texts[k]]
        keys = counts.orders[k].keys(len(vocab))
        assert np.all(np.diff(keys) > 0)   # sorted by (context, word), each once
