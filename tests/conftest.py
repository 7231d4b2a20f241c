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


def _shakespeare_split():
    lines = [ln for ln in (DATA / "tinyshakespeare.txt").read_text(encoding="utf-8").split("\n")
             if ln.strip()]
    train = [ln for i, ln in enumerate(lines, 1) if i % 10 != 0]
    test = [ln for i, ln in enumerate(lines, 1) if i % 10 == 0]
    return train, test


@pytest.fixture(scope="session")
def ts_split(tmp_path_factory):
    """The KenLM reference split of tiny shakespeare, as files: (train path, test path)."""
    folder = tmp_path_factory.mktemp("ts")
    train, test = _shakespeare_split()
    (folder / "ts.train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    (folder / "ts.test.txt").write_text("\n".join(test) + "\n", encoding="utf-8")
    return folder / "ts.train.txt", folder / "ts.test.txt"


@pytest.fixture(scope="session")
def brown_split(tmp_path_factory):
    """The KenLM reference split of Brown: every 10th line is test."""
    import gzip
    folder = tmp_path_factory.mktemp("brown")
    lines = gzip.open(DATA / "brown.txt.gz", "rt", encoding="utf-8").read().split("\n")[:-1]
    (folder / "train.txt").write_text("\n".join(l for i, l in enumerate(lines, 1) if i % 10) + "\n")
    (folder / "test.txt").write_text("\n".join(l for i, l in enumerate(lines, 1) if i % 10 == 0) + "\n")
    return folder / "train.txt", folder / "test.txt"


@pytest.fixture(scope="session")
def dask_client():
    """One LocalCluster of 2 worker processes (one thread each) for every cluster test;
    skipped without the 'dask' extra (CI installs it with 'test')."""
    pytest.importorskip("distributed")
    from lmkit.cluster import connect
    with connect("local:2") as client:
        yield client
