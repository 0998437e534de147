"""Kraken WebSocket v1 frames -> items.

Channel data are arrays `[channelID, payload..., channelName, pair]` whose length varies
(a book update with both sides carries two payload objects), so the channel name and pair
are read from the end. Everything else is an object with an "event" field. All values are
strings with full precision; the book checksum `c` sits in the last payload object.
"""

from __future__ import annotations

from typing import Any

from alphapulse_cli.adapters.kraken_items import (
    MAX_DEPTH,
    BookData,
    DepthInfo,
    Item,
    TradeData,
    VenueError,
    is_decimal,
)
from alphapulse_cli.core.times import epoch_text_to_ns
from alphapulse_cli.errors import Malformed

_TAKER = {"b": "buy", "s": "sell", "buy": "buy", "sell": "sell"}


def parse_event(obj: dict[str, Any]) -> list[Item]:
    event = obj.get("event")
    if not isinstance(event, str):
        raise Malformed("v1 object without an 'event' field")
    if event == "subscriptionStatus":
        status = obj.get("status")
        pair = obj.get("pair")
        sub = obj.get("subscription")
        if status == "error":
            return [VenueError(f"subscribe failed: {obj.get('errorMessage')}")]
        if status == "subscribed" and isinstance(pair, str) and isinstance(sub, dict):
            depth = sub.get("depth")
            if sub.get("name") == "book" and type(depth) is int and 0 < depth <= MAX_DEPTH:
                return [DepthInfo(pair, depth)]
        return []
    if event == "error":
        return [VenueError(str(obj.get("errorMessage")))]
    return []  # heartbeat, systemStatus, pong


def parse_array(msg: list[Any]) -> list[Item]:
    if len(msg) < 4:
        raise Malformed(f"v1 array of {len(msg)} elements: expected 4 or 5")
    channel, pair = msg[-2], msg[-1]
    if not isinstance(channel, str) or not isinstance(pair, str):
        raise Malformed("v1 array without channel name and pair at its end")
    if channel.startswith("book-"):
        return [_book(msg[1:-2], channel, pair)]
    if channel == "trade":
        if len(msg) != 4:
            raise Malformed("v1 trade array: expected 4 elements", venue_symbol=pair)
        return _trades(msg[1], pair)
    return []  # ticker, spread, ohlc-N: channels we do not use


def _levels(raw: object, pair: str, key: str, stamps: list[int]) -> list[list[str]]:
    if not isinstance(raw, list):
        raise Malformed(f"v1 book '{key}' is not a list", venue_symbol=pair)
    out = []
    for lv in raw:
        if not isinstance(lv, list) or len(lv) < 3:
            raise Malformed(
                f"v1 book '{key}' level is not [price, volume, time]", venue_symbol=pair
            )
        price, volume, stamp = lv[0], lv[1], lv[2]
        if not isinstance(price, str) or not isinstance(volume, str):
            raise Malformed(f"v1 book '{key}' level values are not strings", venue_symbol=pair)
        ns = epoch_text_to_ns(stamp)
        if ns is not None:
            stamps.append(ns)
        out.append([price, volume])
    return out


def _book(parts: list[Any], channel: str, pair: str) -> BookData:
    suffix = channel[5:]
    if not suffix.isdigit() or not suffix.isascii() or len(suffix) > 5 or not 1 <= len(parts) <= 2:
        raise Malformed(f"v1 book array shape not understood ({channel})", venue_symbol=pair)
    if not all(isinstance(p, dict) for p in parts):
        raise Malformed("v1 book payload is not an object", venue_symbol=pair)
    depth = int(suffix)
    stamps: list[int] = []
    first = parts[0]
    if "as" in first or "bs" in first:
        if len(parts) != 1:
            raise Malformed("v1 book snapshot with two payload objects", venue_symbol=pair)
        asks = _levels(first.get("as", []), pair, "as", stamps)
        bids = _levels(first.get("bs", []), pair, "bs", stamps)
        return BookData(pair, True, bids, asks, None, max(stamps, default=None), depth)
    asks, bids = [], []
    checksum = None
    for part in parts:
        if "a" in part:
            asks += _levels(part["a"], pair, "a", stamps)
        if "b" in part:
            bids += _levels(part["b"], pair, "b", stamps)
        c = part.get("c")
        if c is not None:
            if (
                not isinstance(c, str)
                or not c.isdigit()
                or not c.isascii()
                or len(c) > 10
                or int(c) >= 1 << 32
            ):
                raise Malformed(
                    "v1 book checksum 'c' is not an unsigned 32-bit integer", venue_symbol=pair
                )
            checksum = int(c)
        if "a" not in part and "b" not in part:
            raise Malformed("v1 book update object without 'a' or 'b'", venue_symbol=pair)
    return BookData(pair, False, bids, asks, checksum, max(stamps, default=None), depth)


def _trades(raw: object, pair: str) -> list[Item]:
    if not isinstance(raw, list):
        raise Malformed("v1 trade payload is not a list", venue_symbol=pair)
    out: list[Item] = []
    for t in raw:
        if not isinstance(t, list) or len(t) < 4:
            raise Malformed("v1 trade is not [price, volume, time, side, ...]", venue_symbol=pair)
        price, volume, stamp, side = t[0], t[1], t[2], t[3]
        if (
            not isinstance(price, str)
            or not isinstance(volume, str)
            or not is_decimal(price)
            or not is_decimal(volume)
            or side not in _TAKER
        ):
            raise Malformed("v1 trade with a bad price, volume or side", venue_symbol=pair)
        out.append(TradeData(pair, price, volume, _TAKER[side], None, epoch_text_to_ns(stamp)))
    return out
