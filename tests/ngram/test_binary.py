"""Memory-mapped binary models (probing and trie layouts): the same scores as the model they
were built from (quantised tries within their binning error), every reader check exercised by
damaged files, and the CLI."""
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from lmkit import ModelFormatError
from lmkit.ngram import SMOOTHINGS, NgramModel
from lmkit.ngram import layouts as L
from lmkit.ngram._kernels import SLOT_WORDS
from lmkit.ngram.binary import write_binary
from lmkit.ngram.binfile import MAGIC, PROBING_LOAD, VERSION
from lmkit.ngram.quick import QuickModel
from lmkit.text import encode_corpus

from .test_kenlm_cases import DATA


@pytest.fixture(scope="module")
def trained(ts_split):
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:3000]
    return NgramModel.train([ln.split() for ln in lines], order=4, quiet=True)


@pytest.fixture(scope="module")
def test_lines(ts_split):
    return ts_split[1].read_text(encoding="utf-8").splitlines()[:300]


def _scores(model, lines):
    return np.array([model.score(ln) for ln in lines])


LAYOUTS = ["probing", "trie"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_scores_equal_the_source_model(tmp_path, trained, test_lines, layout):
    write_binary(trained, tmp_path / "m.bin", layout=layout)
    mapped = NgramModel.load(tmp_path / "m.bin")
    assert mapped.layout == layout
    np.testing.assert_array_equal(_scores(mapped, test_lines), _scores(trained, test_lines))
    assert mapped.perplexity(test_lines).perplexity == trained.perplexity(test_lines).perplexity
    assert mapped.sizes == trained.sizes and mapped.vocab.itos == trained.vocab.itos
    enc = encode_corpus([ln.split() for ln in test_lines], trained.vocab)
    for got, want in zip(mapped.score_encoded(enc), trained.score_encoded(enc)):
        np.testing.assert_array_equal(got, want)
    if layout == "trie":   # scored from the packed records alone, nothing unpacked
        assert mapped._unpack is not None and "ctx" not in mapped._lists
    assert isinstance(mapped.log_probs[0], np.ndarray)
    for name in ("ctx", "word", "log_probs", "log_backoffs"):
        for got, want in zip(getattr(mapped, name), getattr(trained, name)):
            np.testing.assert_array_equal(got, want)
    mapped.save(tmp_path / "back.arpa", quiet=True)
    trained.save(tmp_path / "orig.arpa", quiet=True)
    assert (tmp_path / "back.arpa").read_bytes() == (tmp_path / "orig.arpa").read_bytes()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_kenlm_blanks_and_missing_unk_survive(tmp_path, layout):
    for name in ("test.arpa", "test_nounk.arpa"):
        arpa = NgramModel.load(DATA / name, quiet=True)
        write_binary(arpa, tmp_path / "k.bin", layout=layout)
        mapped = NgramModel.load(tmp_path / "k.bin")
        sent = "looking on a little the biarritz not_found more ."
        assert list(mapped.full_scores(sent)) == list(arpa.full_scores(sent))
        mapped.save(tmp_path / "k.arpa", quiet=True)
        arpa.save(tmp_path / "a.arpa", quiet=True)
        assert (tmp_path / "k.arpa").read_bytes() == (tmp_path / "a.arpa").read_bytes()


def _damage(src, dst, edit):
    data = bytearray(src.read_bytes())
    edit(data)
    dst.write_bytes(bytes(data))
    return dst


def _header(data):
    (n,) = struct.unpack("<Q", data[len(MAGIC):len(MAGIC) + 8])
    return json.loads(bytes(data[len(MAGIC) + 8:len(MAGIC) + 8 + n])), len(MAGIC) + 8 + n


def _array_at(data, name):
    header, end = _header(data)
    start = -(-end // 64) * 64
    spec = next(s for s in header["arrays"] if s["name"] == name)
    return start + spec["offset"], np.dtype(spec["dtype"])


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.__delitem__(slice(len(d) - 100, None)), "past the end of the file"),
    (lambda d: d.__setitem__(slice(5, 7), b"xy"), "not an lmkit binary"),
    (lambda d: d.__setitem__(slice(len(MAGIC), len(MAGIC) + 8), struct.pack("<Q", 10 ** 12)), "exceeds the file"),
])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_truncated_or_foreign_files_are_refused(tmp_path, trained, edit, message, layout):
    write_binary(trained, tmp_path / "m.bin", layout=layout)
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", edit)
    with pytest.raises(ModelFormatError, match=message):
        NgramModel.load(bad)


def _poke(name, index, value):
    def edit(d):
        off, dtype = _array_at(d, name)
        d[off + index * dtype.itemsize: off + (index + 1) * dtype.itemsize] = np.array([value], dtype).tobytes()
    return edit


