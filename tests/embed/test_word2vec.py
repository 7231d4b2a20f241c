import subprocess
import sys

import numpy as np
import pytest

from lmkit import ConfigError, CorpusError, ModelFormatError
from lmkit.embed import KeyedVectors, Word2Vec

from ..conftest import ROOT


def test_training_puts_obvious_neighbours_together(brown_model):
    wv = brown_model.wv
    days = {"tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
    top = [w for w, _ in wv.most_similar("monday", topn=10)]
    assert len(days & set(top)) >= 3, top
    # a day is closer to another day than to an unrelated frequent word
    assert wv.similarity("monday", "tuesday") > wv.similarity("monday", "government")
    assert wv.similarity("he", "she") > wv.similarity("he", "water")


def test_loss_is_the_objective_and_decreases(small_sentences):
    model = Word2Vec(dim=30, epochs=4, workers=1, negative=5, seed=2).train(small_sentences, quiet=True)
    losses = [h.loss for h in model.history]
    assert losses[0] > losses[-1]
    assert 0 < losses[-1] < 6 * np.log(2)   # below the loss of an untrained model (6 ln 2)
    hs = Word2Vec(dim=30, epochs=3, workers=1, hs=True, negative=0, seed=2).train(small_sentences, quiet=True)
    assert hs.history[0].loss > hs.history[-1].loss


def test_fixed_weight_objective_falls_every_epoch(small_sentences):
    model = Word2Vec(dim=30, epochs=4, workers=1, seed=2)
    model.build_vocab(small_sentences)
    values = [model.objective(small_sentences)]
    for _ in range(4):
        model.train(small_sentences, resume=True, stop_after=1, quiet=True)
        values.append(model.objective(small_sentences))
    assert values[0] == pytest.approx(6 * np.log(2), rel=0.02)   # untrained: every sigma is 1/2
    assert all(a > b for a, b in zip(values, values[1:])), values


@pytest.mark.parametrize("params", [dict(sg=False), dict(hs=True, negative=0), dict(hs=True, negative=3),
                                    dict(sg=False, hs=True, negative=0)])
def test_every_mode_learns(small_sentences, params):
    """Each mode's loss falls (one worker: deterministic; Hogwild threads are tested below)."""
    model = Word2Vec(dim=30, epochs=3, workers=1, seed=4, **params).train(small_sentences, quiet=True)
    assert model.history[-1].loss < model.history[0].loss
    assert np.isfinite(model.wv.vectors).all()


@pytest.mark.parametrize("params", [dict(), dict(hs=True, negative=0), dict(hs=True, negative=3)])
def test_two_workers_train_as_well(tmp_path, small_sentences, params):
    one = Word2Vec(dim=30, epochs=3, workers=1, seed=4, **params).train(small_sentences, quiet=True)
    two = Word2Vec(dim=30, epochs=3, workers=2, seed=4, **params).train(small_sentences, quiet=True)
    assert two.history[-1].loss == pytest.approx(one.history[-1].loss, rel=0.03)
    assert two.objective(small_sentences) == pytest.approx(one.objective(small_sentences), rel=0.03)
    # the threads' private rows live outside the saved matrices; unused output layers are empty
    V = len(one.vocab)
    assert one.syn1.shape == ((V - 1, 30) if one.config.hs else (0, 30))
    assert one.syn1neg.shape == ((V, 30) if one.config.negative else (0, 30))
    assert (two.syn1.shape, two.syn1neg.shape) == (one.syn1.shape, one.syn1neg.shape)
    two.save(tmp_path / "m")
    again = Word2Vec.load(tmp_path / "m")
    np.testing.assert_array_equal(again.syn1neg, two.syn1neg)
    np.testing.assert_array_equal(again.syn1, two.syn1)


def test_jobs_are_consecutive_sentence_ranges_of_about_batch_words():
    from lmkit.embed.word2vec import _plan_jobs
    offsets = np.array([0, 10, 20, 25, 60, 70, 100])   # six sentences, one longer than a job
    jobs = _plan_jobs(offsets, 20)
    assert jobs == [(0, 2, 0), (2, 4, 20), (4, 6, 60)]   # (first, end, words before); no sentence split
    assert _plan_jobs(np.arange(0, 101, 10), 20) == [(0, 2, 0), (2, 4, 20), (4, 6, 40), (6, 8, 60), (8, 10, 80)]


def test_single_worker_is_bit_identical_across_processes_and_hash_seeds(tmp_path):
    code = ("import sys, hashlib; from lmkit import *; from lmkit.embed import Word2Vec; "
            "c = Corpus(sys.argv[1], Tokenizer('whitespace', lowercase=True), quiet=True); "
            "lines = [next(iter(c)) for _ in range(1)]; "
            "m = Word2Vec(dim=20, epochs=1, workers=1, seed=5, min_count=3)"
            ".train([s for s, _ in zip(c, range(4000))], quiet=True); "
            "print(hashlib.sha1(m.wv.vectors.tobytes()).hexdigest())")
    digests = set()
    for hash_seed in ("0", "123"):
        out = subprocess.run([sys.executable, "-c", code, str(ROOT / "data" / "brown.txt.gz")],
                             capture_output=True, text=True, env={"PYTHONHASHSEED": hash_seed, "PATH": ""})
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_continued_training_on_new_text(tmp_path, small_sentences):
    model = Word2Vec(dim=20, epochs=2, workers=1, seed=1).train(small_sentences[:3000], quiet=True,
                                                               checkpoint=tmp_path / "ckpt")
    back = Word2Vec.load(tmp_path / "ckpt")
    assert back.epochs_done == 2 and np.array_equal(back.syn0, model.syn0)
    assert np.array_equal(back.syn1neg, model.syn1neg)
    before = back.wv["the"].copy()
    back.train(small_sentences[3000:], epochs=1, quiet=True)   # new text, same vocabulary
    assert back.epochs_done == 3 and not np.array_equal(before, back.wv["the"])
    assert len(back.vocab) == len(model.vocab)


def test_resume_after_a_kill_gives_the_uninterrupted_result(tmp_path, small_sentences):
    data = small_sentences[:3000]
    whole = Word2Vec(dim=20, epochs=3, workers=1, seed=8).train(data, quiet=True)
    Word2Vec(dim=20, epochs=3, workers=1, seed=8).train(data, stop_after=1, quiet=True,
                                                        checkpoint=tmp_path / "ckpt")  # "killed" after epoch 1
    resumed = Word2Vec.load(tmp_path / "ckpt")
    assert resumed.epochs_done == 1
    resumed.train(data, resume=True, quiet=True)
    assert resumed.epochs_done == 3
    assert np.array_equal(resumed.syn0, whole.syn0) and np.array_equal(resumed.syn1neg, whole.syn1neg)


def test_load_rejects_weights_that_do_not_fit_the_vocabulary(tmp_path, small_sentences):
    Word2Vec(dim=10, epochs=1, workers=1, seed=1).train(small_sentences[:500], quiet=True).save(tmp_path / "m")
    with np.load(tmp_path / "m" / "weights.npz") as z:
        weights = dict(z)
    weights["syn1neg"] = weights["syn1neg"][:-1]      # one row short: the kernels would read past it
    np.savez(tmp_path / "m" / "weights.npz", **weights)
    with pytest.raises(ModelFormatError, match=r"syn1neg has shape \(\d+, 10\) float32, expected"):
        Word2Vec.load(tmp_path / "m")


def test_bad_parameters_fail_at_construction():
    with pytest.raises(ConfigError, match="hierarchical softmax"):
        Word2Vec(negative=0)
    with pytest.raises(ConfigError, match=r"dim must be a whole number in \[1, 10000\]"):
        Word2Vec(dim=0)
    with pytest.raises(CorpusError, match="min_count"):
        Word2Vec(min_count=5).train([["a", "b"]])


# ---------------------------------------------------------------------- vectors


@pytest.fixture(scope="module")
def toy_vectors():
    words = ["king", "queen", "man", "woman", "apple", "pear"]
    v = np.array([[1, 1, 0], [1, -1, 0.1], [0.2, 1, 0], [0.2, -1, 0.1], [0, 0, 1], [0.1, 0, 1]], np.float32)
    return KeyedVectors(words, v)


def test_queries(toy_vectors):
    kv = toy_vectors
    assert len(kv) == 6 and "king" in kv and "car" not in kv and kv.index_of("man") == 2
    assert kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"
    assert kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"
    assert kv.most_similar("apple", topn=1)[0][0] == "pear"
    assert all(w != "apple" for w, _ in kv.most_similar("apple"))
    assert kv.doesnt_match(["apple", "pear", "king"]) == "king"
    assert kv.similarity("apple", "pear") == pytest.approx(
        float(kv["apple"] @ kv["pear"] / np.linalg.norm(kv["apple"]) / np.linalg.norm(kv["pear"])))
    with pytest.raises(KeyError, match="'car' is not in the vocabulary"):
        kv["car"]


def test_batch_neighbours_equal_single_queries(brown_model):
    wv = brown_model.wv
    words = wv.words[100:160]
    batch = wv.neighbors(words, k=5)
    for w, res in zip(words, batch):
        assert [x for x, _ in res] == [x for x, _ in wv.most_similar(w, topn=5)]


@pytest.mark.parametrize("name, binary", [("v.txt", False), ("v.bin", True), ("v.txt.gz", False),
                                          ("v.bin.gz", True)])
def test_word2vec_format_round_trip(tmp_path, brown_model, name, binary):
    wv = brown_model.wv
    wv.save_word2vec_format(tmp_path / name, binary=binary)
    back = KeyedVectors.load_word2vec_format(tmp_path / name)
    assert back.words == wv.words
    np.testing.assert_allclose(back.vectors, wv.vectors, rtol=0 if binary else 1e-5, atol=0 if binary else 1e-6)


def test_native_format_is_memory_mapped(tmp_path, brown_model):
    brown_model.wv.save(tmp_path / "vecs")
    back = KeyedVectors.load(tmp_path / "vecs")
    assert isinstance(back.vectors, np.memmap) and back.words == brown_model.wv.words
    assert np.array_equal(np.asarray(back.vectors), brown_model.wv.vectors)


def test_invalid_utf8_words(tmp_path):
    path = tmp_path / "bad.bin"
    with open(path, "wb") as f:
        f.write(b"2 2\n")
        f.write(b"caf\xe9 " + np.array([1, 2], "<f4").tobytes() + b"\n")
        f.write(b"ok " + np.array([3, 4], "<f4").tobytes() + b"\n")
    with pytest.raises(ModelFormatError, match="entry 1: word is not valid UTF-8"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    kv = KeyedVectors.load_word2vec_format(path, binary=True, unicode_errors="replace")
    assert kv.words == ["caf\ufffd", "ok"] and kv["ok"].tolist() == [3.0, 4.0]


@pytest.mark.parametrize("content, message", [(b"hello\n", "expected a 'count dim' header"),
                                              (b"2 3\na 1 2 3\n", "truncated: 1 of 2"),
                                              (b"1 3\na 1 2\n", "expected a word and 3 numbers")])
def test_malformed_vector_files(tmp_path, content, message):
    path = tmp_path / "v.txt"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match=message):
        KeyedVectors.load_word2vec_format(path, binary=False)


def test_word_classes_separate_clear_clusters():
    from lmkit.embed import KeyedVectors
    rng = np.random.default_rng(0)
    a = np.array([1.0, 0, 0]) + 0.05 * rng.standard_normal((20, 3))
    b = np.array([0, 0, 1.0]) + 0.05 * rng.standard_normal((20, 3))
    kv = KeyedVectors([f"w{i}" for i in range(40)], np.vstack([a, b]).astype(np.float32))
    classes = kv.word_classes(2)
    assert len(set(classes[:20])) == 1 and len(set(classes[20:])) == 1 and classes[0] != classes[20]


def test_binary_files_load_without_a_python_string_per_word(tmp_path):
    from lmkit.embed import KeyedVectors
    from lmkit.embed.wordlist import MappedWords, WordList
    rng = np.random.default_rng(0)
    words = ["the", "dög", "a", "ünïcode", "x"]
    KeyedVectors(words, rng.standard_normal((5, 4)).astype(np.float32)).save_word2vec_format(tmp_path / "v.bin", binary=True)
    kv = KeyedVectors.load_word2vec_format(tmp_path / "v.bin")
    assert isinstance(kv._words, MappedWords)               # blob + offsets + hash table
    assert kv.words == words and [kv.index_of(w) for w in words] == list(range(5)) and "zz" not in kv
    assert kv.most_similar("dög", topn=1)[0][0] in words
    # a duplicate word falls back to the list (gensim keeps the first of duplicates)
    data = (tmp_path / "v.bin").read_bytes().replace(b"x ", b"a ", 1)
    (tmp_path / "dup.bin").write_bytes(data)
    dup = KeyedVectors.load_word2vec_format(tmp_path / "dup.bin")
    assert isinstance(dup._words, WordList) and dup.words == ["the", "dög", "a", "ünïcode"]


@pytest.mark.parametrize("chunk", [1, 1 << 23])
@pytest.mark.parametrize("prefault", [False, True])
def test_binary_files_read_piece_by_piece(tmp_path, monkeypatch, chunk, prefault):
    # the reader goes through the file a buffer at a time, carrying unfinished entries over;
    # tiny pieces make entries cross buffer edges, and 9,000-byte words outgrow the buffer;
    # with ``prefault`` the matrix is a mapping whose pages a thread populates meanwhile
    # (tiny steps, so the thread and the reader meet in the same pages)
    import lmkit.embed.w2v_format as fmt
    monkeypatch.setattr(fmt, "_CHUNK_BYTES", chunk)
    monkeypatch.setattr(fmt, "_PREFAULT_MIN_BYTES", 0 if prefault else 1 << 62)
    monkeypatch.setattr(fmt, "_PREFAULT_STEP", 4096)
    rng = np.random.default_rng(3)
    words = [f"w{i}" + ("é" * 4500 if i % 97 == 5 else "") for i in range(3000)]
    vectors = rng.standard_normal((3000, 50)).astype(np.float32)
    KeyedVectors(words, vectors).save_word2vec_format(tmp_path / "v.bin", binary=True)
    kv = KeyedVectors.load_word2vec_format(tmp_path / "v.bin", binary=True)
    assert kv.words == words and np.array_equal(kv.vectors, vectors)
    data = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) - 100])   # inside the last vector
    with pytest.raises(ModelFormatError, match="truncated: 2999 of 3000"):
        KeyedVectors.load_word2vec_format(tmp_path / "cut.bin", binary=True)


def test_text_files_spell_numbers_as_python_does(tmp_path):
    # numbers are spelled by a numba kernel on two threads; the reference is Python's "{:.9g}"
    rng = np.random.default_rng(4)
    vectors = (rng.standard_normal((30_000, 5)) * 10.0 ** rng.integers(-12, 12, (30_000, 5))).astype(np.float32)
    vectors[0] = [0.0, -0.0, np.inf, np.nan, 3.4e38]
    words = [f"wörd{i}" for i in range(30_000)]
    KeyedVectors(words, vectors).save_word2vec_format(tmp_path / "v.txt", binary=False)
    expected = "30000 5\n" + "".join(w + " " + " ".join(f"{x:.9g}" for x in row) + "\n"
                                     for w, row in zip(words, vectors.tolist()))
    assert (tmp_path / "v.txt").read_text(encoding="utf-8") == expected
