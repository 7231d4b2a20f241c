"""The numba ARPA reader against the plain-Python one it replaced (tests/ngram/naive_arpa.py):
the same arrays for every kind of file, the same errors for broken ones, whatever the block
size and the split between the two parsing threads."""
from __future__ import annotations

import gzip
import random
import re
from pathlib import Path

import numpy as np
import pytest

from lmkit.errors import ModelFormatError
from lmkit.ngram import NgramModel, arpa
from lmkit.ngram.arpa import read_arpa

from .naive_arpa import naive_read_arpa

DATA = Path(__file__).resolve().parents[1] / "data"


def assert_same_arrays(path) -> None:
    ref = naive_read_arpa(path)
    got = read_arpa(path, quiet=True)
    assert got[0].itos == ref[0].itos
    for k in range(len(ref[2])):
        for name, a, b in zip(("ctx", "word", "logprob", "backoff"), (r[k] for r in ref[1:5]), (g[k] for g in got[1:5])):
            a = np.asarray(a)
            if name in ("logprob", "backoff"):
                a = a.astype(np.float32)      # the model keeps float32; the reference parsed float64
            assert a.shape == b.shape, (k + 1, name)
            assert a.dtype.kind == b.dtype.kind, (k + 1, name)
            assert np.array_equal(a, b), (k + 1, name)   # -inf == -inf; no NaN can be read


def outcome(reader, path):
    try:
        return reader(path)
    except ModelFormatError as exc:
        return str(exc)


@pytest.fixture(scope="module")
def corpus():
    lines = gzip.open(DATA.parent.parent / "data" / "brown.txt.gz", "rt", encoding="utf-8").read().splitlines()
    return [ln.split() for ln in lines[:3000]]


@pytest.fixture(scope="module")
def arpa_files(tmp_path_factory, corpus):
    folder = tmp_path_factory.mktemp("arpa")
    files = {}
    for name, order, kwargs in [("mkn4", 4, {}), ("katz3", 3, {"smoothing": "katz"}),
                                ("wb3_pruned", 3, {"smoothing": "wb", "prune": [0, 1, 1]}),
                                ("mle2", 2, {"smoothing": "mle"}), ("stupid3", 3, {"smoothing": "stupid"}),
                                ("kn1", 1, {"smoothing": "kn"}), ("small", 3, {})]:
        path = folder / f"{name}.arpa"
        data = corpus[:200] if name == "small" else corpus
        NgramModel.train(data, order=order, quiet=True, **kwargs).save(path)
        files[name] = path
    files["kenlm_test"] = DATA / "kenlm" / "test.arpa"
    files["kenlm_nounk"] = DATA / "kenlm" / "test_nounk.arpa"
    files["lmplz_gz"] = DATA / "lmplz.tinyshakespeare.o3.arpa.gz"
    return files


def _rewrite(src: Path, dst: Path, edit) -> Path:
    dst.write_bytes(edit(src.read_bytes()))
    return dst


def _shuffle_sections(text: bytes) -> bytes:
    """Every section's lines in a seeded random order (readers must sort)."""
    rng = random.Random(5)
    parts = re.split(rb"(\\\d+-grams:\n)", text)
    out = [parts[0]]
    for head, body in zip(parts[1::2], parts[2::2]):
        lines, rest = body.split(b"\n\n", 1) if b"\n\n" in body else (body, b"")
        lines = lines.split(b"\n")
        rng.shuffle(lines)
        out += [head, b"\n".join(lines), b"\n\n", rest]
    return b"".join(out)


def _respell_numbers(text: bytes) -> bytes:
    """Numbers as other writers spell them: exponents, '+' signs, 17+ digits, '-.5', '1_0'
    (lines as lmkit writes them: ``prob<TAB>words[<TAB>backoff]``)."""
    rng = random.Random(9)

    def spell(field: bytes) -> bytes:
        v = float(field)
        choice = rng.randrange(6)
        if choice == 0:
            return f"{v:.6e}".encode()
        if choice == 1:
            return repr(v).encode()                     # up to 17 digits
        if choice == 2:
            return f"{v:.20f}".encode()                 # too many digits for the fast path
        if choice == 3 and -1 < v < 0:
            return f"-{str(-v)[1:]}".encode()          # "-.25"
        if choice == 4 and v == int(v) and abs(v) >= 10:
            s = str(int(v))
            return (s[:-1] + "_" + s[-1]).encode()      # Python's float() takes digit groups
        if choice == 5 and v == 0:
            return b"+0.0"
        return field
    head, body = text.split(b"\\1-grams:", 1)
    out = []
    for line in body.split(b"\n"):
        fields = line.split(b"\t")
        if len(fields) >= 2:
            fields[0] = spell(fields[0])
            if len(fields) == 3:
                fields[2] = spell(fields[2])
        out.append(b"\t".join(fields))
    return head + b"\\1-grams:" + b"\n".join(out)


