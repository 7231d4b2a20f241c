"""A mutation fuzzer over every reader of model, vector, vocabulary and corpus files: each
valid file is damaged in many seeded ways (bit flips, truncation, inserted and deleted bytes,
numbers replaced by huge, negative, NaN or non-numeric values, JSON fields of the wrong
type) and loaded again. A reader may accept a damaged file only when what it returns is
consistent; it may fail only with an LmkitError (one line naming the file). Anything else
— another exception type, a crash, an allocation the size of a corrupted header — fails the
test. (Issue: hardening, cause 2.)"""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from lmkit import LmkitError
from lmkit.embed import KeyedVectors, Word2Vec
from lmkit.ngram import NgramModel
from lmkit.text import EncodedCorpus, Vocabulary, encode_corpus

pytestmark = pytest.mark.slow

SENTS = [s.split() for s in ["the cat sat on the mat", "the dog sat", "a cat and a dog", "on the mat"] * 5]
N_MUTATIONS = 60
NUMBER = re.compile(rb"-?\d+(\.\d+)?(e-?\d+)?")


def mutations(data: bytes, seed: int):
    """Seeded damaged copies of ``data``."""
    rng = np.random.default_rng(seed)
    for i in range(N_MUTATIONS):
        kind = i % 6
        b = bytearray(data)
        if not b:
            yield bytes(b)
            continue
        if kind == 0:          # bit flips
            for _ in range(rng.integers(1, 4)):
                p = int(rng.integers(len(b)))
                b[p] ^= 1 << int(rng.integers(8))
        elif kind == 1:        # truncation
            b = b[: int(rng.integers(len(b)))]
        elif kind == 2:        # inserted bytes
            p = int(rng.integers(len(b) + 1))
            b[p:p] = rng.integers(0, 256, int(rng.integers(1, 9))).astype(np.uint8).tobytes()
        elif kind == 3:        # deleted bytes
            p = int(rng.integers(len(b)))
            del b[p:p + int(rng.integers(1, 9))]
        else:                  # a number replaced
            found = list(NUMBER.finditer(bytes(b)))
            if found:
                m = found[int(rng.integers(len(found)))]
                new = [b"1000000000000", b"-7", b"nan", b"inf", b"x", b"0", b"1e308", b"4294967296"][int(rng.integers(8))]
                b[m.start():m.end()] = new
        yield bytes(b)


def load_or_lmkit_error(load, path):
    try:
        return load(path)
    except LmkitError as exc:
        message = str(exc)
        assert "\n" not in message.strip(), message
        return None


def fuzz_file(tmp_path, original: Path, load, check=None, seed=0):
    data = original.read_bytes()
    accepted = 0
    for j, damaged in enumerate(mutations(data, seed)):
        target = tmp_path / f"case{j}" / original.name
        target.parent.mkdir()
        target.write_bytes(damaged)
        result = load_or_lmkit_error(load, target)
        if result is not None:
            accepted += 1
            if check:
                check(result)
        shutil.rmtree(target.parent)
    return accepted


def fuzz_folder(tmp_path, folder: Path, load, check=None):
    """Damage one file of a folder at a time."""
    for k, name in enumerate(sorted(p.name for p in folder.iterdir() if p.is_file())):
        data = (folder / name).read_bytes()
        for j, damaged in enumerate(mutations(data, 100 + k)):
            case = tmp_path / f"{name}.{j}"
            shutil.copytree(folder, case)
            (case / name).write_bytes(damaged)
            result = load_or_lmkit_error(load, case)
            if result is not None and check:
                check(result)
            shutil.rmtree(case)


@pytest.fixture(scope="module")
def ngram_model():
    return NgramModel.train(SENTS, order=3, quiet=True)


def check_ngram(model):
    # whatever loads must score without crashing and give finite or -inf log probabilities
    lp = [p for p, _, _ in model.full_scores("the cat sat on the zzz mat")]
    assert all(np.isfinite(p) or p == -np.inf for p in lp)


def test_arpa_reader(tmp_path, ngram_model):
    path = tmp_path / "m.arpa"
    ngram_model.save(path, quiet=True)
    fuzz_file(tmp_path, path, lambda p: NgramModel.load(p, quiet=True), check_ngram)


