"""Memory-mapped binary models: the same scores as the model they were built from, every
reader check exercised by damaged files, and the CLI."""
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from lmkit import ModelFormatError
from lmkit.ngram import SMOOTHINGS, NgramModel
from lmkit.ngram.binary import MAGIC, write_binary

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


def test_scores_equal_the_source_model(tmp_path, trained, test_lines):
    write_binary(trained, tmp_path / "m.bin")
    mapped = NgramModel.load(tmp_path / "m.bin")
    assert isinstance(mapped.log_probs[0], np.ndarray) and not mapped.log_probs[0].flags.writeable
    np.testing.assert_array_equal(_scores(mapped, test_lines), _scores(trained, test_lines))
    assert mapped.perplexity(test_lines).perplexity == trained.perplexity(test_lines).perplexity
    assert mapped.sizes == trained.sizes and mapped.vocab.itos == trained.vocab.itos
    mapped.save(tmp_path / "back.arpa", quiet=True)
    trained.save(tmp_path / "orig.arpa", quiet=True)
    assert (tmp_path / "back.arpa").read_bytes() == (tmp_path / "orig.arpa").read_bytes()


def test_kenlm_blanks_and_missing_unk_survive(tmp_path):
    for name in ("test.arpa", "test_nounk.arpa"):
        arpa = NgramModel.load(DATA / name, quiet=True)
        write_binary(arpa, tmp_path / "k.bin")
        mapped = NgramModel.load(tmp_path / "k.bin")
        sent = "looking on a little the biarritz not_found more ."
        assert list(mapped.full_scores(sent)) == list(arpa.full_scores(sent))


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
def test_truncated_or_foreign_files_are_refused(tmp_path, trained, edit, message):
    write_binary(trained, tmp_path / "m.bin")
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", edit)
    with pytest.raises(ModelFormatError, match=message):
        NgramModel.load(bad)


def _poke(name, index, value):
    def edit(d):
        off, dtype = _array_at(d, name)
        d[off + index * dtype.itemsize: off + (index + 1) * dtype.itemsize] = np.array([value], dtype).tobytes()
    return edit


@pytest.mark.parametrize("name,index,value,message", [
    ("word", -1, 10 ** 8, "outside the vocabulary"),
    ("ctx", -1, 10 ** 8, "contexts outside"),
    ("logprob", 5, 0.5, "impossible probabilities"),
    ("table_vals", None, 10 ** 8, "pointing outside"),
    ("table_keys", None, 12345, "key is not its n-gram"),
    ("vocab_offsets", 2, 10 ** 9, "vocabulary offsets"),
])
def test_corrupted_arrays_are_refused(tmp_path, trained, name, index, value, message):
    write_binary(trained, tmp_path / "m.bin")
    if index is None:   # a used slot of the last order's table
        mapped = NgramModel.load(tmp_path / "m.bin")
        tk, tv, ts, tc = mapped._tables[:4]
        lo = int(ts[-1])
        index = lo + int(np.flatnonzero(np.asarray(tv[lo:lo + int(tc[-1])]) >= 0)[0])
    if index == -1:   # a bigram's entry
        index = trained.sizes[0] + 3
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", _poke(name, index, value))
    with pytest.raises(ModelFormatError, match=message):
        NgramModel.load(bad)


def test_a_key_moved_out_of_reach_is_refused(tmp_path, trained):
    write_binary(trained, tmp_path / "m.bin")
    mapped = NgramModel.load(tmp_path / "m.bin")
    tk, tv, ts, tc = (np.array(a) for a in mapped._tables[:4])
    lo, cap = int(ts[-1]), int(tc[-1])
    used = np.flatnonzero(tv[lo:lo + cap] >= 0)
    empty = np.flatnonzero(tv[lo:lo + cap] < 0)
    src = int(used[0]) + lo
    dst = int(empty[(empty + lo > src + 2)][0]) + lo   # an empty slot past a gap

    def edit(d):
        for name, arr in (("table_keys", tk), ("table_vals", tv)):
            off, dtype = _array_at(d, name)
            moved = arr.copy()
            moved[dst], moved[src] = arr[src], -1
            d[off:off + moved.nbytes] = moved.astype(dtype).tobytes()
    bad = _damage(tmp_path / "m.bin", tmp_path / "bad.bin", edit)
    with pytest.raises(ModelFormatError, match="cannot reach"):
        NgramModel.load(bad)


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
                                  "--layout", "trie"], capture_output=True, text=True)
    assert res.returncode == 2 and "invalid choice" in res.stderr


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("suffix", [".lmk", ".bin"])
def test_every_smoothing_round_trips(tmp_path, ts_split, test_lines, smoothing, suffix):
    # mle's backoffs are log 0 (-inf) where a context's words take all the mass
    lines = ts_split[0].read_text(encoding="utf-8").splitlines()[:1500]
    model = NgramModel.train([ln.split() for ln in lines], order=3, smoothing=smoothing, quiet=True)
    path = tmp_path / f"m{suffix}"
    if suffix == ".bin":
        write_binary(model, path)
    else:
        model.save(path)
    again = NgramModel.load(path)
    np.testing.assert_array_equal(_scores(again, test_lines[:100]), _scores(model, test_lines[:100]))