EDITS = {
    "spaces": lambda t: t.replace(b"\t", b" "),
    "crlf": lambda t: t.replace(b"\n", b"\r\n"),
    "trailing_space": lambda t: re.sub(rb"(\d)\n", rb"\1 \t\n", t),
    "no_final_newline": lambda t: t.rstrip(b"\n"),
    "unicode_spaces": lambda t: t.replace(b"\t", "\u00a0\u2003".encode()),
    "shuffled": _shuffle_sections,
    "numbers": _respell_numbers,
}


@pytest.mark.parametrize("name", ["mkn4", "katz3", "wb3_pruned", "mle2", "stupid3", "kn1", "kenlm_test",
                                  "kenlm_nounk", "lmplz_gz"])
def test_same_arrays_as_the_python_reader(arpa_files, name):
    assert_same_arrays(arpa_files[name])


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("name", ["mkn4", "kenlm_test"])
def test_other_writers_spellings(tmp_path, arpa_files, name, edit):
    src = arpa_files[name]
    path = _rewrite(src, tmp_path / f"{name}.{edit}.arpa", EDITS[edit])
    assert_same_arrays(path)


def test_unicode_words(tmp_path):
    words = ["naïve", "日本語", "a\u200bb", "\u00e9t\u00e9", "x\x7fy"]   # zero-width space and DEL are not spaces
    uni = "".join(f"-1.5\t{w}\t-0.25\n" for w in words)
    text = (f"\\data\\\nngram 1={len(words) + 3}\nngram 2=2\n\n\\1-grams:\n-1\t<unk>\n0\t<s>\t-0.5\n-1\t</s>\n{uni}\n"
            f"\\2-grams:\n-0.5\t<s> {words[1]}\n-0.25\t{words[1]} {words[2]}\n\n\\end\\\n")
    path = tmp_path / "u.arpa"
    path.write_text(text, encoding="utf-8")
    assert_same_arrays(path)
    assert read_arpa(path, quiet=True)[0].itos[3:] == words


@pytest.mark.parametrize("block, parallel, names", [
    (7, 1 << 30, ("small", "kenlm_test")), (64, 64, ("small", "kenlm_test")),
    (1000, 200, ("small", "lmplz_gz")), (1 << 14, 1 << 10, ("mkn4",))])
def test_block_and_thread_boundaries(monkeypatch, arpa_files, tmp_path, block, parallel, names):
    """Tiny blocks put block ends inside numbers, words and multi-byte characters; a tiny
    threshold makes two threads parse halves of nearly every block."""
    monkeypatch.setattr(arpa._Blocks, "SIZE", block)
    monkeypatch.setattr(arpa, "_PARALLEL_BYTES", parallel)
    monkeypatch.setattr(arpa, "_SLOW_ROWS", 8)       # the list of numbers left to Python fills up
    for name in names:
        assert_same_arrays(arpa_files[name])
    src = arpa_files[names[0]]
    assert_same_arrays(_rewrite(src, tmp_path / "n.arpa", _respell_numbers))
    assert_same_arrays(_rewrite(src, tmp_path / "s.arpa", _shuffle_sections))
    assert_same_arrays(_rewrite(src, tmp_path / "u.arpa", EDITS["unicode_spaces"]))


GOOD = ("\\data\\\nngram 1=4\nngram 2=3\n\n\\1-grams:\n-1.0\t<unk>\t0\n0\t<s>\t-0.3\n-0.7\t</s>\t0\n-0.6\ta\t-0.2\n\n"
        "\\2-grams:\n-0.2\t<s> a\n-0.4\ta </s>\n-0.5\ta a\n\n\\end\\\n")