def _used_slot(model, k):
    """Index (in int64 words) of the first occupied slot of order k's probing table."""
    t = model._kernel_tables()
    lo, cap = int(t.table_start[k]), int(t.table_cap[k])
    keys = np.asarray(t.slots[SLOT_WORDS * lo:SLOT_WORDS * (lo + cap):SLOT_WORDS])
    return SLOT_WORDS * (lo + int(np.flatnonzero(keys >= 0)[0]))


#: damage found at every load (sizes, vocabulary, unigrams), or only by the check of the
#: tables' contents (``verify=True``, or before the arrays are unpacked)
AT_LOAD, IN_TABLES = True, False


@pytest.mark.parametrize("name,where,value,message,when", [
    ("logprob", 5, 0.5, "impossible probabilities", IN_TABLES),
    ("vocab_offsets", 10, 2 ** 30, "vocabulary offsets", IN_TABLES),
    ("vocab_offsets", 2, 2 ** 30, "must start with its special tokens", AT_LOAD),
    ("vocab_offsets", "last", 2 ** 30, "vocabulary offsets", AT_LOAD),
    ("table_cap", 3, 7, "sizes do not fit", AT_LOAD),
    ("slots", (2, 0), 10 ** 12, "a context outside the vocabulary", IN_TABLES),
    ("slots", (4, 0), 10 ** 12, "not an n-gram of the order below", IN_TABLES),
    ("slots", (3, 0), 12345, "its lookup does not reach", IN_TABLES),
    ("slots", (4, 0), -5, "a negative key", IN_TABLES),
    ("slots", (4, 0), -1, "a number of keys other than", IN_TABLES),
    ("slots", (3, 1), np.array([0.5, 0.0], np.float32).view(np.int64)[0], "impossible probabilities", IN_TABLES),
    ("slots", (2, 1), np.array([-1.0, np.nan], np.float32).view(np.int64)[0], "impossible probabilities", IN_TABLES),
])
def test_corrupted_arrays_are_refused(tmp_path, trained, test_lines, name, where, value, message, when):
    write_binary(trained, tmp_path / "m.bin")
    index = len(trained.vocab) if where == "last" else where if isinstance(where, int) \
        else _used_slot(trained, where[0]) + where[1]
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", _poke(name, index, value))
    _refused_when_checked(bad, test_lines, message, when)


def _refused_when_checked(bad, test_lines, message, when):
    """Damage of sizes is refused at load; damage inside the tables by ``verify=True`` and by
    the first use of the arrays, while scoring the unchecked tables still ends."""
    with pytest.raises(ModelFormatError, match=message):
        NgramModel.load(bad, verify=True)
    if when == AT_LOAD:
        with pytest.raises(ModelFormatError, match=message):
            NgramModel.load(bad)
        return
    model = NgramModel.load(bad)
    assert len(_scores(model, test_lines)) == len(test_lines)
    with pytest.raises(ModelFormatError, match=message):
        model.save(bad.with_suffix(".arpa"), quiet=True)
    assert not bad.with_suffix(".arpa").exists()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_vocabulary_is_decoded_only_when_asked_and_then_checked(tmp_path, trained, test_lines, layout):
    """Scoring text looks words up by their bytes: loading and scoring build no Python list or
    dict of the words. Asking for them decodes and checks them: bad UTF-8 or a word listed
    twice is one clear error naming the file (a duplicate also by the check of the file's word
    index, which lookups use as stored)."""
    write_binary(trained, tmp_path / "m.bin", layout=layout)
    mapped = NgramModel.load(tmp_path / "m.bin")
    np.testing.assert_array_equal(_scores(mapped, test_lines), _scores(trained, test_lines))
    assert mapped.vocab._itos is None and mapped.vocab._stoi is None
    assert len(mapped.vocab) == len(trained.vocab) and mapped.vocab.unk_id == 0
    assert mapped.vocab.itos == trained.vocab.itos and mapped.vocab.stoi == trained.vocab.stoi

    def word_bytes(d, w):
        off, dtype = _array_at(d, "vocab_offsets")
        size = dtype.itemsize
        lo, hi = np.frombuffer(bytes(d[off + size * w:off + size * (w + 2)]), dtype)
        return _array_at(d, "vocab_blob")[0] + int(lo), int(hi - lo)

    def bad_utf8(d):
        at, n = word_bytes(d, 10)
        d[at] = 0xFF

    def twice(d):          # word 11 spelled as word 10 (two words of the same length)
        w = next(i for i in range(11, len(trained.vocab))
                 if len(trained.vocab.itos[i].encode()) == len(trained.vocab.itos[10].encode()))
        (a, n), (b, _) = word_bytes(d, 10), word_bytes(d, w)
        d[b:b + n] = d[a:a + n]
    bad = NgramModel.load(_damage(tmp_path / "m.bin", tmp_path / "utf8.bin", bad_utf8))
    with pytest.raises(ModelFormatError, match="utf8.bin: bad vocabulary"):
        _ = bad.vocab.itos
    with pytest.raises(ModelFormatError, match="utf8.bin: bad vocabulary"):
        bad.perplexity(test_lines[:3])
    dup = NgramModel.load(_damage(tmp_path / "m.bin", tmp_path / "dup.bin", twice))
    with pytest.raises(ModelFormatError, match=f"dup.bin: token {trained.vocab.itos[10]!r} appears twice"):
        dup.verify()        # the word index stored in the file is rebuilt from the words
    with pytest.raises(ModelFormatError, match=f"dup.bin: token {trained.vocab.itos[10]!r} appears twice"):
        _ = dup.vocab.stoi


