"""What the Kraken v1 and v2 parsers hand the adapter: one neutral item per book message,
trade or piece of subscription knowledge, so both protocol versions share one book and
integrity path. Prices and sizes are the exact wire text."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from alphapulse_cli.errors import Malformed

VALID_DEPTHS = (10, 25, 100, 500, 1000)
MAX_DEPTH = 100_000  # beyond any venue depth: a bound for numbers read off the wire


@dataclass(slots=True)
class BookData:
    venue_symbol: str
    snapshot: bool
    bids: list[list[str]]
    asks: list[list[str]]
    checksum: int | None
    ts_exchange: int | None
    depth: int | None = None  # v1 names it in every message ("book-25")


@dataclass(slots=True)
class TradeData:
    venue_symbol: str
    price: str
    size: str
    side: str  # taker = aggressor
    trade_id: int | None
    ts_exchange: int | None
    snapshot: bool = False


@dataclass(slots=True)
class DepthInfo:
    """A subscription's book depth, from an ack (v2) or subscriptionStatus (v1)."""

    venue_symbol: str
    depth: int


@dataclass(slots=True)
class PrecisionInfo:
    """An instrument's price and qty decimals (v2 instrument channel)."""

    venue_symbol: str
    price_precision: int
    qty_precision: int


@dataclass(slots=True)
class VenueError:
    text: str


Item = BookData | TradeData | DepthInfo | PrecisionInfo | VenueError


def number_text(value: object, what: str) -> str:
    """A v2 number as its exact wire text (floats arrive as text via the decoder's
    float_hook, integers as int, the string form as str); exponents become plain digits."""
    if type(value) is str:
        text = value
    elif type(value) is int and -(10**40) < value < 10**40:
        text = str(value)
    else:
        raise Malformed(f"{what} is not a number")
    if "e" in text or "E" in text:
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise Malformed(f"{what} {text[:30]!r} is not a number") from None
        # Bounded before expanding: 1e999999999 would otherwise become a billion digits.
        if not d.is_finite() or not -40 <= d.adjusted() <= 40:
            raise Malformed(f"{what} {text[:30]!r} is out of range")
        text = format(d, "f")
    return text


def is_decimal(text: str) -> bool:
    return text.isascii() and text.replace(".", "", 1).isdigit()


def depth_for(count: int) -> int:
    """The smallest subscribable depth that holds `count` levels."""
    for d in VALID_DEPTHS:
        if count <= d:
            return d
    return count
