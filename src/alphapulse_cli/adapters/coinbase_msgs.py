"""Typed shapes of the Coinbase Exchange feed messages we use (decoded by msgspec, which
checks the shapes in C far faster than walking dicts), keyed by their "type" field.

Unknown fields are skipped; a known type with a missing or ill-typed field is a
ValidationError, which the adapter reports as a malformed frame.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import msgspec

Side = Literal["buy", "sell"]
TradeId = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]


class L2Update(msgspec.Struct, tag_field="type", tag="l2update", gc=False):
    product_id: str
    changes: list[tuple[Side, str, str]]
    time: str = ""


class Snapshot(msgspec.Struct, tag_field="type", tag="snapshot", gc=False):
    product_id: str
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    time: str = ""


class Match(msgspec.Struct, tag_field="type", tag="match", gc=False):
    trade_id: TradeId
    side: Side
    size: str
    price: str
    product_id: str
    time: str = ""


class LastMatch(Match, tag="last_match", gc=False):
    pass


class Heartbeat(msgspec.Struct, tag_field="type", tag="heartbeat", gc=False):
    product_id: str
    last_trade_id: Annotated[int, msgspec.Meta(ge=-1, le=(1 << 63) - 1)] = -1
    time: str = ""


class Error(msgspec.Struct, tag_field="type", tag="error", gc=False):
    message: str = ""
    reason: str = ""


# Well-formed types we read past; listing them keeps them off the slow fallback path.
class Ticker(msgspec.Struct, tag_field="type", tag="ticker", gc=False):
    pass


class Subscriptions(msgspec.Struct, tag_field="type", tag="subscriptions", gc=False):
    pass


class Status(msgspec.Struct, tag_field="type", tag="status", gc=False):
    pass


Message = Union[
    L2Update, Match, Snapshot, LastMatch, Heartbeat, Error, Ticker, Subscriptions, Status
]
KNOWN_TYPES = frozenset(
    {
        "l2update",
        "match",
        "snapshot",
        "last_match",
        "heartbeat",
        "error",
        "ticker",
        "subscriptions",
        "status",
    }
)

decode = msgspec.json.Decoder(Message).decode
decode_any = msgspec.json.Decoder().decode
