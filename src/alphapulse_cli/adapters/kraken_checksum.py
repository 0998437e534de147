"""Kraken's order-book CRC32 (v1 and v2), shared by the adapter and the local exchange.

For each of the top 10 asks (low to high) then the top 10 bids (high to low): the price text
with '.' removed and leading zeros stripped, then the same for the quantity; CRC32 of the
concatenation, unsigned. The text must carry the instrument's full precision: v2 numbers are
formatted to price_precision/qty_precision first (Kraken's own MATIC/USD example only
reproduces that way); v1 strings are used as sent.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from decimal import Decimal


def level_token(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def fixed(value: Decimal | str, places: int) -> str:
    """`value` as text with exactly `places` decimals (no exponent, no rounding surprises)."""
    d = value if isinstance(value, Decimal) else Decimal(value)
    return f"{d:.{places}f}"


def checksum_from_text(asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]]) -> int:
    """CRC32 over levels already in wire text form (v1, or v2 after `fixed`). Best first."""
    parts: list[str] = []
    for i, (p, q) in enumerate(asks):
        if i == 10:
            break
        parts.append(level_token(p))
        parts.append(level_token(q))
    for i, (p, q) in enumerate(bids):
        if i == 10:
            break
        parts.append(level_token(p))
        parts.append(level_token(q))
    return zlib.crc32("".join(parts).encode("ascii")) & 0xFFFFFFFF


def checksum_v2(
    asks: Iterable[tuple[Decimal | str, Decimal | str]],
    bids: Iterable[tuple[Decimal | str, Decimal | str]],
    price_precision: int,
    qty_precision: int,
) -> int:
    """v2: format each price and qty to the instrument's precision, then as v1. Best first."""

    def fmt(levels: Iterable[tuple[Decimal | str, Decimal | str]]) -> list[tuple[str, str]]:
        out = []
        for i, (p, q) in enumerate(levels):
            if i == 10:
                break
            out.append((fixed(p, price_precision), fixed(q, qty_precision)))
        return out

    return checksum_from_text(fmt(asks), fmt(bids))