def test_a_key_moved_out_of_reach_is_refused(tmp_path, trained):
    """A slot moved past an empty slot after its home is lost to lookups: refused."""
    write_binary(trained, tmp_path / "m.bin")
    t = NgramModel.load(tmp_path / "m.bin")._kernel_tables()
    slots = np.array(t.slots).reshape(-1, SLOT_WORDS)
    lo, cap = int(t.table_start[-1]), int(t.table_cap[-1])
    used = lo + np.flatnonzero(slots[lo:lo + cap, 0] >= 0)
    empty = lo + np.flatnonzero(slots[lo:lo + cap, 0] < 0)
    src = int(used[0])
    dst = int(empty[empty > src + 2][0])   # beyond an empty slot
    slots[dst], slots[src] = slots[src].copy(), (-1, 0)

    def edit(d):
        off, _ = _array_at(d, "slots")
        d[off:off + slots.nbytes] = slots.tobytes()
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", edit)
    with pytest.raises(ModelFormatError, match="does not reach"):
        NgramModel.load(bad, verify=True)


def test_probing_tables_give_back_the_arrays(trained):
    """The model's sorted arrays decoded from its probing slots are the arrays themselves."""
    t = trained._kernel_tables()
    ctx, word, lp, bo = L.probing_arrays(t, trained.sizes, len(trained.vocab))
    for name, got in (("ctx", ctx), ("word", word), ("log_probs", lp), ("log_backoffs", bo)):
        for a, b in zip(got, getattr(trained, name)):
            np.testing.assert_array_equal(a, b)
    assert int(t.table_cap[-1]) == int(trained.sizes[-1] * PROBING_LOAD) + 1


def test_version_1_files_still_load(tmp_path):
    """A file written by the first binary format (sorted arrays beside position tables) scores
    as its source ARPA; damage to its tables is still refused."""
    v1, arpa = DATA / "test.v1.lmkbin", NgramModel.load(DATA / "test.arpa", quiet=True)
    model = NgramModel.load(v1)
    sent = "looking on a little the biarritz not_found more ."
    assert list(model.full_scores(sent)) == list(arpa.full_scores(sent))
    data = bytearray(v1.read_bytes())
    assert _header(data)[0]["version"] == 1
    off, dtype = _array_at(data, "table_keys")
    keys = np.frombuffer(bytes(data[off:off + 8 * 64]), np.int64)
    at = off + 8 * int(np.flatnonzero(keys >= 0)[0])
    data[at:at + 8] = np.array([12345], np.int64).tobytes()
    (tmp_path / "bad.bin").write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="not its n-gram"):
        NgramModel.load(tmp_path / "bad.bin")


@pytest.mark.parametrize("name", ["test.v2.lmkbin", "test.v2.trie.lmkbin", "test.v3.trie.lmkbin"])
def test_older_versions_still_load(tmp_path, name):
    """Version 2 files (no stored word index: it is built at the first text score) and version
    3 tries (float32 values in arrays beside the records) load, score as before (the quantised
    trie within its bins), pass the check, and are written again as the current version."""
    arpa = NgramModel.load(DATA / "test.arpa", quiet=True)
    model = NgramModel.load(DATA / name, verify=True)
    assert (model.vocab._index is None) == ("v2" in name)
    sents = ["looking on a little the biarritz not_found more .", "on a little more loin also"]
    got, want = [model.score(x) for x in sents], [arpa.score(x) for x in sents]
    assert got == want if "v2.trie" not in name else np.allclose(got, want, atol=0.05)
    quick = QuickModel.open(DATA / name)
    assert quick is not None
    encoded = encode_corpus([x.split() for x in sents], model.vocab)
    assert quick.score_encoded(encoded)[0].tolist() == model.score_encoded(encoded)[0].tolist()
    write_binary(model, tmp_path / "again.bin", layout=model.layout)
    again = NgramModel.load(tmp_path / "again.bin", verify=True)
    assert _header(bytearray((tmp_path / "again.bin").read_bytes()))[0]["version"] == VERSION
    assert again.vocab._index is not None and [again.score(x) for x in sents] == [arpa.score(x) for x in sents]


