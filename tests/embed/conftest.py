import gzip

import pytest

from lmkit import Corpus, Tokenizer
from lmkit.embed import Word2Vec

from ..conftest import DATA


@pytest.fixture(scope="session")
def brown_lower():
    return Corpus(DATA / "brown.txt.gz", Tokenizer("whitespace", lowercase=True), quiet=True)


@pytest.fixture(scope="session")
def brown_model(brown_lower):
    """Skip-gram NS on all of Brown, 2 epochs, one worker: deterministic (a few seconds)."""
    return Word2Vec(dim=50, epochs=2, workers=1, seed=3).train(brown_lower, quiet=True)


@pytest.fixture(scope="session")
def small_sentences():
    lines = gzip.open(DATA / "brown.txt.gz", "rt", encoding="utf-8").read().lower().split("\n")[:6000]
    return [ln.split() for ln in lines]
