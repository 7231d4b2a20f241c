"""Whitespace tokens looked up in a stored word index by numpy alone: the tokens of
``str.split()`` and the ids of the vocabulary (as the numba kernels find them), every
character ``str.split()`` splits at, words of any length and script, damaged indexes."""
import numpy as np
import pytest

from lmkit.text import Corpus, Tokenizer, Vocabulary, encode_corpus
from lmkit.text._kernels import find_word
from lmkit.text.index_lookup import look_up, split_and_look_up
from lmkit.text.types import build_word_index, utf8_blob
from lmkit.text.vocab import PackedVocabulary

RNG = np.random.default_rng(5)
LETTERS = list("abcdefghijklmnopqrstuvwxyzé中ß") + ["\U0001F600"]


def _words(n):
    return sorted({"".join(RNG.choice(LETTERS, int(RNG.integers(1, 12)))) for _ in range(n)})


@pytest.fixture(scope="module")
def vocab():
    words = _words(4000) + ["x" * 150]
    return Vocabulary.build([words])


def _text(vocab, lines, seps):
    known = vocab.itos[3:]
    out = []
    for _ in range(lines):
        toks = [str(RNG.choice(known)) if RNG.random() < 0.9 else "".join(RNG.choice(LETTERS, 5)) + "?"
                for _ in range(int(RNG.integers(0, 15)))]
        out.append("".join(t + str(RNG.choice(seps)) for t in toks))
    return "\n".join(out)