def test_a_damaged_word_index_is_refused_by_the_check(tmp_path, trained, test_lines):
    """The file's word index is used as stored: lookups in a damaged one end (and find the
    listed words they still can); the check rebuilds it from the words and refuses it."""
    write_binary(trained, tmp_path / "m.bin")
    rng = np.random.default_rng(1)

    def garble(d):
        off, dtype = _array_at(d, "vocab_index")
        assert dtype == np.uint32                         # 5 bytes a word for this vocabulary
        size = dtype.itemsize * 200
        index = np.frombuffer(bytes(d[off:off + size]), dtype).copy()
        filled = index != np.iinfo(dtype).max
        index[filled] = rng.integers(0, 2 ** 32 - 1, int(filled.sum())).astype(dtype)
        d[off:off + size] = index.tobytes()
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", garble)
    model = NgramModel.load(bad)
    assert len(_scores(model, test_lines)) == len(test_lines)
    with pytest.raises(ModelFormatError, match="bad.bin: the word index does not fit the words"):
        model.verify()
    with pytest.raises(ModelFormatError, match="bad.bin: the word index does not fit the words"):
        model.save(tmp_path / "bad.arpa", quiet=True)


def test_cli_build_binary_and_score(tmp_path, trained, test_lines):
    trained.save(tmp_path / "m.lmk")
    (tmp_path / "t.txt").write_text("\n".join(test_lines) + "\n", encoding="utf-8")
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q"]
    subprocess.run(lmkit + ["ngram", "build-binary", str(tmp_path / "m.lmk"), "-o", str(tmp_path / "m.bin")],
                   check=True)
    outs = [subprocess.run(lmkit + ["ngram", "score", str(tmp_path / name), str(tmp_path / "t.txt")],
                           capture_output=True, text=True, check=True).stdout for name in ("m.lmk", "m.bin")]
    assert outs[0] == outs[1] and outs[0]
    res = subprocess.run(lmkit + ["ngram", "build-binary", str(tmp_path / "m.lmk"), "-o", str(tmp_path / "x"),
                                  "--layout", "hash"], capture_output=True, text=True)
    assert res.returncode == 2 and "invalid choice" in res.stderr


def test_cli_trie_and_quantised_trie(tmp_path, trained, test_lines):
    trained.save(tmp_path / "m.lmk")
    (tmp_path / "t.txt").write_text("\n".join(test_lines) + "\n", encoding="utf-8")
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q"]

    def run(*args):
        return subprocess.run(lmkit + ["ngram", *map(str, args)], capture_output=True, text=True)
    assert run("build-binary", tmp_path / "m.lmk", "-o", tmp_path / "t.bin", "--layout", "trie").returncode == 0
    assert run("build-binary", tmp_path / "m.lmk", "-o", tmp_path / "q.bin", "--layout", "trie",
               "--quantize", 8, "--backoff-bits", 6).returncode == 0
    exact, trie, quantised = (run("score", tmp_path / name, tmp_path / "t.txt").stdout
                              for name in ("m.lmk", "t.bin", "q.bin"))
    assert exact == trie and exact != quantised
    ppl = [float(out.split("perplexity=")[1].split()[0]) for out in (exact, quantised)]
    assert abs(ppl[1] / ppl[0] - 1) < 0.01
    for args, message in ((["--layout", "probing", "--quantize", 8], "with the trie layout"),
                          (["--layout", "trie", "--quantize", 25], "1..24 bits"),
                          (["--layout", "trie", "--backoff-bits", 8], "need --quantize")):
        res = run("build-binary", tmp_path / "m.lmk", "-o", tmp_path / "x.bin", *args)
        assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
        assert not (tmp_path / "x.bin").exists()


