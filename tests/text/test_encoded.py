import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmkit import (
    Corpus,
    EncodedCorpus,
    ModelFormatError,
    Tokenizer,
    Vocabulary,
    encode_corpus,
)


def test_file_and_streamed_lists_give_identical_ids(brown_path):
    corpus = Corpus(brown_path, Tokenizer("whitespace", lowercase=True))
    vocab = Vocabulary.build(corpus, min_count=2)
    from_file = encode_corpus(corpus, vocab)
    sentences = [line.lower().split() for line in
                 __import__("gzip").open(brown_path, "rt", encoding="utf-8")]
    from_lists = encode_corpus(iter(sentences), vocab)
    assert np.array_equal(from_file.ids, from_lists.ids)
    assert np.array_equal(from_file.offsets, from_lists.offsets)
    assert from_file.n_sentences == 57340 and from_file.n_tokens == 1161192
    # every sentence decodes back to its tokens (rare ones as <unk>)
    for i in (0, 1234, 57339):
        expected = [t if t in vocab else "<unk>" for t in sentences[i]]
        assert vocab.decode(from_file.sentence(i)) == expected


def test_cache_streams_to_disk_and_loads_memory_mapped(tmp_path, shakespeare_path):
    corpus = Corpus(shakespeare_path, Tokenizer("regex"))
    vocab = Vocabulary.build(corpus)
    in_memory = encode_corpus(corpus, vocab)
    cached = encode_corpus(corpus, vocab, cache=tmp_path / "enc")
    assert isinstance(cached.ids, np.memmap)
    loaded = EncodedCorpus.load(tmp_path / "enc")
    assert isinstance(loaded.ids, np.memmap)
    for other in (cached, loaded):
        assert np.array_equal(other.ids, in_memory.ids)
        assert np.array_equal(other.offsets, in_memory.offsets)
    assert loaded.vocab == vocab
    assert loaded.meta["tokenizer"] == {"mode": "regex", "lowercase": False}
    assert not list((tmp_path / "enc").glob(".*"))  # no temporary files left


def test_save_load_round_trip_and_bad_folders(tmp_path):
    vocab = Vocabulary.build([["a", "b"], ["b"]])
    enc = encode_corpus([["a", "b"], [], ["b", "c"]], vocab)
    assert enc.lengths().tolist() == [2, 0, 2]
    enc.save(tmp_path / "e")
    back = EncodedCorpus.load(tmp_path / "e", mmap=False)
    assert back.ids.tolist() == enc.ids.tolist() == [4, 3, 3, 0]  # b=3 (2x), a=4
    with pytest.raises(ModelFormatError, match="missing"):
        EncodedCorpus.load(tmp_path / "nothing")
    (tmp_path / "e" / "meta.json").write_text('{"format": "lmkit-encoded-corpus", "version": 99}')
    with pytest.raises(ModelFormatError, match="version 99 is not supported"):
        EncodedCorpus.load(tmp_path / "e")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="ab c.\n'", max_size=30), max_size=20))
def test_encoding_is_deterministic(lines):
    tok = Tokenizer("regex")
    sents = [tok(line) for line in lines]
    v1, v2 = Vocabulary.build(sents), Vocabulary.build(list(reversed(sents)))
    assert v1.itos == v2.itos
    a, b = encode_corpus(sents, v1), encode_corpus(sents, v2)
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.offsets, b.offsets)


def test_ids_do_not_depend_on_hash_seed(tmp_path, shakespeare_path):
    code = ("import sys, hashlib; from lmkit import *; c = Corpus(sys.argv[1], Tokenizer('regex')); "
            "v = Vocabulary.build(c); e = encode_corpus(c, v); "
            "print(hashlib.sha1(e.ids.tobytes()).hexdigest())")
    digests = set()
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, str(shakespeare_path)], capture_output=True,
                             text=True, check=True, env={"PYTHONHASHSEED": seed, "PATH": ""})
        digests.add(out.stdout)
    assert len(digests) == 1


@pytest.mark.parametrize("min_count,max_size", [(1, None), (2, None), (1, 50), (3, 10)])
def test_one_pass_build_and_encode_equals_two_passes(shakespeare_path, min_count, max_size):
    from lmkit.text import Corpus, Tokenizer, build_and_encode
    corpus = Corpus(shakespeare_path, Tokenizer("whitespace"), quiet=True)
    one = build_and_encode(corpus, min_count=min_count, max_size=max_size)
    vocab = Vocabulary.build(corpus, min_count=min_count, max_size=max_size)
    two = encode_corpus(corpus, vocab)
    assert one.vocab.itos == vocab.itos and one.vocab.counts.tolist() == vocab.counts.tolist()
    assert np.array_equal(one.ids, two.ids) and np.array_equal(one.offsets, two.offsets)
    assert one.meta == two.meta


