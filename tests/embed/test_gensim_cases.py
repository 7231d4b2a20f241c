"""gensim's own KeyedVectors test cases (gensim/test/test_keyedvectors.py, on its test data
euclidean_vectors.bin etc., shipped inside the gensim package) run against lmkit, and the
text files whose lines end in a space (toy-model.vec, lee_fasttext.vec,
crime-and-punishment.vec) read side by side with gensim's reader."""
import functools

import numpy as np
import pytest

from lmkit import ModelFormatError
from lmkit.embed import KeyedVectors

gensim = pytest.importorskip("gensim", reason="gensim is in the 'test' extra")
from gensim.models import KeyedVectors as GensimKV  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402


@pytest.fixture(scope="module")
def kv():
    return KeyedVectors.load_word2vec_format(datapath("euclidean_vectors.bin"), binary=True)


def test_most_similar(kv):
    assert [w for w, _ in kv.most_similar("war", topn=5)] == \
        ["conflict", "administration", "terrorism", "call", "israel"]


def test_most_similar_vector(kv):
    assert kv.most_similar(positive=kv.vectors[0:5]) is not None


@pytest.mark.parametrize("method", ["most_similar", "most_similar_cosmul"])
def test_most_similar_parameter_types(kv, method):
    partial = functools.partial(getattr(kv, method), topn=5)
    position = partial("war", "peace")
    assert position == partial(["war"], ["peace"]) == partial(positive="war", negative="peace") \
        == partial(positive=["war"], negative=["peace"])
    assert "w" not in [w for w, _ in position]     # a string is one word, never its letters


def test_most_similar_topn(kv):
    assert len(kv.most_similar("war", topn=5)) == 5
    assert len(kv.most_similar("war", topn=10)) == 10
    assert len(kv.most_similar("war", topn=None)) == len(kv)
    assert len(kv.most_similar("war", topn=0)) == 0
    assert len(kv.most_similar("war", topn=np.uint8(0))) == 0


def test_relative_cosine_similarity(kv):
    wordnet_syn = ["good", "goodness", "commodity", "trade_good", "full", "estimable", "honorable",
                   "respectable", "beneficial", "just", "upright", "adept", "expert", "practiced",
                   "proficient", "skillful", "skilful", "dear", "near", "dependable", "safe", "secure",
                   "right", "ripe", "well", "effective", "in_effect", "in_force", "serious", "sound",
                   "salutary", "honest", "undecomposed", "unspoiled", "unspoilt", "thoroughly", "soundly"]
    cos_sim = sorted([kv.similarity("good", s) for s in wordnet_syn if s in kv], reverse=True)
    rcs_wordnet = kv.similarity("good", "nice") / sum(cos_sim[i] for i in range(10))
    rcs = kv.relative_cosine_similarity("good", "nice", 10)
    assert rcs_wordnet >= rcs and np.allclose(rcs_wordnet, rcs, 0, 0.125)
    assert kv.relative_cosine_similarity("good", "worst", 10) < 0.10


def test_most_similar_raises_keyerror(kv):
    with pytest.raises(KeyError):
        kv.most_similar("not_in_vocab")


def test_most_similar_restrict_vocab(kv):
    assert {w for w, _ in kv.most_similar("war", topn=5, restrict_vocab=5)} == set(kv.index_to_key[:5])


def test_vector_queries(kv):
    expected = ["war", "conflict", "administration", "terrorism", "call"]
    assert [w for w, _ in kv.most_similar([kv["war"]], topn=5)] == expected
    assert [w for w, _ in kv.similar_by_vector(kv["war"], topn=5)] == expected
    assert [w for w, _ in kv.similar_by_word("war", topn=5)] == expected[1:] + ["israel"]


def test_most_similar_to_given_distance_similarity(kv):
    assert kv.most_similar_to_given("war", ["terrorism", "call", "waging"]) == "terrorism"
    assert np.allclose(kv.distance("war", "conflict"), 0.06694602)
    assert kv.distance("war", "war") == pytest.approx(0, abs=1e-6)
    assert np.allclose(kv.similarity("war", "war"), 1)
    assert np.allclose(kv.similarity("war", "conflict"), 0.93305397)


def test_closer_than_and_rank(kv):
    assert kv.closer_than("war", "war") == []
    assert set(kv.closer_than("war", "terrorism")) == {"conflict", "administration"}
    assert kv.rank("war", "war") == 1
    assert kv.rank("war", "terrorism") == 3


def test_add_and_set_item():
    base = KeyedVectors.load_word2vec_format(datapath("euclidean_vectors.bin"), binary=True)
    n = len(base)
    rng = np.random.default_rng(0)
    entities = [f"___some_entity{i}_not_present_in_keyed_vectors___" for i in range(5)]
    vectors = [rng.standard_normal(base.vector_size) for _ in range(5)]
    base.add_vectors(entities, vectors)
    assert len(base) == n + 5
    for e, v in zip(entities, vectors):
        assert np.allclose(base[e], v)
    assert base.vectors.dtype == np.float32
    base["war"] = vectors[0]                      # item assignment replaces a known word
    assert len(base) == n + 5 and np.allclose(base["war"], vectors[0])
    base[["___new_one___", "___new_two___"]] = np.ones((2, base.vector_size))
    assert len(base) == n + 7 and np.allclose(base["___new_two___"], 1)