def test_cli_check_reads_every_table(tmp_path, trained):
    """`ngram check` passes sound files of every kind and refuses a damaged slot that loading
    and scoring leave unchecked: one line naming the file, exit 2."""
    write_binary(trained, tmp_path / "m.bin")
    trained.save(tmp_path / "m.lmk")
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q", "ngram", "check"]
    for name in ("m.bin", "m.lmk"):
        res = subprocess.run(lmkit + [str(tmp_path / name)], capture_output=True, text=True)
        assert res.returncode == 0 and res.stdout.startswith(f"{tmp_path / name}: ok (") and "order 4" in res.stdout
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", _poke("slots", _used_slot(trained, 3), 12345))
    NgramModel.load(bad)   # not checked at load
    res = subprocess.run(lmkit + [str(bad)], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].endswith("bad.bin: order 3's probing table is broken: a key its "
                                                        "lookup does not reach (or listed twice)")


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("suffix", [".lmk", ".bin", ".trie"])
def test_every_smoothing_round_trips(tmp_path, ts_split, test_lines, smoothing, suffix):
    # mle's backoffs are log 0 (-inf) where a context's words take all the mass
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:1500]
    model = NgramModel.train([ln.split() for ln in lines], order=3, smoothing=smoothing, quiet=True)
    path = tmp_path / f"m{suffix}"
    if suffix in (".bin", ".trie"):
        write_binary(model, path, layout="trie" if suffix == ".trie" else "probing")
    else:
        model.save(path)
    again = NgramModel.load(path)
    np.testing.assert_array_equal(_scores(again, test_lines[:100]), _scores(model, test_lines[:100]))


@pytest.mark.parametrize("order", [1, 2, 6])
def test_trie_of_every_order_scores_as_the_model(tmp_path, ts_split, test_lines, order):
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:1500]
    model = NgramModel.train([ln.split() for ln in lines], order=order, quiet=True)
    write_binary(model, tmp_path / "t.bin", layout="trie")
    again = NgramModel.load(tmp_path / "t.bin")
    np.testing.assert_array_equal(_scores(again, test_lines[:100]), _scores(model, test_lines[:100]))


def _quantisation_errors(model, q, b):
    """Per order, the largest |value - its bin's value| of the probabilities and backoffs."""
    lp_err, bo_err = [0.0], [0.0]
    for k in range(1, model.order):
        centers, codes = L.quantize(model.log_probs[k], q, (-np.inf,))
        lp_err.append(float(np.max(np.abs(centers[codes] - model.log_probs[k]))))
        if k < model.order - 1:
            centers, codes = L.quantize(model.log_backoffs[k], b, (0.0,))
            bo_err.append(float(np.max(np.abs(centers[codes] - model.log_backoffs[k]))))
    return lp_err, bo_err


@pytest.mark.parametrize("q,b", [(8, 8), (4, 3), (12, 10)])
def test_quantised_trie_stays_within_its_binning_error(tmp_path, trained, test_lines, q, b):
    write_binary(trained, tmp_path / "q.bin", layout="trie", quantize=q, backoff_bits=b)
    mapped = NgramModel.load(tmp_path / "q.bin")
    enc = encode_corpus([ln.split() for ln in test_lines], trained.vocab)
    (lp, ln), (want, want_len) = mapped.score_encoded(enc), trained.score_encoded(enc)
    lp_err, bo_err = _quantisation_errors(trained, q, b)
    # a word's score is one probability of its n-gram's order plus the backoffs of longer contexts
    bound = np.array(lp_err)[ln - 1] + sum(bo_err) + 1e-6
    assert np.all(np.abs(lp - want) <= bound)
    np.testing.assert_array_equal(ln, want_len)          # the same n-grams are found
    assert np.abs(lp - want).max() > 0
    ratio = mapped.perplexity(test_lines).perplexity / trained.perplexity(test_lines).perplexity
    assert abs(ratio - 1) < {8: 0.01, 4: 0.2, 12: 0.002}[q]
    np.testing.assert_array_equal(mapped.log_probs[0], trained.log_probs[0])   # unigrams stay exact


def test_quantised_mle_keeps_its_infinite_backoffs(tmp_path, ts_split):
    """mle's backoffs are log 0 (-inf) where a context's words take all the mass: quantising
    keeps them -inf (codes of their own), not the nearest finite bin."""
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:1500]
    model = NgramModel.train([ln.split() for ln in lines], order=3, smoothing="mle", quiet=True)
    write_binary(model, tmp_path / "q.bin", layout="trie", quantize=4)
    mapped = NgramModel.load(tmp_path / "q.bin")
    for k in (1, 2):
        infinite = np.isneginf(model.log_backoffs[k - 1])
        assert infinite.any() and (~infinite).any()
        np.testing.assert_array_equal(np.isneginf(mapped.log_backoffs[k - 1]), infinite)


