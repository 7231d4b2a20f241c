"""Scoring a binary model (probing, trie, quantised trie) in numpy alone (`lmkit ngram score`'s path, no numba): the
same floats and n-gram lengths, bit for bit, as the numba kernel for every smoothing, order,
<s>/</s> setting and for models whose suffixes are not all listed; and the command's output.
Also the batch kernel's two paths: probing tables taken a block of positions and one order at
a time (:func:`lmkit.ngram._kernels.score_tokens`) against word after word
(:func:`~lmkit.ngram._kernels.score_words`), across block edges and for a sentence longer
than a block."""
import itertools
import subprocess
import sys

import numpy as np
import pytest

from lmkit import ModelFormatError
from lmkit.ngram import SMOOTHINGS, NgramModel
from lmkit.ngram import _kernels as K
from lmkit.ngram.binary import write_binary
from lmkit.ngram.quick import QuickModel
from lmkit.text import Corpus, encode_corpus

from .test_kenlm_cases import DATA
from .test_suffix_closed import _orphaned


@pytest.fixture(scope="module")
def corpus(ts_split):
    return [ln.split() for ln in ts_split[0].read_text(encoding="utf-8").splitlines()[:2000]]


@pytest.fixture(scope="module")
def held_out(ts_split):
    # unseen words, an empty line and a line of one word among them
    return [ln.split() for ln in ts_split[1].read_text(encoding="utf-8").splitlines()[:400]] + [[], ["the"]]


def _same_as_the_kernel(model, path, sentences, layouts=(("probing", None), ("trie", None), ("trie", 8))):
    for layout, bits in layouts:
        _same_layout_as_the_kernel(model, path, sentences, layout, bits)


def _same_layout_as_the_kernel(model, path, sentences, layout, bits):
    write_binary(model, path, layout=layout, quantize=bits)
    quick, mapped = QuickModel.open(path), NgramModel.load(path)
    assert quick is not None
    enc = encode_corpus(sentences, mapped.vocab)
    for bos in (True, False):
        for eos in (True, False):
            want, got = mapped.score_encoded(enc, bos, eos), quick.score_encoded(enc, bos, eos)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
            assert got[1].dtype == np.int32


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_every_smoothing_scores_as_the_kernel(tmp_path, corpus, held_out, smoothing):
    """Backoff models, additive smoothing's uniform fallback and stupid backoff's weight for
    unseen contexts alike."""
    model = NgramModel.train(corpus, order=4, smoothing=smoothing, quiet=True)
    _same_as_the_kernel(model, tmp_path / "m.bin", held_out)


@pytest.mark.parametrize("order", [1, 2, 3, 6])
def test_every_order_scores_as_the_kernel(tmp_path, corpus, held_out, order):
    model = NgramModel.train(corpus, order=order, quiet=True)
    _same_as_the_kernel(model, tmp_path / "m.bin", held_out)


def test_missing_suffixes_and_kenlm_blanks_score_as_the_kernel(tmp_path, corpus, held_out):
    """A model with an orphaned trigram probes every order (not suffix-closed); KenLM's
    test.arpa is closed by its blanks."""
    model, trigram = _orphaned(NgramModel.train(corpus, order=4, quiet=True))
    assert not model.suffixes_closed()
    _same_as_the_kernel(model, tmp_path / "orphan.bin", [trigram + ["the"]] + held_out)
    kenlm = NgramModel.load(DATA / "test.arpa", quiet=True)
    _same_as_the_kernel(kenlm, tmp_path / "kenlm.bin",
                        [s.split() for s in ("looking on a little the biarritz not_found more .",
                                             "on a little more loin also", "</s> <s> <unk> foo")])


#: the trie's two ways to a pair's record, forced: searched for, or read from a table of the
#: parent's children (the parents counted in an array over them, or by sorting; tables capped)
_TABLES = {"searched": dict(_LONG_BLOCK=1 << 62),
           "tables": dict(_LONG_BLOCK=1, _STEP_COST=1000, _ENTRY_COST=0),
           "tables, parents counted in an array": dict(_LONG_BLOCK=1, _STEP_COST=1000, _ENTRY_COST=0, _DENSE=1 << 40),
           "tables, parents counted by sorting": dict(_LONG_BLOCK=1, _STEP_COST=1000, _ENTRY_COST=0, _DENSE=0),
           "tables, capped": dict(_LONG_BLOCK=1, _STEP_COST=1000, _ENTRY_COST=0, _TABLE_ENTRIES=5000),
           "defaults": {}}


@pytest.mark.parametrize("how", _TABLES)
def test_trie_pairs_from_tables_or_searches_score_as_the_kernel(tmp_path, corpus, held_out, monkeypatch, how):
    from lmkit.ngram import quick
    for name, value in _TABLES[how].items():
        monkeypatch.setattr(quick, name, value)
    read_blocks, tabled = QuickModel._read_blocks, []

    def spy(self, k, parents, lo, length, *rest):
        before = int(np.count_nonzero(length > 0))
        read_blocks(self, k, parents, lo, length, *rest)
        tabled.append(before - int(np.count_nonzero(length > 0)))
    monkeypatch.setattr(QuickModel, "_read_blocks", spy)
    model = NgramModel.train(corpus, order=4, quiet=True)
    _same_as_the_kernel(model, tmp_path / "m.bin", held_out, layouts=(("trie", None), ("trie", 8)))
    assert (sum(tabled) == 0) == (how == "searched")


