"""Number text as the venues print it, made from integers (no float round trips); times are
in core.times."""

from __future__ import annotations


def fixed(units: int, places: int) -> str:
    """`units` * 10**-places with exactly `places` decimals: fixed(100000, 8) == '0.00100000'."""
    if places == 0:
        return str(units)
    q, r = divmod(units, 10**places)
    return f"{q}.{r:0{places}d}"


def uuid_text(bits: int) -> str:
    """A 128-bit integer in the 8-4-4-4-12 form of a UUID (Coinbase order ids)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
