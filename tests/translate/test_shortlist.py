"""Target-vocabulary shortlists: IBM Model 1 against a naive EM, the file's checks, and decoding
over a shortlist (the whole vocabulary as a shortlist changes nothing; a real one only emits
its words)."""
import subprocess
import sys

import numpy as np
import pytest

from lmkit import ConfigError, ModelFormatError
from lmkit.text import EOS_ID
from lmkit.translate import Translator, beam_search_batch, greedy
from lmkit.translate.data import pad_sources
from lmkit.translate.shortlist import FILE, Shortlist, build_shortlist

from .test_training import make_trainer, tiny_pairs  # noqa: F401  (the fixture)


def naive_ibm1(src, tgt, n_src, n_tgt, iterations):
    """Textbook IBM Model 1 EM over a dense table t[s, t]; row n_src is NULL."""
    t = np.zeros((n_src + 1, n_tgt))
    for s, g in zip(src, tgt):
        for w in g:
            t[n_src, w] = 1.0
            for v in s:
                t[v, w] = 1.0
    for _ in range(iterations):
        count = np.zeros_like(t)
        for s, g in zip(src, tgt):
            sources = [n_src] + list(s)
            for w in g:
                denom = sum(t[v, w] for v in sources)
                for v in sources:
                    count[v, w] += t[v, w] / denom
        total = count.sum(axis=1, keepdims=True)
        t = np.divide(count, total, out=np.zeros_like(count), where=total > 0)
    return t