def test_tokens_and_ids_are_str_split_and_the_vocabulary(vocab):
    """ASCII separators of every kind (tab, vertical tab, form feed, CR, the four information
    separators), empty lines, a last line without newline, unknown and 150-byte words."""
    index, blob, offsets = vocab.word_index()
    seps = [" ", "  ", "\t", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f", " \t "]
    for end in ("\n", ""):
        text = _text(vocab, 300, seps) + "\n\n" + "x" * 150 + " " + "x" * 149 + end
        got = split_and_look_up(text.encode(), index, blob, offsets, vocab.unk_id)
        lines = text.split("\n")
        if end:
            lines.pop()
        want_ids = [vocab.stoi.get(t, vocab.unk_id) for line in lines for t in line.split()]
        assert got is not None
        np.testing.assert_array_equal(got[0], want_ids)
        np.testing.assert_array_equal(got[1], [len(line.split()) for line in lines])
        assert got[0].dtype == np.int32 and got[1].dtype == np.int64


def test_tokens_longer_than_a_16_bit_length():
    """Tokens of 32 KiB and more are ordered by their full length too (short texts by a 16-bit
    radix sort), so every one still finds its word."""
    long_word = "y" * 40000
    vocab = Vocabulary.build([["a", "bb", long_word, "z" * 32768]])
    index, blob, offsets = vocab.word_index()
    tokens = ["a", long_word, "y" * 39999, "z" * 32768, "bb", "z" * 32767, "a"]
    got = split_and_look_up(" ".join(tokens).encode(), index, blob, offsets, vocab.unk_id)
    assert got is not None
    np.testing.assert_array_equal(got[0], [vocab.stoi.get(t, vocab.unk_id) for t in tokens])


def test_blocks_that_may_hold_a_wide_space_are_left_to_the_caller(vocab):
    index, blob, offsets = vocab.word_index()
    for space in ("\u00a0", "\u0085", "\u2003", "\u3000", "\u1680"):
        assert split_and_look_up(f"a{space}b\n".encode(), index, blob, offsets, 0) is None


@pytest.mark.parametrize("dtype", [np.uint32, np.int64])
def test_ids_are_the_kernels_and_a_damaged_index_stays_inside_the_words(vocab, dtype):
    """Both slot types (32-bit: new files; 64-bit: version 3 files and huge vocabularies)."""
    blob, offsets = vocab.utf8()
    index, _ = build_word_index(blob, offsets, dtype)
    tokens = vocab.itos + ["nope", "é?", ""]
    data = np.frombuffer("".join(tokens).encode(), np.uint8)
    lengths = np.array([len(t.encode()) for t in tokens], np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    want = [find_word(data, s, s + n, index, blob, offsets) for s, n in zip(starts, lengths)]
    np.testing.assert_array_equal(want, np.arange(len(tokens)) * (np.arange(len(tokens)) < len(vocab))
                                  - (np.arange(len(tokens)) >= len(vocab)))
    np.testing.assert_array_equal(look_up(data, starts, lengths, index, blob, offsets), want)
    id_bits = 24 if dtype is np.uint32 else 32
    junk = RNG.integers(0, 2 ** 32, len(index)).astype(dtype) if dtype is np.uint32 \
        else RNG.integers(-2 ** 62, 2 ** 62, len(index))
    for bad in (junk, np.full(len(index), 7 << id_bits, dtype)):
        got = look_up(data, starts, lengths, bad, blob, offsets)
        assert np.all((got == -1) | (got == np.arange(len(tokens))))


@pytest.mark.parametrize("round_slots", [1 << 20, 100])
@pytest.mark.parametrize("dtype", [np.uint32, np.int64])
def test_long_probes_and_damaged_indexes_find_what_the_kernel_finds(vocab, dtype, round_slots, monkeypatch):
    """Probes longer than a round's slots, wrapping past the last slot, tables without an
    empty slot and with junk: every token gets the kernel's answer (numpy reads several slots
    a round after the home slot, within a budget of slots a round: tested at the default and
    below one wide round's worth; the kernel reads one at a time)."""
    from lmkit.text import index_lookup
    monkeypatch.setattr(index_lookup, "_ROUND_SLOTS", round_slots)
    widest = []
    real_nonzero = np.nonzero

    def spy(a):
        if a.ndim == 2:
            widest.append(a.size)
        return real_nonzero(a)
    monkeypatch.setattr(index_lookup.np, "nonzero", spy)
    blob, offsets = vocab.utf8()
    index, _ = build_word_index(blob, offsets, dtype)
    tokens = vocab.itos + ["nope", "é?", "", "zzzzzzzz"]
    data = np.frombuffer("".join(tokens).encode(), np.uint8)
    lengths = np.array([len(t.encode()) for t in tokens], np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    filled = index[index != np.iinfo(np.uint32).max] if dtype is np.uint32 else index[index != -1]
    junk = RNG.integers(0, 2 ** 32, len(index)).astype(dtype) if dtype is np.uint32 \
        else RNG.integers(-2 ** 62, 2 ** 62, len(index))
    tables = {"shifted 40 slots": np.roll(index, 40), "shifted 17 back": np.roll(index, -17),
              "no empty slot": np.resize(filled, len(index)), "junk": junk,
              "tiny": index[:5]}
    for name, table in tables.items():
        want = [find_word(data, s, s + n, table, blob, offsets) for s, n in zip(starts, lengths)]
        got = look_up(data, starts, lengths, table, blob, offsets)
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert any(find_word(data, s, s + n, tables["shifted 40 slots"], blob, offsets) >= 0
               for s, n in zip(starts, lengths))
    # a round reads at most the budget, or one slot a token when more tokens than that probe
    assert widest and max(widest) <= max(round_slots, len(tokens))


def test_two_ids_with_the_same_word_give_the_first_in_probe_order(vocab):
    """Damaged offsets that give ids 20 and 10 the same bytes, both in a word's probe (in one
    of the numpy lookup's wide rounds): the one met first wins, as in the kernel."""
    from lmkit.text.index_lookup import _hashes
    blob, offsets = vocab.utf8()
    offsets = offsets.copy()
    offsets[20:22] = offsets[10:12]
    token = np.frombuffer(blob[offsets[10]:offsets[11]].tobytes(), np.uint8)
    start, length = np.zeros(1, np.int64), np.array([len(token)], np.int64)
    h = int(_hashes(token, start, length)[0])
    cap = 8
    home, tag = ((h & 0xFFFFFFFF) * cap) >> 32, h >> 56
    index = np.full(cap, 0xFFFFFFFF, np.uint32)
    index[home] = ((tag ^ 1) << 24) | 3        # another word's: both ids are in the next round
    index[(home + 1) % cap], index[(home + 2) % cap] = (tag << 24) | 20, (tag << 24) | 10
    assert find_word(token, 0, len(token), index, blob, offsets) == 20
    assert look_up(token, start, length, index, blob, offsets).tolist() == [20]


def test_encoding_by_the_stored_index_equals_numba(tmp_path, vocab):
    """encode_corpus(numba=False) with a model file's vocabulary (stored index) gives the numba
    tokenizer's ids, for an ASCII-separated file and for one that needs the string path."""
    index, blob, offsets = vocab.word_index()
    packed = PackedVocabulary(*utf8_blob(vocab.itos), index=index)
    assert packed.stored_index is not None
    for name, seps in (("plain.txt", [" ", "\t", "\x1f"]), ("wide.txt", [" ", "\u00a0", "\u2003"])):
        (tmp_path / name).write_text(_text(vocab, 500, seps) + "\n", encoding="utf-8")
        corpus = Corpus([tmp_path / name], tokenizer=Tokenizer("whitespace"))
        a, b = encode_corpus(corpus, vocab), encode_corpus(corpus, packed, numba=False)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.offsets, b.offsets)
