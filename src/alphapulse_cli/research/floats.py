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
    low, high = np.ascontiguousarray(words[:, 0]), np.ascontiguousarray(words[:, 1])
    neg = high.view(np.int64) < 0
    if neg.any():  # the magnitude, in two's complement: invert and add one
        low = np.where(neg, ~low + np.uint64(1), low)
        high = np.where(neg, ~high + (low == 0).astype(np.uint64), high)
    approx = high.astype(np.float64) * 2.0**64 + low.astype(np.float64)
    # k: the fewest trailing digits to drop for c = U / 10**k to be below 2**53.
    k = np.searchsorted(np.array([float(_LIMIT * 10**i) for i in range(scale)]), approx, "right")
    pow10 = np.array([10**i for i in range(scale + 1)], np.uint64)[k]
    tens = np.array([float(10**i) for i in range(scale + 1)])  # exact doubles up to 10**22
    base = np.rint(approx / pow10.astype(np.float64))
    # Below 2**113, approx is within 2**60 of U, so c * 10**k (c near approx / 10**k) is
    # within 2**64 of it, and equal to U exactly when their low 64 bits are equal.
    small = high < np.uint64(2**49)
    out = base / tens[scale - k]
    ok = small & (base < _LIMIT)
    ok &= np.where(ok, base, 0).astype(np.uint64) * pow10 == low
    todo = np.flatnonzero(~ok)
    for delta in (-1.0, 1.0):  # approx / 10**k may round to a neighbour of c
        if not len(todo):
            break
        c = base[todo] + delta
        ok = small[todo] & (c >= 0) & (c < _LIMIT)
        ok &= np.where(ok, c, 0).astype(np.uint64) * pow10[todo] == low[todo]
        done = todo[ok]
        out[done] = c[ok] / tens[scale - k[done]]
        todo = todo[~ok]
    if len(todo):
        out[todo] = [abs(float(v)) for v in values.take(pa.array(todo)).to_pylist()]
    out[neg] = -out[neg]
    return out