def random_pairs(seed, n=40, n_src=15, n_tgt=12):
    rng = np.random.default_rng(seed)
    src = [rng.integers(4, n_src, rng.integers(1, 7)) for _ in range(n)]
    tgt = [rng.integers(4, n_tgt, rng.integers(1, 7)) for _ in range(n)]
    return src, tgt, n_src, n_tgt


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ibm1_probabilities_equal_a_naive_em(seed):
    from lmkit.translate import shortlist as S
    from lmkit.translate._kernels import ibm1_em
    src, tgt, ns, nt = random_pairs(seed)
    sf, so = S._flatten(src, ns, "source")
    tf, to = S._flatten(tgt, nt, "target")
    keys = S._pair_keys(sf, so, tf, to, ns, nt)
    prob = ibm1_em(sf, so, tf, to, keys, ns, nt, 4)
    want = naive_ibm1(src, tgt, ns, nt, 4)
    np.testing.assert_allclose(prob, want[keys // nt, keys % nt], rtol=1e-12)
    got = np.zeros_like(want)
    got[keys // nt, keys % nt] = prob
    np.testing.assert_allclose(got.sum(axis=1)[[v for v in range(ns + 1) if want[v].any()]], 1.0)


def test_em_finds_the_textbook_translations():
    # Koehn's example: "das Haus" / "the house", "das Buch" / "the book", "ein Buch" / "a book"
    src_words = {"das": 4, "haus": 5, "buch": 6, "ein": 7}
    tgt_words = {"the": 4, "house": 5, "book": 6, "a": 7}
    pairs = [("das haus", "the house"), ("das buch", "the book"), ("ein buch", "a book")]
    src = [np.array([src_words[w] for w in a.split()]) for a, _ in pairs]
    tgt = [np.array([tgt_words[w] for w in b.split()]) for _, b in pairs]
    sl = build_shortlist(src, tgt, 8, 8, frequent=0, per_word=1, iterations=10)
    for s, t in (("das", "the"), ("haus", "house"), ("buch", "book"), ("ein", "a")):
        assert sl.translations[src_words[s], 0] == tgt_words[t]
    assert sl.translations[:4].tolist() == [[-1]] * 4                 # specials never seen as sources
    assert sl.frequent.tolist() == [0, 1, 2, 3]                       # specials always decoded


def test_frequent_words_and_columns():
    src, tgt, ns, nt = random_pairs(3)
    sl = build_shortlist(src, tgt, ns, nt, frequent=3, per_word=2, iterations=2)
    counts = np.bincount(np.concatenate(tgt), minlength=nt)
    assert set(sl.frequent) == {0, 1, 2, 3} | set(np.argsort(-counts, kind="stable")[:3].tolist())
    batch = np.array([[5, 6, 3], [7, 3, 3]])
    cols = sl.columns(batch)
    want = set(sl.frequent) | {int(t) for w in (3, 5, 6, 7) for t in sl.translations[w] if t >= 0}
    assert cols.tolist() == sorted(want)


def test_bad_settings_and_ids_are_refused():
    src, tgt, ns, nt = random_pairs(4)
    with pytest.raises(ConfigError, match="per_word"):
        build_shortlist(src, tgt, ns, nt, per_word=-1)
    with pytest.raises(ConfigError, match="target ids outside"):
        build_shortlist(src, tgt, ns, nt - 5)
    with pytest.raises(ConfigError, match="40 source sentences but 39"):
        build_shortlist(src, tgt[:-1], ns, nt)


def test_file_round_trip_and_checks(tmp_path):
    src, tgt, ns, nt = random_pairs(5)
    sl = build_shortlist(src, tgt, ns, nt, frequent=4, per_word=3)
    sl.save(tmp_path / FILE)
    back = Shortlist.load(tmp_path / FILE, ns, nt)
    assert np.array_equal(back.frequent, sl.frequent) and np.array_equal(back.translations, sl.translations)
    with pytest.raises(ModelFormatError, match="source vocabulary"):
        Shortlist.load(tmp_path / FILE, ns + 1, nt)
    with pytest.raises(ModelFormatError, match="outside"):
        Shortlist.load(tmp_path / FILE, ns, 6)
    bad = {"format": np.array("lmkit-shortlist"), "version": np.array(1), "frequent": np.array([0, 1, 2], np.int32),
           "translations": sl.translations}
    np.savez(tmp_path / "b.npz", **bad)
    with pytest.raises(ModelFormatError, match="special token"):
        Shortlist.load(tmp_path / "b.npz", ns, nt)
    np.savez(tmp_path / "c.npz", **{**bad, "version": np.array(9)})
    with pytest.raises(ModelFormatError, match="version"):
        Shortlist.load(tmp_path / "c.npz", ns, nt)
    (tmp_path / "d.npz").write_bytes((tmp_path / FILE).read_bytes()[:200])
    with pytest.raises(ModelFormatError):
        Shortlist.load(tmp_path / "d.npz", ns, nt)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_pairs):  # noqa: F811
    out = tmp_path_factory.mktemp("sl") / "m"
    trainer, data = make_trainer(tiny_pairs, out, epochs=10)
    trainer.train(data, quiet=True)
    return out


def test_whole_vocabulary_as_shortlist_decodes_the_same(model_dir, tiny_pairs):  # noqa: F811
    tr = Translator.load(model_dir)
    lines = tiny_pairs[0].read_text().splitlines()[:16]
    src, mask = pad_sources([tr.src_vocab.encode(tr.tokenizer(x)) for x in lines])
    everything = np.arange(len(tr.tgt_vocab))
    limits = np.full(len(lines), 12)
    for a, b in zip(greedy(tr.model, src, mask, limits), greedy(tr.model, src, mask, limits, everything)):
        assert a.tokens == b.tokens and a.score == pytest.approx(b.score, abs=1e-9)
    full = beam_search_batch(tr.model, src, mask, beam=3, max_len=limits)
    listed = beam_search_batch(tr.model, src, mask, beam=3, max_len=limits, columns=everything)
    for a, b in zip(full, listed):
        assert a.tokens == b.tokens and a.score == pytest.approx(b.score, abs=1e-9)


def test_a_shortlist_limits_the_words_emitted(model_dir, tiny_pairs):  # noqa: F811
    tr = Translator.load(model_dir)
    lines = tiny_pairs[0].read_text().splitlines()[:16]
    src, mask = pad_sources([tr.src_vocab.encode(tr.tokenizer(x)) for x in lines])
    cols = np.array([0, 1, 2, 3] + list(range(10, 30)))
    for hyps in (greedy(tr.model, src, mask, np.full(16, 12), cols),
                 beam_search_batch(tr.model, src, mask, beam=3, max_len=np.full(16, 12), columns=cols)):
        emitted = {t for h in hyps for t in h.tokens}
        assert emitted <= set(cols.tolist()) and emitted - {0, 1, 2, 3}
    with pytest.raises(ValueError, match="</s>"):
        greedy(tr.model, src, mask, np.full(16, 12), cols[cols != EOS_ID])


def test_cli_builds_and_decodes_with_a_shortlist(tmp_path, model_dir, tiny_pairs):  # noqa: F811
    import shutil
    m = tmp_path / "m"
    shutil.copytree(model_dir, m)
    lm = [sys.executable, "-m", "lmkit.cli.main"]
    r = subprocess.run(lm + ["translate", "decode", str(m), str(tiny_pairs[0]), "--shortlist"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no shortlist" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(lm + ["-q", "translate", "shortlist", str(m), "--train-src", str(tiny_pairs[0]),
                             "--train-tgt", str(tiny_pairs[1]), "--per-word", "20"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = tiny_pairs[0].read_text().splitlines()
    r = subprocess.run(lm + ["-q", "translate", "decode", str(m), str(tiny_pairs[0]), "--shortlist", "--beam", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert len(out) == len(lines)
    want = [t.text for t in Translator.load(m).translate(lines, beam=2, shortlist=True)]
    assert out == want
    r = subprocess.run(lm + ["translate", "shortlist", str(m), "--train-src", str(tiny_pairs[0]),
                             "--train-tgt", str(tiny_pairs[1]), "--per-word", "-3"], capture_output=True, text=True)
    assert r.returncode == 2 and "--per-word" in r.stderr
