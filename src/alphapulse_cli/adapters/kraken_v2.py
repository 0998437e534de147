"""Kraken WebSocket v2 frames (JSON objects with "channel" or "method") -> items.

Prices and quantities are JSON numbers whose text carries the engine's precision (trailing
zeros included), and the book checksum is computed from that text: the decoder hands every
float literal over as its text, so nothing goes through a binary float.
"""

from __future__ import annotations

from typing import Any

from alphapulse_cli.adapters.kraken_items import (
    MAX_DEPTH,
    BookData,
    DepthInfo,
    Item,
    PrecisionInfo,
    TradeData,
    VenueError,
    is_decimal,
    number_text,
)
from alphapulse_cli.core.times import rfc3339_to_ns
from alphapulse_cli.errors import Malformed


def parse(obj: dict[str, Any]) -> list[Item]:
    channel = obj.get("channel")
    if channel is None:
        method = obj.get("method")
        if not isinstance(method, str):
            raise Malformed("v2 message without 'channel' or 'method'")
        return _response(method, obj)
    if channel == "book":
        return [_book(entry, obj.get("type")) for entry in _data_list(obj, "book")]
    if channel == "trade":
        snap = obj.get("type") == "snapshot"
        return [_trade(entry, snap) for entry in _data_list(obj, "trade")]
    if channel == "instrument":
        return _instrument(obj)
    if not isinstance(channel, str):
        raise Malformed("v2 'channel' is not a string")
    return []  # heartbeat, status and channels we do not use


def _data_list(obj: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    data = obj.get("data")
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise Malformed(f"v2 {channel} message without a data list of objects")
    return data


def _symbol(entry: dict[str, Any], channel: str) -> str:
    sym = entry.get("symbol")
    if not isinstance(sym, str):
        raise Malformed(f"v2 {channel} entry without a symbol")
    return sym


def _levels(raw: object, sym: str, side: str) -> list[list[str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Malformed(f"v2 book {side} is not a list", venue_symbol=sym)
    out = []
    for lv in raw:
        if not isinstance(lv, dict):
            raise Malformed(f"v2 book {side} level is not an object", venue_symbol=sym)
        out.append([number_text(lv.get("price"), "price"), number_text(lv.get("qty"), "qty")])
    return out


def _book(entry: dict[str, Any], kind: object) -> BookData:
    if kind not in ("snapshot", "update"):
        raise Malformed("v2 book message type is not snapshot or update")
    sym = _symbol(entry, "book")
    checksum = entry.get("checksum")
    if checksum is not None and (type(checksum) is not int or not 0 <= checksum < 1 << 32):
        raise Malformed("v2 book checksum is not an unsigned 32-bit integer", venue_symbol=sym)
    try:
        bids = _levels(entry.get("bids"), sym, "bids")
        asks = _levels(entry.get("asks"), sym, "asks")
    except Malformed as exc:
        exc.venue_symbol = sym
        raise
    return BookData(
        sym, kind == "snapshot", bids, asks, checksum, rfc3339_to_ns(entry.get("timestamp"))
    )


def _trade(entry: dict[str, Any], snapshot: bool) -> TradeData:
    sym = _symbol(entry, "trade")
    side = entry.get("side")
    tid = entry.get("trade_id")
    try:
        price = number_text(entry.get("price"), "price")
        qty = number_text(entry.get("qty"), "qty")
    except Malformed as exc:
        exc.venue_symbol = sym
        raise
    if side not in ("buy", "sell") or not is_decimal(price) or not is_decimal(qty):
        raise Malformed("v2 trade with a bad side, price or qty", venue_symbol=sym)
    if tid is not None and (type(tid) is not int or not 0 <= tid < 1 << 63):
        raise Malformed("v2 trade_id is not a non-negative 64-bit integer", venue_symbol=sym)
    return TradeData(sym, price, qty, side, tid, rfc3339_to_ns(entry.get("timestamp")), snapshot)


def _instrument(obj: dict[str, Any]) -> list[Item]:
    data = obj.get("data")
    if not isinstance(data, dict):
        raise Malformed("v2 instrument message without a data object")
    pairs = data.get("pairs") or []
    if not isinstance(pairs, list):
        raise Malformed("v2 instrument pairs is not a list")
    out: list[Item] = []
    for p in pairs:
        if not isinstance(p, dict):
            continue
        sym, pp, qp = p.get("symbol"), p.get("price_precision"), p.get("qty_precision")
        if (
            isinstance(sym, str)
            and type(pp) is int
            and type(qp) is int
            and 0 <= pp <= 30
            and 0 <= qp <= 30
        ):
            out.append(PrecisionInfo(sym, pp, qp))
    return out


def _response(method: str, obj: dict[str, Any]) -> list[Item]:
    if method not in ("subscribe", "unsubscribe"):
        return []  # pong and others
    if obj.get("success") is False:
        err = obj.get("error")
        return [VenueError(f"{method} failed: {err}")]
    result = obj.get("result")
    if method == "subscribe" and isinstance(result, dict) and result.get("channel") == "book":
        sym, depth = result.get("symbol"), result.get("depth")
        if isinstance(sym, str) and type(depth) is int and 0 < depth <= MAX_DEPTH:
            return [DepthInfo(sym, depth)]
    return []