def test_quantize_bins_equal_counts_and_codes_the_nearest():
    rng = np.random.default_rng(3)
    values = np.concatenate([-rng.gamma(2.0, 0.5, 5000), np.zeros(300), [-np.inf] * 4])
    centers, codes = L.quantize(values, 5, (0.0, -np.inf))
    assert len(centers) == 32 and centers[0] == 0.0 and centers[1] == -np.inf
    assert np.all(codes[values == 0] == 0) and np.all(codes[np.isneginf(values)] == 1)
    rest = np.sort(values[np.isfinite(values) & (values != 0)])
    bins = [rest[5000 * j // 30:5000 * (j + 1) // 30] for j in range(30)]   # equal counts, as KenLM cuts them
    np.testing.assert_allclose(centers[2:], [b.mean() for b in bins], rtol=1e-6)
    finite = np.isfinite(values) & (values != 0)
    dist = np.abs(values[finite, None] - centers[None, 2:].astype(np.float64))
    np.testing.assert_array_equal(codes[finite] - 2, np.argmin(dist, axis=1))
    few, few_codes = L.quantize(np.array([-1.0, -2.0]), 3)     # fewer values than bins
    assert set(few.tolist()) == {-1.0, -2.0} and list(few[few_codes]) == [-1.0, -2.0]


def test_bit_fields_round_trip_at_every_width():
    rng = np.random.default_rng(0)
    for width in (1, 7, 31, 33, 57, 63, 64):
        n, record = 1000, width + 5
        values = rng.integers(0, 2 ** min(width, 63), n, dtype=np.int64)
        bits = np.zeros(n * record // 64 + 2, np.uint64)
        from lmkit.ngram import _kernels as K
        K.write_field(bits, 3, record, 5, width, values)
        np.testing.assert_array_equal(K.read_field(bits, 3, record, 5, width, n), values)


@pytest.mark.parametrize("name,index,value,message,when,quantize", [
    ("trie_bits", 2000, 2 ** 63 - 1, "trie is broken", IN_TABLES, 8),
    ("trie_fields", 9, 999, "record layout", AT_LOAD, 8),
    ("centers", 3, np.nan, "quantisation bins", AT_LOAD, 8),
    ("logprob", 7, np.nan, "impossible probabilities", IN_TABLES, 8),
    ("logprob", 7, np.nan, "impossible probabilities", IN_TABLES, None),
])
def test_corrupted_tries_are_refused(tmp_path, trained, test_lines, name, index, value, message, when, quantize):
    write_binary(trained, tmp_path / "m.bin", layout="trie", quantize=quantize)
    if index < 0:
        index += sum(trained.sizes)
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", _poke(name, index, value))
    _refused_when_checked(bad, test_lines, message, when)


def _set_bits(bits, at, width, value):
    """Overwrite the ``width``-bit field at bit ``at`` of the uint64 array ``bits``."""
    for b in range(width):
        q, s = divmod(at + b, 64)
        if (value >> b) & 1:
            bits[q] |= np.uint64(1 << s)
        else:
            bits[q] &= ~np.uint64(1 << s)


@pytest.mark.parametrize("column,k", [("prob", 2), ("prob", 4), ("backoff", 3)])
def test_impossible_values_in_trie_records_are_refused(tmp_path, trained, test_lines, column, k):
    """An unquantised trie keeps orders >= 2's float32 values in its records: a NaN written
    there (through the implied sign bit of a 31-bit probability too) is refused by the check."""
    from lmkit.ngram import _kernels as K
    write_binary(trained, tmp_path / "m.bin", layout="trie")
    f = NgramModel.load(tmp_path / "m.bin")._kernel_tables().trie_fields[k]
    col = K.F_LP_BITS if column == "prob" else K.F_BO_BITS
    assert (f[col], f[col + 2]) == ((31 if column == "prob" else 32), K.RAW)
    at = int(f[K.F_BASE] + 5 * f[K.F_RECORD] + f[K.F_WORD:col].sum())      # the order's 6th record

    def nan(d):
        off, _ = _array_at(d, "trie_bits")
        _, end = _header(d)
        n = (len(d) - off) // 8
        bits = np.frombuffer(bytes(d[off:off + 8 * n]), np.uint64).copy()
        _set_bits(bits, at, int(f[col]), 0x7FC00001)
        d[off:off + 8 * n] = bits.tobytes()
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", nan)
    _refused_when_checked(bad, test_lines, "impossible probabilities", IN_TABLES)


def test_probabilities_lose_their_sign_bit_only_when_all_have_it(tmp_path, ts_split):
    """Tries store orders >= 2's probabilities in 31 bits, sign implied, unless one of them
    is +0.0 (or positive): then 32. Either way every value's bits come back."""
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:1500]
    for smoothing, want in (("mkn", [31, 32]), ("mle", [32, 32])):
        model = NgramModel.train([ln.split() for ln in lines], order=3, smoothing=smoothing, quiet=True)
        write_binary(model, tmp_path / "t.bin", layout="trie")
        assert _header(bytearray((tmp_path / "t.bin").read_bytes()))[0]["float_bits"] == want
        again = NgramModel.load(tmp_path / "t.bin", verify=True)
        for k in range(3):
            np.testing.assert_array_equal(again.log_probs[k].view(np.uint32),
                                          np.asarray(model.log_probs[k], np.float32).view(np.uint32))
            if k < 2:
                np.testing.assert_array_equal(again.log_backoffs[k].view(np.uint32),
                                              np.asarray(model.log_backoffs[k], np.float32).view(np.uint32))


@pytest.mark.parametrize("spec_edit", [lambda a: a.pop("name"), lambda a: a.update(name=7)])
def test_an_array_entry_without_a_name_is_refused(tmp_path, trained, spec_edit):
    """Found by the mutation fuzzer: an array entry whose name is gone (or not a string) was a
    KeyError; it is a one-line error naming the file."""
    write_binary(trained, tmp_path / "m.bin")

    def edit(d):
        header, end = _header(d)
        spec_edit(header["arrays"][-1])
        text = json.dumps(header).encode().ljust(end - len(MAGIC) - 8)
        d[len(MAGIC):len(MAGIC) + 8 + len(text)] = struct.pack("<Q", len(text)) + text
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", edit)
    with pytest.raises(ModelFormatError, match="bad.bin: bad array entry"):
        NgramModel.load(bad)


@pytest.mark.parametrize("quantize,key,lie,message", [
    (8, "quantize", [9, 8], "does not fit"),
    (8, "quantize", [8, 99], "impossible quantisation"),
    (8, "quantize", None, "neither quantize nor float_bits"),
    (8, "float_bits", [31, 32], "impossible float fields"),
    (None, "float_bits", [32, 32], "does not fit"),
    (None, "float_bits", [30, 32], "impossible float fields"),
    (None, "float_bits", None, "neither quantize nor float_bits"),
    (None, "quantize", [8, 8], "impossible float fields"),
])
def test_a_trie_header_that_lies_about_its_values_is_refused(tmp_path, trained, quantize, key, lie, message):
    write_binary(trained, tmp_path / "m.bin", layout="trie", quantize=quantize)

    def edit(d):
        header, end = _header(d)
        header[key] = lie
        text = json.dumps(header).encode().ljust(end - len(MAGIC) - 8)   # JSON may end in spaces
        first_array = -(-end // 64) * 64
        assert len(MAGIC) + 8 + len(text) <= first_array        # the arrays stay where they are
        d[len(MAGIC):len(MAGIC) + 8 + len(text)] = struct.pack("<Q", len(text)) + text
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", edit)
    with pytest.raises(ModelFormatError, match=message):
        NgramModel.load(bad)


def test_arrays_of_unexpected_types_are_refused(tmp_path, trained):
    write_binary(trained, tmp_path / "m.bin", layout="trie")

    def edit(d):
        header, end = _header(d)
        spec = next(s for s in header["arrays"] if s["name"] == "logprob")
        spec["dtype"], spec["shape"] = "int32", spec["shape"]
        text = json.dumps(header).encode().ljust(end - len(MAGIC) - 8)
        d[len(MAGIC):len(MAGIC) + 8 + len(text)] = struct.pack("<Q", len(text)) + text
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", edit)
    with pytest.raises(ModelFormatError, match="'logprob' of type int32 is not expected"):
        NgramModel.load(bad)


def test_a_probe_ends_in_a_table_without_an_empty_slot():
    """Every slot taken by other keys (a damaged table): the lookup reads each slot once and
    misses, instead of going round forever. In a child process, so a hang fails the test."""
    code = ("import numpy as np; from lmkit.ngram import _kernels as K; "
            "slots = np.full(K.SLOT_WORDS * 1000, 5, np.int64); "
            "print(K.probe_slot(slots, 0, 1000, 7), K.probe_slot(slots, 0, 1000, 5))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    missed, found = map(int, out.stdout.split())
    assert missed == -1 and 0 <= found < 1000


def _set_bits(bits, at, width, value):
    """Overwrite the ``width``-bit field at bit ``at`` of a uint64 array, bit by bit."""
    for b in range(width):
        q, r = divmod(at + b, 64)
        one = np.uint64(1) << np.uint64(r)
        bits[q] = (bits[q] | one) if (value >> b) & 1 else (bits[q] & ~one)


def test_damaged_trie_pointers_stay_inside_their_order(trained):
    """A unigram whose child pointers point past order 2's records: the lookup searches only
    order 2's records, so it cannot return (and then read the values of) a record past them,
    even for the word the record past them holds."""
    t = L.trie_tables(trained.ctx, trained.word, trained.log_probs, trained.log_backoffs, len(trained.vocab))
    from lmkit.ngram import _kernels as K
    bits, fields = t.trie_bits.copy(), t.trie_fields
    n2, width = trained.sizes[1], int(fields[1, K.F_PTR])
    hi = min(2 ** width - 1, n2 + 4)
    assert hi - 1 >= n2, "the pointer field has no room past order 2 in this model"
    parent = 7
    f = fields[1]
    for r, value in ((parent, hi - 1), (parent + 1, hi)):
        _set_bits(bits, int(f[K.F_BASE] + r * f[K.F_RECORD] + f[K.F_WORD]), width, value)
    assert [K.read_bits(bits, f[K.F_BASE] + r * f[K.F_RECORD] + f[K.F_WORD], width) for r in (7, 8)] == [hi - 1, hi]
    past = K.read_bits(bits, fields[2, K.F_BASE] + (hi - 1) * fields[2, K.F_RECORD], fields[2, K.F_WORD])
    assert K.trie_child(bits, fields, 2, parent, past) == -1
    for w in range(0, len(trained.vocab), 97):
        assert K.trie_child(bits, fields, 2, parent, w) < n2


@pytest.mark.parametrize("layout,array", [("probing", "slots"), ("trie", "trie_bits")])
def test_scoring_random_tables_ends_and_checking_refuses_them(tmp_path, trained, test_lines, layout, array):
    """A file whose tables are random bytes (sizes intact): loaded without the contents check,
    scoring every test sentence ends (in a child process: no crash, no hang); ``verify=True``
    refuses it."""
    write_binary(trained, tmp_path / "m.bin", layout=layout)
    rng = np.random.default_rng(0)

    def garble(d):
        off, dtype = _array_at(d, array)
        header, _ = _header(d)
        n = next(s["shape"] for s in header["arrays"] if s["name"] == array) * dtype.itemsize
        d[off:off + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", garble)
    (tmp_path / "lines.txt").write_text("\n".join(test_lines) + "\n", encoding="utf-8")
    code = ("import sys; from lmkit.ngram import NgramModel; from lmkit.text import encode_corpus; "
            "m = NgramModel.load(sys.argv[1]); lines = open(sys.argv[2], encoding='utf-8').read().split('\\n')[:-1]; "
            "[m.score(x) for x in lines]; m.score_encoded(encode_corpus([x.split() for x in lines], m.vocab)); "
            "print('scored', len(lines))")
    out = subprocess.run([sys.executable, "-c", code, str(bad), str(tmp_path / "lines.txt")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["scored", str(len(test_lines))]
    with pytest.raises(ModelFormatError, match="broken|impossible"):
        NgramModel.load(bad, verify=True)


@pytest.mark.parametrize("field,value", [("unseen_context_backoff", "x"), ("fallback", 3), ("is_probability", 1)])
def test_meta_fields_of_the_wrong_type_are_refused(tmp_path, trained, field, value):
    """Scoring reads these meta fields: a header giving one of the wrong type is one error at
    load, for the kernels' model and the numpy scorer alike."""
    from lmkit.ngram.quick import QuickModel
    write_binary(trained, tmp_path / "m.bin")

    def edit(d):
        header, end = _header(d)
        header["meta"][field] = value
        text = json.dumps(header).encode().ljust(end - len(MAGIC) - 8)
        assert len(MAGIC) + 8 + len(text) <= -(-end // 64) * 64     # the arrays stay where they are
        d[len(MAGIC):len(MAGIC) + 8 + len(text)] = struct.pack("<Q", len(text)) + text
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", edit)
    for load in (NgramModel.load, QuickModel.open):
        with pytest.raises(ModelFormatError, match=f"meta field '{field}' has the wrong type"):
            load(bad)


def _read_ahead_flags(path) -> list[bool]:
    """For each mapping of ``path`` in this process, whether it reads single pages (the "rr"
    VmFlag of MADV_RANDOM in /proc/self/smaps)."""
    flags, ours = [], False
    for line in open("/proc/self/smaps", encoding="utf-8"):
        if "-" in line.split(" ", 1)[0] and ":" not in line.split(" ", 1)[0]:
            ours = line.rstrip("\n").endswith(str(path))
        elif ours and line.startswith("VmFlags:"):
            flags.append("rr" in line.split())
    return flags


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/smaps")
@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_map_reads_single_pages_while_checked_and_reads_ahead_for_scoring(tmp_path, trained, layout):
    """A load's checks touch a few scattered pages, each read alone (no read-ahead of
    megabytes from a file not in memory); the model then scores with read-ahead back."""
    from lmkit.ngram.binfile import open_mapped
    path = tmp_path / "m.bin"
    write_binary(trained, path, layout=layout)
    mapped = open_mapped(path)
    assert _read_ahead_flags(path) == [True]
    mapped.checked()
    assert _read_ahead_flags(path) == [False]
    del mapped
    model, quick = NgramModel.load(path), QuickModel.open(path)
    assert _read_ahead_flags(path) == [False, False]
    assert model.score("the man said") == pytest.approx(trained.score("the man said"), abs=1e-4) and quick
