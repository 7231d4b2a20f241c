import random

import numpy as np
import pytest

from lmkit import ModelFormatError, Vocabulary
from lmkit.text import BOS_ID, DEFAULT_SPECIALS, EOS_ID, PAD, PAD_ID, UNK_ID, count_tokens

SENTS = [["b", "a", "c", "a"], ["a", "b", "d"], ["e"]]


def test_order_is_count_descending_then_token_and_specials_are_fixed():
    v = Vocabulary.build(SENTS)
    assert v.itos == ["<unk>", "<s>", "</s>", "a", "b", "c", "d", "e"]
    assert (v["<unk>"], v["<s>"], v["</s>"]) == (UNK_ID, BOS_ID, EOS_ID)
    assert v.count("a") == 3 and v.count("<s>") == 3 and v.count("zzz") == 0
    assert "a" in v and "zzz" not in v and len(v) == 8
    assert v["zzz"] == UNK_ID


def test_min_count_and_max_size_move_counts_to_unk():
    v = Vocabulary.build(SENTS, min_count=2)
    assert v.words == ["a", "b"]
    assert v.count("<unk>") == 3  # c, d, e
    v = Vocabulary.build(SENTS, max_size=1)
    assert v.words == ["a"] and v.count("<unk>") == 5


def test_pad_has_id_3_and_survives_a_round_trip(tmp_path):
    v = Vocabulary.build(SENTS, specials=("<unk>", "<s>", "</s>", PAD))
    assert v[PAD] == PAD_ID
    v.save(tmp_path / "v.tsv")
    assert Vocabulary.load(tmp_path / "v.tsv") == v


def test_round_trip_through_file(tmp_path, brown_path):
    from lmkit import Corpus, Tokenizer
    v = Vocabulary.build(Corpus(brown_path, Tokenizer("whitespace")), min_count=3)
    for name in ("v.tsv", "v.tsv.gz"):
        v.save(tmp_path / name)
        w = Vocabulary.load(tmp_path / name)
        assert w == v and w.stoi == v.stoi
    first = (tmp_path / "v.tsv").read_text(encoding="utf-8").splitlines()[3]
    assert first == "the\t62713"


def test_encode_decode_round_trip():
    v = Vocabulary.build(SENTS)
    ids = v.encode(["a", "zzz", "e"])
    assert ids.dtype == np.int32 and ids.tolist() == [3, UNK_ID, 7]
    assert v.decode(ids) == ["a", "<unk>", "e"]


def test_loads_word2vec_save_vocab_files(tmp_path):
    path = tmp_path / "w2v.vocab"
    path.write_text("</s> 0\nthe 10\ncat 2\n", encoding="utf-8")
    v = Vocabulary.load(path)
    assert v.words == ["the", "cat"] and v.count("</s>") == 0 and v["the"] == 3


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("a\t1\nb\n", ":2: expected 'token<TAB>count'"),
    ("a\t1\nb\tx\n", ":2: count 'x' is not an integer"),
    ("a\t1\na\t2\n", "appears twice"),
])
def test_bad_vocabulary_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelFormatError, match=message):
        Vocabulary.load(path)


def test_count_tokens_on_lists():
    counts, n = count_tokens(SENTS)
    assert n == 3 and counts["a"] == 3


def test_tokens_with_white_space_cannot_be_saved(tmp_path):
    v = Vocabulary.from_counts({"a b": 2})
    with pytest.raises(ModelFormatError, match="white space"):
        v.save(tmp_path / "v.tsv")
    assert not (tmp_path / "v.tsv").exists()


def test_from_counts_orders_as_the_definition_says():
    """Most frequent first, ties in token order, min_count and max_size applied, specials
    first with <unk> holding what was left out: against a plain sorted() reference."""
    rng = random.Random(7)
    for _ in range(200):
        tokens = {"".join(rng.choice("abcé<>unks/") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(0, 50))}
        counts = {t: rng.randint(0, 6) for t in sorted(tokens) + ["<unk>"] * (rng.random() < 0.3)}
        min_count, max_size, n_sent = rng.randint(1, 3), rng.choice([None, 0, 4, 20]), rng.randint(0, 9)
        kept = sorted(((t, c) for t, c in counts.items() if c >= min_count and t not in DEFAULT_SPECIALS),
                      key=lambda tc: (-tc[1], tc[0]))[:max_size]
        v = Vocabulary.from_counts(counts, min_count=min_count, max_size=max_size, n_sentences=n_sent)
        assert v.itos == list(DEFAULT_SPECIALS) + [t for t, _ in kept]
        left_out = sum(c for t, c in counts.items() if t not in DEFAULT_SPECIALS) - sum(c for _, c in kept)
        assert v.counts.tolist() == [left_out, n_sent, n_sent] + [c for _, c in kept]