def check_mapped(model):
    """A binary model loads without reading its tables: scoring unchecked contents may give
    wrong numbers but must end without reading outside the file; the contents check then
    refuses the damage or passes, and a model that passes scores as a sound one does. Decoding
    the words (``full_scores`` looks tokens up as strings) checks them first: a one-line error."""
    try:
        model.score("a dog and the mat")
        list(model.full_scores("the cat sat on the zzz mat"))
        model.verify()
    except LmkitError as exc:
        assert "\n" not in str(exc).strip(), str(exc)
        return
    check_ngram(model)


def check_quick(model):
    """The numpy scorer over the same damaged file ends too (numpy raises on any index outside
    an array: none may occur)."""
    if model is not None:
        ids = np.array([3, 4, 5, 0, 6], np.int32) % len(model.vocab)
        model.score_encoded((ids.astype(np.int32), np.array([0, 5], np.int64)))


@pytest.mark.parametrize("layout,bits", [("probing", None), ("trie", None), ("trie", 4)])
def test_binary_ngram_reader(tmp_path, ngram_model, layout, bits):
    from lmkit.ngram.binary import write_binary
    from lmkit.ngram.quick import QuickModel
    path = tmp_path / "m.bin"
    write_binary(ngram_model, path, layout=layout, quantize=bits)
    assert fuzz_file(tmp_path, path, NgramModel.load, check_mapped, seed=3) > 0
    fuzz_file(tmp_path, path, QuickModel.open, check_quick, seed=4)


@pytest.mark.parametrize("dense", [0, 1 << 40])
def test_binary_trie_numpy_tables(tmp_path, ngram_model, monkeypatch, dense):
    """The numpy scorer's trie lookups through tables of the parents' children (forced for
    every pair; parents counted by sorting, or in an array after every pointer is read) over
    damaged files: no read outside an array either."""
    from lmkit.ngram import quick
    from lmkit.ngram.binary import write_binary
    for name, value in dict(_LONG_BLOCK=1, _STEP_COST=1000, _ENTRY_COST=0, _DENSE=dense).items():
        monkeypatch.setattr(quick, name, value)
    path = tmp_path / "m.bin"
    write_binary(ngram_model, path, layout="trie")
    fuzz_file(tmp_path, path, quick.QuickModel.open, check_quick, seed=5)


def test_native_ngram_reader(tmp_path, ngram_model):
    path = tmp_path / "m.lmk"
    ngram_model.save(path)
    fuzz_file(tmp_path, path, NgramModel.load, check_ngram)