@pytest.mark.parametrize("old, new", [
    ("-0.6\ta\t-0.2", "-0.6\ta\xff\t-0.2"),          # invalid UTF-8 (written as latin-1 below)
    ("-0.4\ta </s>\n", "\n"),                          # a blank line inside a section
    ("-0.4\ta </s>", "-0.4\ta </s> x y"),              # too many fields
    ("-0.4\ta </s>", "-0.4\ta"),                       # too few
    ("-0.4\ta </s>", "x\ta </s>"),                     # not a number
    ("-0.4\ta </s>", "-0.4\ta </s>\tnan"),             # backoff NaN
    ("-0.4\ta </s>", "0.5\ta </s>"),                   # a positive log probability
    ("-0.4\ta </s>", "-inf\ta </s>"),
    ("-0.4\ta </s>", "-1e400\ta </s>"),                # -inf after parsing
    ("-0.4\ta </s>", "-0.4\tb </s>"),                  # the context is not a unigram
    ("-0.4\ta </s>", "-0.4\t</s> a"),                  # another listed context: fine
    ("-0.4\ta </s>", "-0.4\ta zz"),                    # the word is not a unigram
    ("-0.5\ta a\n", "-0.5\ta a\n-0.5\ta a\n"),         # more n-grams than declared
    ("-0.5\ta a\n\n\\end\\\n", "-0.5\ta a\n"),         # no \end\
    ("\\end\\\n", "\\end\\\ntrailing\n"),
    ("-0.5\ta a\n\n\\end\\\n", ""),                    # truncated mid-file
    ("ngram 2=3", "ngram 2=2"),
    ("-0.5\ta a", "-0.5\ta </s>"),                     # a bigram listed twice
    ("-0.6\ta\t-0.2", "-0.6\t</s>\t-0.2"),             # a unigram listed twice
    ("-0.6\ta\t-0.2", "-0.6\t<s>\t-0.2"),
])
def test_errors_match_the_python_reader(tmp_path, old, new):
    assert old in GOOD
    path = tmp_path / "bad.arpa"
    path.write_bytes(GOOD.replace(old, new, 1).encode("latin-1"))
    ref, got = outcome(naive_read_arpa, path), outcome(lambda p: read_arpa(p, quiet=True), path)
    if isinstance(ref, str) and "listed twice" in ref and "unigram" in ref:
        assert isinstance(got, str) and ref.split(": ", 1)[1] in got     # now with the line number
    elif isinstance(ref, str) and "is not a unigram" in ref:
        assert isinstance(got, str) and re.search(r"bad\.arpa:\d+: word 'zz' of this 2-gram is not a unigram", got)
    elif isinstance(ref, str):
        assert got == ref
    else:
        assert not isinstance(got, str), got
        assert_same_arrays(path)


def test_mutated_files_fail_or_read_alike(tmp_path, arpa_files):
    """Seeded random byte edits of a small model: both readers accept it with the same arrays,
    or both refuse it (ModelFormatError)."""
    base = arpa_files["kenlm_test"].read_bytes()
    rng = random.Random(11)
    accepted = 0
    for trial in range(150):
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            op = rng.randrange(4)
            if op == 0:
                data[at] = rng.choice(b"0123456789-.e \t\n\xc3\xa9xz")
            elif op == 1:
                del data[at]
            elif op == 2:
                data.insert(at, rng.choice(b"0123456789-. \t\nq"))
            else:
                end = data.find(b"\n", at)
                del data[at:end + 1 if end >= 0 else len(data)]     # cut the rest of a line
        path = tmp_path / f"m{trial}.arpa"
        path.write_bytes(bytes(data))
        ref = outcome(naive_read_arpa, path)
        got = outcome(lambda p: read_arpa(p, quiet=True), path)
        assert isinstance(ref, str) == isinstance(got, str), (trial, ref if isinstance(ref, str) else got)
        if not isinstance(ref, str):
            accepted += 1
            assert_same_arrays(path)
    assert 5 < accepted < 145       # the edits hit both harmless and fatal places


def test_an_arpa_model_scores_as_one_built_from_copies(arpa_files, corpus):
    """The reader's per-order arrays (views of its concatenated ones) score and find suffixes
    exactly as copies of them do."""
    model = NgramModel.load(arpa_files["mkn4"])
    fresh = NgramModel(model.vocab, [a.copy() for a in model.ctx], [a.copy() for a in model.word],
                       [a.copy() for a in model.log_probs], [a.copy() for a in model.log_backoffs], model.meta)
    for mine, built in zip(model._kernel_tables()[:-1], fresh._kernel_tables()[:-1]):   # bytes: slots hold keys and floats
        assert mine is None and built is None or mine.tobytes() == built.tobytes()
    assert model._kernel_tables().suffix_closed and fresh._kernel_tables().suffix_closed
    assert [np.array_equal(a, b) for a, b in zip(model.suffix_ids(), fresh.suffix_ids())] == [True] * 4
    ids = np.concatenate([model.vocab.encode(s) for s in corpus[:300]]).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in corpus[:300]])]).astype(np.int64)
    a, b = model.score_encoded((ids, offsets)), fresh.score_encoded((ids, offsets))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("n, top", [(0, 1), (1, 5), (7, 3), (5000, 2 ** 11), (5000, 2 ** 40), (20000, 2 ** 62)])
def test_radix_argsort_is_numpys_stable_argsort(n, top):
    from lmkit.ngram import _kernels as K
    rng = np.random.default_rng(n)
    keys = rng.integers(0, top, n, dtype=np.int64)
    keys[: n // 3] = keys[n // 3: 2 * (n // 3)]        # ties keep their order
    assert np.array_equal(K.radix_argsort(keys), np.argsort(keys, kind="stable"))
