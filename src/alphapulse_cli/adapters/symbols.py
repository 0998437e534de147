"""Symbol normalization: every venue's pair name becomes BASE-QUOTE (BTC-USD).

Kraken v1 uses its legacy asset codes (XBT for bitcoin, XDG for dogecoin); v2 already
uses the common codes. The venue's own spelling travels alongside as `venue_symbol`.
"""

from __future__ import annotations

# Kraken's legacy asset codes that differ from the common ones.
KRAKEN_TO_COMMON = {"XBT": "BTC", "XDG": "DOGE"}
COMMON_TO_KRAKEN_V1 = {v: k for k, v in KRAKEN_TO_COMMON.items()}


def _is_code(code: str) -> bool:
    return 0 < len(code) <= 20 and code.isascii() and code.isalnum()


def split_pair(symbol: str, sep: str) -> tuple[str, str] | None:
    base, found, quote = symbol.partition(sep)
    if not found or not _is_code(base) or not _is_code(quote):
        return None
    return base, quote


def coinbase_symbol(product_id: str) -> str | None:
    """'BTC-USD' -> 'BTC-USD'; None if it is not a BASE-QUOTE product id."""
    pair = split_pair(product_id, "-")
    if pair is None:
        return None
    return f"{pair[0].upper()}-{pair[1].upper()}"


def kraken_symbol(pair: str) -> str | None:
    """'XBT/USD' (v1) or 'BTC/USD' (v2) -> 'BTC-USD'; None if it is not BASE/QUOTE."""
    parts = split_pair(pair, "/")
    if parts is None:
        return None
    base, quote = (p.upper() for p in parts)
    return f"{KRAKEN_TO_COMMON.get(base, base)}-{KRAKEN_TO_COMMON.get(quote, quote)}"


def to_kraken(symbol: str, protocol: str) -> str:
    """'BTC-USD' -> 'BTC/USD' (v2) or 'XBT/USD' (v1). Venue forms pass through."""
    if "/" in symbol:
        base, _, quote = symbol.partition("/")
    else:
        base, _, quote = symbol.partition("-")
    base, quote = base.upper(), quote.upper()
    if protocol == "v1":
        base = COMMON_TO_KRAKEN_V1.get(base, base)
        quote = COMMON_TO_KRAKEN_V1.get(quote, quote)
    else:
        base = KRAKEN_TO_COMMON.get(base, base)
        quote = KRAKEN_TO_COMMON.get(quote, quote)
    return f"{base}/{quote}"