def test_damaged_lmk_ids_are_refused(tmp_path, ngram_model):
    path = tmp_path / "m.lmk"
    ngram_model.save(path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["word2"] = arrays["word2"].copy()
    arrays["word2"][3] = 10_000          # a word id outside the vocabulary
    with open(tmp_path / "bad.lmk", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(LmkitError, match="word2"):
        NgramModel.load(tmp_path / "bad.lmk")
    arrays["word2"][3] = ngram_model.word[1][3]
    arrays["ctx3"] = arrays["ctx3"].copy()
    arrays["ctx3"][0] = -5               # a context id outside the lower order
    with open(tmp_path / "bad.lmk", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(LmkitError, match="ctx3"):
        NgramModel.load(tmp_path / "bad.lmk")


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    return KeyedVectors(["the", "cat", "sat", "on", "mat", "dög", "a"], rng.standard_normal((7, 5)).astype(np.float32))


def check_vectors(kv):
    assert kv.vectors.shape == (len(kv), kv.dim)
    if len(kv):
        w = kv.words[0]
        assert kv.index_of(w) == 0 or kv.words.count(w) == 1
        kv.most_similar(w, topn=2) if len(kv) > 1 else None


@pytest.mark.parametrize("name, binary", [("v.txt", False), ("v.bin", True), ("v.txt.gz", False), ("v.bin.gz", True)])
def test_word2vec_format_readers(tmp_path, vectors, name, binary):
    path = tmp_path / name
    vectors.save_word2vec_format(path, binary=binary)
    fuzz_file(tmp_path, path, KeyedVectors.load_word2vec_format, check_vectors)
    fuzz_file(tmp_path, path, lambda p: KeyedVectors.load_word2vec_format(p, binary=binary), check_vectors, seed=1)


def test_native_vectors_folder(tmp_path, vectors):
    vectors.save(tmp_path / "native")
    fuzz_folder(tmp_path, tmp_path / "native", KeyedVectors.load, check_vectors)


@pytest.mark.parametrize("encoding, options", [("int8", {}), ("pq", {"m": 2}),
                                               ("pq", {"m": 2, "ivf": 4, "nprobe": 2, "rerank": 5})])
def test_compressed_vectors_folder(tmp_path, encoding, options):
    rng = np.random.default_rng(0)
    kv = KeyedVectors([f"w{i}" for i in range(300)], rng.standard_normal((300, 4)).astype(np.float32))
    kv.compress(encoding, **options).save(tmp_path / encoding)
    fuzz_folder(tmp_path, tmp_path / encoding, KeyedVectors.load, check_vectors)


def test_vocabulary_reader(tmp_path):
    path = tmp_path / "vocab.tsv"
    Vocabulary.build(SENTS).save(path)
    fuzz_file(tmp_path, path, Vocabulary.load)


def test_encoded_corpus_folder(tmp_path):
    vocab = Vocabulary.build(SENTS)
    encode_corpus(SENTS, vocab, cache=tmp_path / "enc")

    def check(enc):
        assert enc.offsets[-1] == len(enc.ids)
        for i in range(enc.n_sentences):
            enc.sentence(i)
    fuzz_folder(tmp_path, tmp_path / "enc", EncodedCorpus.load, check)


def test_word2vec_model_folder(tmp_path):
    model = Word2Vec(dim=8, min_count=1, epochs=1, workers=1, seed=1)
    model.train(SENTS, quiet=True)
    model.save(tmp_path / "w2v")

    def check(m):
        m.wv.most_similar("the", topn=2)
    fuzz_folder(tmp_path, tmp_path / "w2v", Word2Vec.load, check)


def test_json_fields_of_the_wrong_type(tmp_path, vectors):
    vectors.save(tmp_path / "native")
    meta = json.loads((tmp_path / "native" / "meta.json").read_text())
    for field, value in [("n_words", "7"), ("n_words", 10**12), ("dim", -1), ("dim", None), ("version", "2"),
                         ("version", True), ("format", 3)]:
        bad = dict(meta, **{field: value})
        (tmp_path / "native" / "meta.json").write_text(json.dumps(bad))
        with pytest.raises(LmkitError):
            KeyedVectors.load(tmp_path / "native")


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory):
    from lmkit.text import Tokenizer
    from lmkit.translate import (
        Seq2Seq,
        Seq2SeqConfig,
        TrainConfig,
        Trainer,
        build_vocabs,
        encode_parallel,
    )
    src = [s.split() for s in ["a man rides a bike", "a dog runs", "two men talk", "a woman sings"] * 3]
    tgt = [s.split() for s in ["ein mann fährt rad", "ein hund rennt", "zwei männer reden", "eine frau singt"] * 3]
    sv, tv = build_vocabs(src, tgt, min_count=1)
    data = encode_parallel(src, tgt, sv, tv)
    model = Seq2Seq(Seq2SeqConfig(len(sv), len(tv), emb=6, hidden=8, attn=6, seed=1))
    out = tmp_path_factory.mktemp("tr") / "run"
    Trainer(model, sv, tv, Tokenizer("whitespace"), out, TrainConfig(epochs=1, batch=4, seed=1)).train(data, quiet=True)
    return out


def test_translation_model_folder(tmp_path, translation_run):
    from lmkit.translate import Translator

    def check(tr):
        tr.translate(["a man rides a dog"], beam=2)
    fuzz_folder(tmp_path, translation_run / "model", Translator.load, check)


def test_translation_shortlist_file(tmp_path, translation_run):
    from lmkit.translate import Translator
    from lmkit.translate.shortlist import FILE, build_shortlist
    folder = tmp_path / "model"
    shutil.copytree(translation_run / "model", folder)
    tr = Translator.load(folder)
    src = [tr.src_vocab.encode(s.split()) for s in ["a man rides a bike", "a dog runs", "two men talk"]]
    tgt = [tr.tgt_vocab.encode(s.split()) for s in ["ein mann fährt rad", "ein hund rennt", "zwei männer reden"]]
    build_shortlist(src, tgt, len(tr.src_vocab), len(tr.tgt_vocab), frequent=3, per_word=2).save(folder / FILE)
    data = (folder / FILE).read_bytes()
    for damaged in mutations(data, 77):
        (folder / FILE).write_bytes(damaged)
        loaded = load_or_lmkit_error(Translator.load, folder)
        if loaded is not None:
            loaded.translate(["a man rides a dog"], beam=2, shortlist=loaded.shortlist is not None)


def test_translation_checkpoint_and_optimizer_state(tmp_path, translation_run):
    from lmkit.translate import Trainer
    ck = sorted((translation_run / "checkpoints").glob("step-*"))[-1]
    for name in ("optimizer.npz", "trainer.json", "config.json"):
        data = (ck / name).read_bytes()
        for j, damaged in enumerate(mutations(data, 7)):
            case = tmp_path / f"{name}.{j}"
            shutil.copytree(translation_run, case)
            (case / "checkpoints" / ck.name / name).write_bytes(damaged)
            load_or_lmkit_error(Trainer.resume, case)
            shutil.rmtree(case)


def test_wrong_shaped_optimizer_state_and_short_vocabulary_are_refused(tmp_path, translation_run):
    from lmkit.translate import Trainer, Translator
    case = tmp_path / "run"
    shutil.copytree(translation_run, case)
    ck = sorted((case / "checkpoints").glob("step-*"))[-1]
    with np.load(ck / "optimizer.npz") as z:
        arrays = {k: z[k] for k in z.files}
    key = next(k for k in arrays if "::" in k)
    arrays[key] = np.zeros((3, 2), np.float32)      # crashed the numba Adam kernel before
    with open(ck / "optimizer.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(LmkitError, match="optimizer.npz.*shape"):
        Trainer.resume(case)
    (case / "model" / "tgt_vocab.tsv").write_text("<unk>\t0\n<s>\t0\n</s>\t0\n<pad>\t0\n")
    with pytest.raises(LmkitError, match="tgt_vocab.tsv: 4 words, but the model's embedding has"):
        Translator.load(case)
    (case / "checkpoints" / "latest").write_text("../../etc\n")
    with pytest.raises(LmkitError, match="not a checkpoint name"):
        Trainer.resume(case)


@pytest.fixture(scope="module")
def neural_run(tmp_path_factory):
    from lmkit.neural import NeuralLM, TrainConfig, Trainer
    vocab = Vocabulary.build(SENTS)
    out = tmp_path_factory.mktemp("nlm") / "run"
    model = NeuralLM.create(vocab, arch="lstm", output="class", emb=4, hidden=4, classes=3)
    Trainer(model, out, TrainConfig(epochs=1, batch=2, bptt=4, max_steps=3, checkpoint_every=2)).train(
        encode_corpus(SENTS, vocab), quiet=True)
    return out


def test_neural_model_folder(tmp_path, neural_run):
    from lmkit.neural import NeuralLM

    def check(m):
        assert np.isfinite(m.score("the cat sat on the zzz mat"))
    fuzz_folder(tmp_path, neural_run / "model", NeuralLM.load, check)


def test_neural_checkpoint_files(tmp_path, neural_run):
    from lmkit.neural import Trainer
    ck = sorted((neural_run / "checkpoints").glob("step-*"))[-1]
    for name in ("optimizer.npz", "trainer.json", "carried.npz", "config.json"):
        data = (ck / name).read_bytes()
        for j, damaged in enumerate(mutations(data, 11)):
            case = tmp_path / f"{name}.{j}"
            shutil.copytree(neural_run, case)
            (case / "checkpoints" / ck.name / name).write_bytes(damaged)
            load_or_lmkit_error(Trainer.resume, case)
            shutil.rmtree(case)
