"""Decimals as the nearest doubles, fast: what DuckDB's CAST(x AS DOUBLE) gives for the
lake's DECIMAL(38, 18), at a few ns a value instead of about a microsecond.

A decimal with unscaled value U and scale s is U / 10**s. When U = c * 10**k with c < 2**53,
it is c / 10**(s - k), and both of those are exact doubles (10**m is exact up to m = 22),
so one IEEE division gives the correctly rounded result. Market prices and sizes (a few
significant digits, padded with zeros to 18 decimals) are all of that form; any other value
is converted through Python's Decimal, also correctly rounded.
"""

from __future__ import annotations

from typing import Any

_LIMIT = 2**53
_SMALL = 2**49  # a high word below this: |U| < 2**113
_DECIMALS = 8  # the decimals market prices and sizes have at most, in practice


def _attempt(approx: Any, high: Any, low: Any, k: Any, scale: int, delta: float) -> Any:
    """(where U == c * 10**k exactly, c / 10**(scale - k)) for c = approx / 10**k rounded,
    plus delta, below 2**53. Below 2**113 approx is within 2**60 of U, so c * 10**k is
    within 2**62 of it and equal to U when their low 64 bits are equal."""
    import numpy as np

    pow10 = np.array([10**i for i in range(scale + 1)], np.uint64)[k]
    tens = np.array([float(10**i) for i in range(scale + 1)])  # exact doubles up to 10**22
    c = np.rint(approx / pow10.astype(np.float64)) + delta
    ok = (high < np.uint64(_SMALL)) & (c >= 0) & (c < _LIMIT)
    ok &= np.where(ok, c, 0).astype(np.uint64) * pow10 == low
    return ok, c / tens[scale - np.asarray(k)]


def nearest_doubles(values: Any) -> Any:
    """A decimal128 pyarrow (Chunked)Array without nulls -> numpy float64, each value the
    double nearest to the decimal."""
    import numpy as np
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    n = len(values)
    if values.null_count:
        raise ValueError("nearest_doubles: null values")
    scale = values.type.scale
    if scale > 18:  # 10**scale must fit in 60 bits
        return np.array([float(v) for v in values.to_pylist()], np.float64)
    words = np.frombuffer(values.buffers()[1], np.uint64, 2 * (values.offset + n))
    words = words[2 * values.offset :].reshape(n, 2)
    low, high = words[:, 0], words[:, 1]
    neg = high.view(np.int64) < 0
    if neg.any():  # the magnitude, in two's complement: invert and add one
        low = np.where(neg, ~low + np.uint64(1), low)
        high = np.where(neg, ~high + (low == 0).astype(np.uint64), high)
    approx = high.astype(np.float64) * 2.0**64 + low.astype(np.float64)
    # All at once with _DECIMALS decimals; the rest with the fewest trailing digits dropped
    # that bring c below 2**53, and c's neighbours (approx / 10**k may round to one).
    ok, out = _attempt(approx, high, low, max(scale - _DECIMALS, 0), scale, 0.0)
    todo = np.flatnonzero(~ok)
    if len(todo):
        limits = np.array([float(_LIMIT * 10**i) for i in range(scale)])
        k = np.searchsorted(limits, approx[todo], "right")
        for delta in (0.0, -1.0, 1.0):
            ok, got = _attempt(approx[todo], high[todo], low[todo], k, scale, delta)
            out[todo[ok]] = got[ok]
            todo, k = todo[~ok], k[~ok]
            if not len(todo):
                break
    if len(todo):
        out[todo] = [abs(float(v)) for v in values.take(pa.array(todo)).to_pylist()]
    out[neg] = -out[neg]
    return out
