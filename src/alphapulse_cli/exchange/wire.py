"""Number and time text as the venues print them, made from integers (no float round trips)."""

from __future__ import annotations

import time


def fixed(units: int, places: int) -> str:
    """`units` * 10**-places with exactly `places` decimals: fixed(100000, 8) == '0.00100000'."""
    if places == 0:
        return str(units)
    q, r = divmod(units, 10**places)
    return f"{q}.{r:0{places}d}"


def iso_us(ns: int) -> str:
    """RFC 3339 UTC with microseconds, as Coinbase and Kraken v2 print times."""
    sec, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{rem // 1000:06d}Z"


def epoch_us(ns: int) -> str:
    """Epoch seconds with six decimals, as Kraken v1 prints times: '1534614248.123678'."""
    sec, rem = divmod(ns, 1_000_000_000)
    return f"{sec}.{rem // 1000:06d}"


def uuid_text(bits: int) -> str:
    """A 128-bit integer in the 8-4-4-4-12 form of a UUID (Coinbase order ids)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
