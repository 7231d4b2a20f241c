"""Decoding stays bounded on hostile input: a 5,000-token line with beam 2 once took 24 GB.
(Issue: hardening, cause 6.)"""
import logging
import subprocess
import sys
import tracemalloc

from lmkit.text import Tokenizer, Vocabulary
from lmkit.translate import Seq2Seq, Seq2SeqConfig, Translator

from ..conftest import ROOT


def tiny_translator():
    words = ["<unk>", "<s>", "</s>", "<pad>"] + [f"w{i}" for i in range(30)]
    vocab = Vocabulary(words, specials=("<unk>", "<s>", "</s>", "<pad>"))
    model = Seq2Seq(Seq2SeqConfig(len(vocab), len(vocab), emb=8, hidden=8, attn=8, seed=1))
    return Translator(model, vocab, vocab, Tokenizer("whitespace"))


def test_a_5000_token_line_is_cut_with_a_warning_and_memory_stays_small(caplog):
    tr = tiny_translator()
    line = " ".join(f"w{i % 30}" for i in range(5000))
    tracemalloc.start()
    with caplog.at_level(logging.WARNING):
        out = tr.translate([line, "w1 w2 w3", line], beam=2, max_src_len=250)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(out) == 3 and len(out[0].words) <= 2 * 250 + 10
    cut = [r.getMessage() for r in caplog.records if "max_src_len" in r.getMessage()]
    assert cut == ["2 line(s) longer than 250 tokens (max_src_len), translated from their first 250 tokens; "
                   "the first is line 1 (5000 tokens)"]   # one warning for the event, not one per line
    assert peak < 300 * 2**20, peak


def test_cli_decodes_a_corpus_with_one_huge_line(tmp_path):
    tr = tiny_translator()
    folder = tmp_path / "m"
    folder.mkdir()
    tr.model.save(folder)
    tr.src_vocab.save(folder / "src_vocab.tsv")
    tr.tgt_vocab.save(folder / "tgt_vocab.tsv")
    (folder / "tokenizer.json").write_text('{"mode": "whitespace", "lowercase": false}')
    text = "w1 w2\n" + " ".join(["w3"] * 20000) + "\nw4\n"
    res = subprocess.run([sys.executable, str(ROOT / "bin" / "lmkit"), "translate", "decode", str(folder),
                          "--beam", "2", "--max-src-len", "100"], input=text, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.split("\n")) == 4 and "the first is line 2 (20000 tokens)" in res.stderr