def test_packed_vocabulary_acts_as_the_vocabulary_it_packs_and_decodes_lazily():
    from lmkit.text.types import utf8_blob
    from lmkit.text.vocab import PackedVocabulary
    plain = Vocabulary.build([["a", "b", "b", "ça", "ça", "ça"], ["日本", "b"]])
    packed = PackedVocabulary(*plain.utf8(), plain.counts, source="v.bin")
    assert len(packed) == len(plain) and packed.unk_id == plain.unk_id == 0
    assert [packed.token(i) for i in range(len(plain))] == plain.itos
    assert packed._itos is None and packed._stoi is None                # nothing decoded yet
    assert packed == plain and packed.stoi == plain.stoi and "ça" in packed and packed["zz"] == 0
    assert packed.encode(["ça", "zz", "日本"]).tolist() == plain.encode(["ça", "zz", "日本"]).tolist()
    assert packed.decode([3, 4]) == plain.decode([3, 4]) and packed.count("b") == 3
    blob, off = utf8_blob(plain.itos)
    for args, message in [((blob, off[::-1]), "offsets do not fit"),
                          ((blob[:-1], off), "offsets do not fit"),
                          ((blob, off, np.zeros(2)), "2 counts for"),
                          (utf8_blob(["<s>", "<unk>", "</s>"]), "must start with its special tokens")]:
        with pytest.raises(ModelFormatError, match=message):
            PackedVocabulary(*args, source="v.bin")
    twice = PackedVocabulary(*utf8_blob(["<unk>", "<s>", "</s>", "x", "x"]), source="v.bin")
    with pytest.raises(ModelFormatError, match="v.bin: token 'x' appears twice"):
        _ = twice.stoi
    broken = np.frombuffer(b"<unk><s></s>\xff", np.uint8)
    with pytest.raises(ModelFormatError, match="v.bin: bad vocabulary"):
        _ = PackedVocabulary(broken, np.array([0, 5, 8, 12, 13]), source="v.bin").itos


@pytest.mark.parametrize("dtype", [np.uint32, np.int64])
def test_word_index_finds_every_word_and_nothing_else(dtype):
    """The fixed-vocabulary word index (stored in binary n-gram models), in both slot types:
    every word's bytes give its id, other byte strings -1; a word listed twice is reported; an
    index of random entries (a damaged file) still ends every lookup and names no id outside
    the words."""
    from lmkit.text._kernels import find_word
    from lmkit.text.types import build_word_index, utf8_blob, word_index_size
    rng = np.random.default_rng(0)
    words = sorted({"".join(rng.choice(list("abcdéz€"), rng.integers(1, 9))) for _ in range(3000)})
    blob, offsets = utf8_blob(words)
    index, twice = build_word_index(blob, offsets, dtype)
    assert twice == -1 and len(index) == word_index_size(len(words)) and index.dtype == dtype
    for t, w in enumerate(words):
        data = np.frombuffer(w.encode(), np.uint8)
        assert find_word(data, 0, len(data), index, blob, offsets) == t
    for w in ("", "q", words[0] + "q", "abcdéz€x"):
        data = np.frombuffer(w.encode(), np.uint8)
        assert find_word(data, 0, len(data), index, blob, offsets) == (words.index(w) if w in words else -1)
    _, twice = build_word_index(*utf8_blob(words[:50] + [words[7]]), dtype)
    assert twice == 50
    id_bits = 24 if dtype is np.uint32 else 32
    junk = rng.integers(0, 2 ** 32, len(index)).astype(dtype) if dtype is np.uint32 \
        else rng.integers(-2 ** 62, 2 ** 62, len(index))
    full = np.full(len(index), 5 << id_bits, dtype)      # no empty slot, every id the first word's
    for bad in (junk, full):
        for w in words[:300]:
            data = np.frombuffer(w.encode(), np.uint8)
            assert find_word(data, 0, len(data), bad, blob, offsets) in (-1, words.index(w))


def test_word_index_slots_are_32_bits_up_to_16_million_words(monkeypatch):
    """5 bytes a word up to NARROW_INDEX_WORDS words (24-bit ids), 64-bit slots beyond; a
    32-bit index given for more words than its ids can name is refused."""
    from lmkit.text import types, vocab
    from lmkit.text.types import NARROW_INDEX_WORDS, utf8_blob, word_index_dtype
    from lmkit.text.vocab import PackedVocabulary
    assert word_index_dtype(NARROW_INDEX_WORDS) is np.uint32 and word_index_dtype(NARROW_INDEX_WORDS + 1) is np.int64
    assert NARROW_INDEX_WORDS < (1 << 24) - 1      # the largest id keeps a zero bit: no id looks empty
    words = ["<unk>", "<s>", "</s>", "a", "b", "c"]
    index, _ = types.build_word_index(*utf8_blob(words))
    assert index.dtype == np.uint32
    monkeypatch.setattr(vocab, "NARROW_INDEX_WORDS", 5)
    with pytest.raises(ModelFormatError, match="v.bin: a word index of uint32 slots cannot hold 6 words"):
        PackedVocabulary(*utf8_blob(words), source="v.bin", index=index)
