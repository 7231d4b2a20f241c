"""Formatting float32 numbers as text at C speed, digit for digit as Python's ``f"{x:.{P}g}"``.

Writers of large text files (ARPA models, word2vec text vectors) spend most of their time
turning numbers into strings one Python call at a time. :func:`format_g` does it in a numba
kernel with exact integer arithmetic: a float32 is ``m * 2**q`` with ``m < 2**24``, so
``x * 10**s`` is ``m * 5**s * 2**(q + s)``, rounded half to even on the exact value as
Python's correctly rounded formatting does. The few values outside the kernel's exact range
(``|x| >= 10**P`` or very small magnitudes, infinities, NaN) are formatted by Python.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: bytes per formatted value: sign, P <= 9 digits, point, 'e-', three exponent digits
WIDTH = 24
_MAX_S = 16  # 5**16 * 2**24 < 2**63


_POW5 = np.array([5 ** i for i in range(_MAX_S + 1)], dtype=np.int64)
_POW10 = np.array([10 ** i for i in range(19)], dtype=np.int64)
_SCRATCH = 14  # digits are spelled at out[_SCRATCH:], always ahead of where they are copied to


@njit(cache=True, inline="always")
def _scaled(m: int, q: int, s: int) -> int:
    """round(m * 2**q * 10**s) to the nearest integer, ties to even (exact). 0 <= s <= 16."""
    big = m * _POW5[s]
    e2 = q + s
    if e2 >= 0:
        return big << e2
    shift = -e2
    if shift >= 63:
        return 0
    n = big >> shift
    rem = big - (n << shift)
    half = np.int64(1) << (shift - 1)
    if rem > half or (rem == half and (n & 1) == 1):
        n += 1
    return n


@njit(cache=True, inline="always")
def _copy_digits(out, pos: int, first: int, count: int) -> int:
    for j in range(count):
        out[pos + j] = out[_SCRATCH + first + j]
    return pos + count


@njit(cache=True, inline="always")
def _format_one(bits: np.uint32, value: float, digits: int, out) -> int:
    """Format the float32 ``value`` (with these ``bits``) into ``out`` (a row of WIDTH bytes);
    return its length, or -1 when Python must format it (non-finite, |x| >= 10**digits, tiny)."""
    sign = (bits >> 31) & 1
    eb = np.int64((bits >> 23) & 0xFF)
    frac = np.int64(bits & 0x7FFFFF)
    pos = 0
    if eb == 255:
        return -1
    if eb == 0 and frac == 0:
        if sign:
            out[0] = 45
            pos = 1
        out[pos] = 48
        return pos + 1
    if eb == 0:
        m, q = frac, np.int64(-149)
    else:
        m, q = frac | 0x800000, eb - 150
    e10 = np.int64(np.floor(np.log10(abs(value))))
    top = _POW10[digits]
    low = _POW10[digits - 1]
    n = np.int64(0)
    found = False
    for _ in range(4):
        s = digits - 1 - e10
        if s < 0 or s > _MAX_S:
            return -1
        n = _scaled(m, q, s)
        if n >= top:
            e10 += 1
        elif n < low:
            e10 -= 1
        else:
            found = True
            break
    if not found:
        return -1
    nd = digits  # significant digits left once trailing zeros are dropped
    for j in range(digits - 1, -1, -1):
        out[_SCRATCH + j] = 48 + n % 10
        n //= 10
    while nd > 1 and out[_SCRATCH + nd - 1] == 48:
        nd -= 1
    if sign:
        out[0] = 45
        pos = 1
    if -4 <= e10 < digits:
        if e10 < 0:
            out[pos] = 48
            out[pos + 1] = 46
            pos += 2
            for _ in range(-e10 - 1):
                out[pos] = 48
                pos += 1
            return _copy_digits(out, pos, 0, nd)
        int_digits = e10 + 1
        if nd <= int_digits:
            pos = _copy_digits(out, pos, 0, nd)
            for _ in range(int_digits - nd):
                out[pos] = 48
                pos += 1
            return pos
        pos = _copy_digits(out, pos, 0, int_digits)
        out[pos] = 46
        return _copy_digits(out, pos + 1, int_digits, nd - int_digits)
    # scientific: d[.ddd]e+XX
    pos = _copy_digits(out, pos, 0, 1)
    if nd > 1:
        out[pos] = 46
        pos = _copy_digits(out, pos + 1, 1, nd - 1)
    out[pos] = 101
    out[pos + 1] = 45 if e10 < 0 else 43
    pos += 2
    ex = -e10 if e10 < 0 else e10
    if ex >= 100:
        out[pos] = 48 + ex // 100
        pos += 1
    out[pos] = 48 + (ex // 10) % 10
    out[pos + 1] = 48 + ex % 10
    return pos + 2


@njit(cache=True, nogil=True, inline="always")
def put_bytes(out, pos: int, src, lo: int, hi: int) -> int:
    """Copy ``src[lo:hi]`` (uint8) to ``out[pos:]``; return the position after it (for kernels
    that assemble lines of spelled numbers and words)."""
    for c in range(lo, hi):
        out[pos] = src[c]
        pos += 1
    return pos


@njit(cache=True, nogil=True)
def _format_all(values, digits: int, out, lengths) -> None:
    bits = values.view(np.uint32)
    for i in range(len(values)):
        lengths[i] = _format_one(bits[i], np.float64(values[i]), digits, out[i])


def format_g(values: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Format float32 ``values`` (shape ``[n]``) as Python's ``f"{float(x):.{digits}g}"``.

    Returns ``(text, lengths)``: ``text`` is uint8 ``[n, WIDTH]`` and value ``i``'s ASCII is
    ``text[i, :lengths[i]]``. ``digits`` is 1..9.
    """
    if not 1 <= digits <= 9:
        raise ValueError(f"digits must be 1..9, got {digits}")
    flat = np.ascontiguousarray(values, dtype=np.float32)
    text = np.empty((len(flat), WIDTH), dtype=np.uint8)
    lengths = np.empty(len(flat), dtype=np.int64)
    _format_all(flat, digits, text, lengths)
    for i in np.flatnonzero(lengths < 0).tolist():
        s = f"{float(flat[i]):.{digits}g}".encode("ascii")
        text[i, :len(s)] = np.frombuffer(s, np.uint8)
        lengths[i] = len(s)
    return text, lengths
