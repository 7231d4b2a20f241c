"""The numba number formatter against Python's own formatting (the reference it must equal)."""
import numpy as np
import pytest

from lmkit._numfmt import format_g


def _texts(values: np.ndarray, digits: int) -> list[str]:
    text, lengths = format_g(values, digits)
    return [bytes(text[i, :lengths[i]]).decode("ascii") for i in range(len(values))]


def _python(values: np.ndarray, digits: int) -> list[str]:
    with np.errstate(invalid="ignore"):   # signalling NaNs among random bit patterns
        wide = values.astype(np.float64)
    return [f"{x:.{digits}g}" for x in wide.tolist()]


SPECIAL = np.array([0.0, -0.0, 1, -1, 0.5, 1e-5, -1e-5, 1.5e-4, 1e-4, -1e-4, 99, -99, 100, 1000,
                    12345678, 123456789, 1e8, 9.9999999e7, 0.1, 0.30103, -2.5, 1e7, 10,
                    np.inf, -np.inf, np.nan, 1e-45, 3.4e38, -1.1754944e-38], dtype=np.float32)


@pytest.mark.parametrize("digits", range(1, 10))
def test_special_values(digits):
    assert _texts(SPECIAL, digits) == _python(SPECIAL, digits)


@pytest.mark.parametrize("digits", [1, 3, 6, 8, 9])
def test_every_kind_of_float32(digits):
    rng = np.random.default_rng(digits)
    bits = rng.integers(0, 2 ** 32, size=200_000, dtype=np.uint64).astype(np.uint32)
    log_probs = -rng.exponential(2.0, 200_000).astype(np.float32)
    decimals = (rng.integers(1, 10 ** 6, 200_000) / 10.0 ** rng.integers(-3, 8, 200_000)).astype(np.float32)
    # exact ties at the rounding digit: small integers and binary fractions
    ties = (rng.integers(0, 2 ** 20, 100_000) / 2.0 ** rng.integers(0, 12, 100_000)).astype(np.float32)
    for values in (bits.view(np.float32), log_probs, decimals, ties):
        assert _texts(values, digits) == _python(values, digits)


def test_digits_out_of_range():
    with pytest.raises(ValueError):
        format_g(np.zeros(1, np.float32), 10)
