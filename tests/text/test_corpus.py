import bz2
import gzip
import io
import logging
import lzma
import sys

import pytest

from lmkit import Corpus, CorpusError, Tokenizer
from lmkit.text import read_line_blocks

LINES = ["the cat sat", "", "on the mat ."]
TEXT = "\n".join(LINES) + "\n"


@pytest.mark.parametrize("suffix, opener", [("", open), (".gz", gzip.open), (".bz2", bz2.open),
                                            (".xz", lzma.open)])
def test_plain_and_compressed_files_read_the_same(tmp_path, suffix, opener):
    path = tmp_path / f"c.txt{suffix}"
    with opener(path, "wb") as f:
        f.write(TEXT.encode())
    corpus = Corpus(path, Tokenizer("whitespace"))
    assert list(corpus) == [["the", "cat", "sat"], [], ["on", "the", "mat", "."]]
    assert list(corpus) == list(corpus)  # re-iterable
    assert corpus.stats.lines == 3


def test_directory_reads_every_file_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("two\n")
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "sub" / "c.txt").write_text("three\n")
    (tmp_path / ".hidden").write_text("no\n")
    assert list(Corpus(tmp_path, Tokenizer("whitespace"))) == [["one"], ["two"], ["three"]]


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TEXT.encode())))
    corpus = Corpus("-", Tokenizer("whitespace"))
    assert len(list(corpus)) == 3
    with pytest.raises(CorpusError, match="only once"):
        list(corpus)


def test_crlf_line_ends_are_removed(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"a b\r\nc\r\n")
    assert [line for block in read_line_blocks(path) for line in block] == ["a b", "c"]


def test_invalid_utf8_is_replaced_and_counted(tmp_path, caplog):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nbad \xff\xfe line\nalso \xc3 bad\nfine\n")
    corpus = Corpus(path, Tokenizer("whitespace"))
    with caplog.at_level(logging.WARNING):
        sents = list(corpus)
    assert sents[1] == ["bad", "\ufffd\ufffd", "line"] and len(sents) == 4
    assert corpus.stats.replaced_lines == 2
    assert corpus.stats.first_replaced == f"{path}:2"
    assert "2 line(s) held invalid UTF-8" in caplog.text


def test_strict_mode_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\nok\nbad \xff\n")
    with pytest.raises(CorpusError, match=r"bad\.txt:3: invalid UTF-8"):
        list(Corpus(path, strict=True))


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        Corpus(tmp_path / "nope.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="directory holds no files"):
        Corpus(tmp_path / "empty")
    (tmp_path / "e.txt").write_text("")
    assert list(Corpus(tmp_path / "e.txt")) == []


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "c.txt.gz"
    data = gzip.compress(TEXT.encode() * 1000)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match=r"c.txt.gz: truncated or corrupt .gz file .*, after line \d+"):
        list(Corpus(path))


def test_a_string_is_not_a_corpus():
    from lmkit import Vocabulary
    with pytest.raises(CorpusError, match="single string"):
        Vocabulary.build("the cat")