@pytest.mark.parametrize("min_count", [1, 3])
@pytest.mark.parametrize("given_vocab", [False, True])
@pytest.mark.parametrize("spill_after", [0, 5000, 10 ** 9])
def test_spilled_corpus_equals_the_in_memory_one(shakespeare_path, tmp_path, min_count, given_vocab, spill_after):
    """Ids written to a file and renumbered there (the chunked trainer's corpus) once there are
    more than ``spill_after`` (else kept in memory, the folder never made): the same
    vocabulary, ids and offsets as in memory; pieces read from the file equal the slices."""
    from lmkit.text import Corpus, LazyFolder, Tokenizer, build_and_encode, read_ids, spill_corpus
    corpus = Corpus(shakespeare_path, Tokenizer("whitespace"), quiet=True)
    whole = build_and_encode(corpus, min_count=min_count)
    with LazyFolder("t-") as folder:
        spilled = spill_corpus(corpus, whole.vocab if given_vocab else None, folder, min_count=min_count,
                               spill_after=spill_after)
        assert (folder._made is not None) == (spill_after < whole.n_tokens) == isinstance(spilled.ids, np.memmap)
        assert spilled.vocab.itos == whole.vocab.itos and spilled.vocab.counts.tolist() == whole.vocab.counts.tolist()
        assert np.array_equal(spilled.ids, whole.ids) and np.array_equal(spilled.offsets, whole.offsets)
        rng = np.random.default_rng(0)
        for lo, hi in [(0, 0), (0, 1), (5, 5), (len(whole.ids) - 3, len(whole.ids))] + \
                [tuple(sorted(rng.integers(0, len(whole.ids), 2))) for _ in range(20)]:
            got = read_ids(spilled.ids, int(lo), int(hi))
            assert not isinstance(got, np.memmap) and np.array_equal(got, whole.ids[lo:hi])
    (tmp_path / "empty").mkdir()
    empty = spill_corpus([[], []], None, tmp_path / "empty")   # nothing to map
    assert empty.n_tokens == 0 and empty.n_sentences == 2


def test_one_pass_reads_a_generator_once_and_keeps_specials_in_text():
    from lmkit.text import build_and_encode
    sents = [["a", "<s>", "b"], [], ["b", "</s>", "<unk>", "c"]]
    one = build_and_encode(iter(sents))
    vocab = Vocabulary.build(sents)
    assert one.vocab.itos == vocab.itos and one.vocab.counts.tolist() == vocab.counts.tolist()
    assert np.array_equal(one.ids, encode_corpus(sents, vocab).ids)


TRICKY = ("a b\tc\n\n  lead and trail  \r\nnbsp\u00a0split nel\u0085split ideo\u3000space\n"
          "em\u2003space thin\u2009x line\u2028sep para\u2029sep nnbsp\u202fx mm\u205fsp og\u1680am\n"
          "\x1cfs\x1dgs\x1ers\x1fus \x0bvt\x0cff\n"
          "not\u00a1space \u00e2\u0080 caf\u00e9 \u65e5\u672c\u8a9e \U0001f600 \u2030 \u200b zero-width\n"
          "no trailing newline")


@pytest.mark.parametrize("block_bytes", [7, 1 << 20])
def test_byte_tokenizer_splits_exactly_as_str_split(tmp_path, block_bytes, monkeypatch):
    import lmkit.text.corpus as corpus_module
    from lmkit.text import Corpus, Tokenizer, build_and_encode
    monkeypatch.setattr(corpus_module, "BLOCK_BYTES", block_bytes)
    path = tmp_path / "tricky.txt"
    path.write_bytes(TRICKY.encode("utf-8") + b"\nbad \xff\xfe utf8\xc3 line\n")
    corpus = Corpus(path, Tokenizer("whitespace"), quiet=True)
    fast = build_and_encode(corpus)
    lines = [ln.rstrip("\r") for ln in TRICKY.split("\n")] + ["bad \ufffd\ufffd utf8\ufffd line"]
    sentences = [ln.split() for ln in lines]
    assert [[fast.vocab.itos[i] for i in fast.ids[a:b]] for a, b in zip(fast.offsets, fast.offsets[1:])] == sentences
    slow = encode_corpus(sentences, Vocabulary.build(sentences))
    assert fast.vocab.itos == slow.vocab.itos and np.array_equal(fast.ids, slow.ids)
    assert corpus.stats.replaced_lines == 1
    counted = Vocabulary.build(corpus)   # counted through the byte path too
    assert counted.itos == slow.vocab.itos and counted.counts.tolist() == slow.vocab.counts.tolist()
    again = encode_corpus(corpus, fast.vocab)   # the fast path with a given vocabulary
    assert np.array_equal(again.ids, fast.ids) and np.array_equal(again.offsets, fast.offsets)


def test_byte_tokenizer_grows_its_tables(tmp_path):
    from lmkit.text import Corpus, Tokenizer, build_and_encode
    rng = np.random.default_rng(0)
    words = [f"w{i}é" * int(rng.integers(1, 40)) for i in range(70_000)]   # > first table sizes
    path = tmp_path / "many.txt"
    path.write_text("\n".join(" ".join(words[i:i + 13]) for i in range(0, len(words), 13)) + "\n", encoding="utf-8")
    fast = build_and_encode(Corpus(path, Tokenizer("whitespace"), quiet=True))
    assert sorted(fast.vocab.words) == sorted(words)
    assert [fast.vocab.itos[i] for i in fast.ids[:26]] == words[:26]
