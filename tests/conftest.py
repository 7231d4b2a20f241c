import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def brown_path() -> Path:
    return DATA / "brown.txt.gz"


@pytest.fixture
def shakespeare_path() -> Path:
    return DATA / "tinyshakespeare.txt"
