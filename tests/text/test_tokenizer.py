import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmkit import ConfigError, Tokenizer


def test_regex_keeps_contractions_numbers_and_splits_punctuation():
    tok = Tokenizer("regex")
    assert tok("Don't pay $1,000.50 now, e.g. at 12:30... ok?") == [
        "Don't", "pay", "$", "1,000.50", "now", ",", "e.g.", "at", "12:30", "...", "ok", "?"]
    assert tok("state-of-the-art café's naïve Zürich") == ["state-of-the-art", "café's", "naïve", "Zürich"]


def test_whitespace_mode_keeps_tokens_as_they_are():
    assert Tokenizer("whitespace")("a  b\tc  `` d ''") == ["a", "b", "c", "``", "d", "''"]


def test_lowercase():
    assert Tokenizer("whitespace", lowercase=True)("The CAT") == ["the", "cat"]
    assert Tokenizer("regex", lowercase=True)("İt's ÉTÉ") == ["i̇t's", "été"]


def test_treebank_and_toktok_need_no_nltk_data():
    assert Tokenizer("treebank")("I don't know.") == ["I", "do", "n't", "know", "."]
    assert Tokenizer("toktok")("Hello, world!") == ["Hello", ",", "world", "!"]


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown; choose one of"):
        Tokenizer("bpe")


def test_block_tokenization_matches_line_by_line():
    lines = ["The cat sat.", "", "  A dog,  barked!  "]
    for mode in ("whitespace", "regex", "treebank"):
        tok = Tokenizer(mode, lowercase=True)
        per_line = [tok(line) for line in lines]
        assert tok.tokenize_lines(lines) == per_line
        assert tok.tokens_of_block(lines) == [t for s in per_line for t in s]


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_no_mode_crashes_and_no_token_holds_space(text):
    for mode in ("whitespace", "regex", "treebank", "toktok"):
        for token in Tokenizer(mode)(text.replace("\n", " ")):
            assert token and not any(ch.isspace() for ch in token)