def test_only_binaries_take_the_numpy_path(tmp_path, corpus):
    model = NgramModel.train(corpus[:300], order=3, quiet=True)
    model.save(tmp_path / "m.lmk")
    model.save(tmp_path / "m.arpa", quiet=True)
    for name in ("m.lmk", "m.arpa", "missing.bin"):
        assert QuickModel.open(tmp_path / name) is None
    write_binary(model, tmp_path / "p.bin")
    data = bytearray((tmp_path / "p.bin").read_bytes())
    (tmp_path / "cut.bin").write_bytes(bytes(data[:len(data) // 2]))
    with pytest.raises(ModelFormatError, match="past the end of the file"):
        QuickModel.open(tmp_path / "cut.bin")


def test_python_tokens_encode_as_numba_ones(ts_split):
    """encode_corpus(numba=False) gives the same ids as the numba tokenizer."""
    model = NgramModel.train(Corpus([ts_split[0]]), order=2, quiet=True)
    for lowercase in (False, True):
        from lmkit.text import Tokenizer
        text = Corpus([ts_split[1]], tokenizer=Tokenizer("whitespace", lowercase=lowercase))
        a, b = encode_corpus(text, model.vocab), encode_corpus(text, model.vocab, numba=False)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.offsets, b.offsets)


def test_cli_score_on_a_binary_imports_no_numba(tmp_path, corpus, held_out):
    """`ngram score` prints the same lines from the binary models (numpy path) as from the
    .lmk model (numba path), per word too, and never imports numba for them."""
    model = NgramModel.train(corpus, order=4, quiet=True)
    model.save(tmp_path / "m.lmk")
    write_binary(model, tmp_path / "m.bin")
    write_binary(model, tmp_path / "t.bin", layout="trie")
    (tmp_path / "t.txt").write_text("\n".join(" ".join(s) for s in held_out) + "\n", encoding="utf-8")
    code = ("import sys; from lmkit.cli.main import main; rc = main(sys.argv[1:]); "
            "print('numba' in sys.modules, file=sys.stderr); sys.exit(rc)")
    outs = {}
    for name in ("m.lmk", "m.bin", "t.bin"):
        for flags in ([], ["--per-word", "--no-bos"]):
            res = subprocess.run([sys.executable, "-c", code, "-q", "ngram", "score", str(tmp_path / name),
                                  str(tmp_path / "t.txt"), *flags], capture_output=True, text=True)
            assert res.returncode == 0, res.stderr
            assert res.stderr.strip().splitlines()[-1] == ("True" if name == "m.lmk" else "False")
            outs[name, len(flags)] = res.stdout
    for name in ("m.bin", "t.bin"):
        assert outs[name, 0] == outs["m.lmk", 0] and outs[name, 2] == outs["m.lmk", 2]
    assert "perplexity=" in outs["m.bin", 0] and len(outs["m.bin", 2]) > len(outs["m.bin", 0])


def _both(model, enc, bos, eos, closed=None):
    args, fallback = model._score_args()
    if closed is not None:
        args = (*args[:-1], closed)
    a = K.score_tokens(enc.ids, enc.offsets, *args, bos, eos, *fallback)
    b = K.score_words(enc.ids, enc.offsets, *args, bos, eos, *fallback)
    return a, b


def _assert_same(a, b):
    np.testing.assert_array_equal(a[0].view(np.int64), b[0].view(np.int64))     # every bit
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_block_scoring_is_word_by_word_scoring(corpus, held_out, smoothing, order):
    model = NgramModel.train(corpus, order=order, smoothing=smoothing, quiet=True)
    assert model.layout == "probing"
    enc = encode_corpus(held_out, model.vocab)
    for bos, eos in itertools.product((True, False), repeat=2):
        for closed in ((True, False) if model.suffixes_closed() else (False,)):
            _assert_same(*_both(model, enc, bos, eos, closed))


def test_blocks_and_a_sentence_longer_than_a_block(corpus, held_out):
    """Many blocks' worth of sentences (block edges fall between sentences), and one sentence
    of more positions than a block (the scratch grows for it)."""
    model = NgramModel.train(corpus, order=4, quiet=True)
    many = held_out * (3 * K.SCORE_BLOCK // sum(len(s) + 1 for s in held_out) + 1)
    long = [w for s in held_out for w in s]
    long = long * (K.SCORE_BLOCK // len(long) + 2)
    assert len(long) > K.SCORE_BLOCK
    for sentences in (many, [["the"], long, ["a", "b"]], [long]):
        enc = encode_corpus(sentences, model.vocab)
        for bos, eos in ((True, True), (False, False)):
            _assert_same(*_both(model, enc, bos, eos))