def test_get_mean_vector(kv):
    keys = ["conflict", "administration", "terrorism", "call", "an out-of-vocabulary word"]
    weights = [1, 2, 3, 1, 2]
    expected_1 = [0.02000151, -0.12685453, 0.09196121, 0.25514853, 0.25740655,
                  -0.11134843, -0.0502661, -0.19278568, -0.83346179, -0.12068878]
    expected_2 = [-0.0145228, -0.11530358, 0.1169825, 0.22537769, 0.29353586,
                  -0.10458107, -0.05272481, -0.17547795, -0.84245106, -0.10356515]
    expected_3 = [0.01343237, -0.47651053, 0.45645328, 0.98304356, 1.1840123,
                  -0.51647933, -0.25308795, -0.77931081, -3.55954733, -0.55429711]
    assert np.allclose(kv.get_mean_vector(keys), expected_1)
    assert np.allclose(kv.get_mean_vector(keys, weights), expected_2)
    assert np.allclose(kv.get_mean_vector(keys, pre_normalize=False), expected_3)


def test_gensim_names(kv):
    assert kv.index_to_key is kv.words and kv.key_to_index["war"] == kv.words.index("war")
    assert kv.vector_size == kv.vectors.shape[1]
    assert np.allclose(np.linalg.norm(kv.get_vector("war", norm=True)), 1)
    theirs = GensimKV.load_word2vec_format(datapath("euclidean_vectors.bin"), binary=True)
    assert kv.n_similarity(["war", "call"], ["peace"]) == pytest.approx(theirs.n_similarity(["war", "call"], ["peace"]), abs=1e-6)
    assert np.allclose(kv.distances("war", ["call", "peace"]), theirs.distances("war", ["call", "peace"]), atol=1e-6)
    assert np.allclose(kv.most_similar("war", topn=None), theirs.most_similar("war", topn=None), atol=1e-6)


def random_kv(count=20, dim=100):
    rng = np.random.default_rng(1)
    # gensim's pseudorandom_weak_vector: values of varied magnitude
    values = (rng.random((count, dim)) * 2 - 1) / rng.integers(1, 10**6, size=(count, 1))
    return KeyedVectors([str(i) for i in range(count)], values.astype(np.float32))


@pytest.mark.parametrize("binary", [False, True])
def test_save_reload_is_exact(tmp_path, binary):   # test_save_reload
    kv = random_kv()
    kv.save_word2vec_format(tmp_path / "v", binary=binary)
    back = KeyedVectors.load_word2vec_format(tmp_path / "v", binary=binary)
    assert back.index_to_key == kv.index_to_key and (back.vectors == kv.vectors).all()
    theirs = GensimKV.load_word2vec_format(str(tmp_path / "v"), binary=binary)
    assert (theirs.vectors == kv.vectors).all()


def test_no_header(tmp_path):   # test_no_header
    kv = random_kv()
    kv.save_word2vec_format(tmp_path / "v.txt", binary=False, write_header=False)
    back = KeyedVectors.load_word2vec_format(tmp_path / "v.txt", binary=False, no_header=True)
    assert back.index_to_key == kv.index_to_key and (back.vectors == kv.vectors).all()
    glove = KeyedVectors.load_word2vec_format(datapath("test_glove.txt"), no_header=True)
    theirs = GensimKV.load_word2vec_format(datapath("test_glove.txt"), no_header=True)
    assert glove.words == theirs.index_to_key and np.allclose(glove.vectors, theirs.vectors)


def write_binary_dict(path, d):   # gensim's save_dict_to_word2vec_formated_file: no newlines
    with open(path, "wb") as f:
        f.write(f"{len(d)} {len(next(iter(d.values())))}\n".encode())
        for word, vector in d.items():
            f.write(word.encode() + b" " + np.array(vector).astype(np.float32).tobytes())


@pytest.mark.parametrize("d", [{"abc": [1, 2, 3], "cde": [4, 5, 6], "def": [7, 8, 9]},
                               {"abc": [1, 2, 3], "cdefg": [4, 5, 6], "d": [7, 8, 9]},
                               {"\nabc": [1, 2, 3], "cdefdg": [4, 5, 6], "\n\ndef": [7, 8, 9]}])
@pytest.mark.parametrize("limit", [None, 1, 2])
@pytest.mark.parametrize("binary", [True, None])
def test_load_binary_basic_limit_space_stripping(tmp_path, d, limit, binary):
    write_binary_dict(tmp_path / "v.bin", d)
    kv = KeyedVectors.load_word2vec_format(tmp_path / "v.bin", binary=binary, limit=limit)
    keys = list(d)[:limit]
    assert kv.index_to_key == [k.lstrip() for k in keys]
    for k in keys:
        assert list(kv[k.lstrip()]) == d[k]


@pytest.mark.parametrize("name", ["toy-model.vec", "lee_fasttext.vec", "crime-and-punishment.vec",
                                  "high_precision.kv.txt", "pang_lee_polarity_fasttext.vec",
                                  "high_precision.kv.bin"])
def test_detection_reads_what_gensim_reads(name):
    binary = name.endswith(".bin")
    theirs = GensimKV.load_word2vec_format(datapath(name), binary=binary, unicode_errors="replace")
    for detected in (None, binary):
        ours = KeyedVectors.load_word2vec_format(datapath(name), binary=detected, unicode_errors="replace")
        assert ours.index_to_key == theirs.index_to_key
        assert np.array_equal(ours.vectors, theirs.vectors)


def test_ambiguous_or_inconsistent_files_are_errors(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("2 5\na 0.1 0.2 0.3 0.4\nb 0.1 0.2 0.3 0.4\n")
    with pytest.raises(ModelFormatError, match=r"v.txt:2: expected a word and 5 numbers .* got 4"):
        KeyedVectors.load_word2vec_format(path)
    path.write_bytes(b"1000000000000 300\nthe 0.1\n")
    with pytest.raises(ModelFormatError, match="more than the file's .* bytes can hold"):
        KeyedVectors.load_word2vec_format(path)
