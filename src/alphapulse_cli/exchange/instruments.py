"""The instruments the local exchange lists, with their tick sizes and precisions.

Prices and quantities live as integers: a price in units of 10**-price_precision, a quantity
in units of 10**-qty_precision. Text is made from those integers, so every number on the wire
is an exact decimal with the pair's precision (trailing zeros kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alphapulse_cli.errors import UsageError

VENUES = ("coinbase", "kraken")

# Kraken v1 names a few assets differently from v2 (XBT for BTC, XDG for DOGE).
_V1_ASSET = {"BTC": "XBT", "DOGE": "XDG"}
_V2_ASSET = {v: k for k, v in _V1_ASSET.items()}


@dataclass(frozen=True)
class Instrument:
    symbol: str  # the venue's own name: BTC-USD (Coinbase), BTC/USD (Kraken v2)
    base: str
    quote: str
    price_precision: int
    qty_precision: int
    start_price: str
    tick_units: int = 1  # tick size in units of 10**-price_precision
    v1_price_decimals: int = 5  # Kraken v1 prints prices with at least 5 decimals

    @property
    def v1_symbol(self) -> str:
        return f"{_V1_ASSET.get(self.base, self.base)}/{_V1_ASSET.get(self.quote, self.quote)}"

    @property
    def price_scale(self) -> int:
        return 10**self.price_precision

    def start_units(self) -> int:
        whole, _, frac = self.start_price.partition(".")
        frac = (frac + "0" * self.price_precision)[: self.price_precision]
        units = int(whole) * self.price_scale + int(frac or "0")
        return units - units % self.tick_units


# (base, quote): (price_precision, qty_precision, start price, tick units)
_COINBASE = {
    ("BTC", "USD"): (2, 8, "67250.00", 1),
    ("ETH", "USD"): (2, 8, "3480.00", 1),
    ("SOL", "USD"): (2, 8, "152.00", 1),
    ("ETH", "BTC"): (5, 8, "0.05180", 1),
    ("DOGE", "USD"): (5, 1, "0.16000", 1),
    ("XRP", "USD"): (4, 6, "0.6000", 1),
    ("LTC", "USD"): (2, 8, "84.00", 1),
    ("ADA", "USD"): (4, 2, "0.4500", 1),
}
_KRAKEN = {
    ("BTC", "USD"): (1, 8, "67250.0", 1),
    ("BTC", "EUR"): (1, 8, "62100.0", 1),
    ("ETH", "USD"): (2, 8, "3480.00", 1),
    ("ETH", "BTC"): (5, 8, "0.05180", 1),
    ("SOL", "USD"): (2, 8, "152.00", 1),
    ("XRP", "USD"): (5, 8, "0.60000", 1),
    ("DOGE", "USD"): (7, 8, "0.1600000", 1),
    ("MATIC", "USD"): (4, 8, "0.5660", 1),
    ("ADA", "USD"): (6, 8, "0.450000", 1),
    ("LTC", "USD"): (2, 8, "84.00", 1),
}
# Any other well-formed pair is listed with these (price precision, qty precision, start).
_GENERIC = (4, 8, "10.0000", 1)

DEFAULT_SYMBOLS = {
    "coinbase": ["BTC-USD", "ETH-USD", "SOL-USD"],
    "kraken": ["BTC/USD", "ETH/USD", "SOL/USD"],
}

_PAIR = re.compile(r"^([A-Z0-9]{2,10})[-/]([A-Z0-9]{2,10})$")


def split_pair(symbol: str) -> tuple[str, str]:
    m = _PAIR.match(symbol.strip().upper())
    if not m:
        raise UsageError(
            f"symbol {symbol!r}: expected BASE-QUOTE or BASE/QUOTE, e.g. BTC-USD or BTC/USD"
        )
    return m.group(1), m.group(2)


def instrument(venue: str, symbol: str) -> Instrument:
    """The instrument for `symbol` (either spelling; Kraken v1 names accepted) on `venue`."""
    base, quote = split_pair(symbol)
    if venue == "coinbase":
        pp, qp, start, tick = _COINBASE.get((base, quote), _GENERIC)
        return Instrument(f"{base}-{quote}", base, quote, pp, qp, start, tick)
    if venue == "kraken":
        base, quote = _V2_ASSET.get(base, base), _V2_ASSET.get(quote, quote)
        pp, qp, start, tick = _KRAKEN.get((base, quote), _GENERIC)
        return Instrument(f"{base}/{quote}", base, quote, pp, qp, start, tick, max(5, pp))
    raise UsageError(f"unknown venue {venue!r}: expected one of {', '.join(VENUES)}")


def listing(venue: str, symbols: list[str] | None) -> list[Instrument]:
    """The instruments an exchange lists: `symbols` (deduplicated, in order) or the defaults."""
    out: list[Instrument] = []
    seen: set[str] = set()
    for s in symbols or DEFAULT_SYMBOLS.get(venue, []):
        inst = instrument(venue, s)
        if inst.symbol not in seen:
            seen.add(inst.symbol)
            out.append(inst)
    if not out:
        raise UsageError("no symbols: list at least one, e.g. --symbols BTC-USD")
    return out
