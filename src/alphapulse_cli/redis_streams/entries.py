"""What goes into Redis: stream keys, entry fields, and the XADD commands as RESP bytes.

Trades go to ``trades:<exchange>:<symbol>`` with, in this order::

    timestamp  exchange time, Unix epoch microseconds (local receive time when the venue gives none)
    price      decimal string, exactly as the venue sent it
    volume     decimal string (the trade size)
    side       aggressor side: buy or sell
    trade_id   the venue's trade id, empty when it has none
    received   local receive time, Unix epoch microseconds

Top-of-book snapshots go to ``book:<exchange>:<symbol>``::

    timestamp, received                    as for trades
    bid_price, bid_size, ask_price, ask_size   best levels, empty strings for an empty side
    bids, asks                             the top levels as JSON [["price","size"], ...]

Values depend only on the event, so replaying a log writes what collecting it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from alphapulse_cli.redis_streams.resp import encode

TRADE_FIELDS = ("timestamp", "price", "volume", "side", "trade_id", "received")
BOOK_FIELDS = (
    "timestamp",
    "received",
    "bid_price",
    "bid_size",
    "ask_price",
    "ask_size",
    "bids",
    "asks",
)

Level = Sequence[Any]
# (exchange, symbol, ts_local_ns, ts_exchange_ns, bids, asks): what publish_book queues.
BookItem = tuple[str, str, int, "int | None", Sequence[Level], Sequence[Level]]


def trade_key(exchange: str, symbol: str) -> str:
    return f"trades:{exchange}:{symbol}"


def book_key(exchange: str, symbol: str) -> str:
    return f"book:{exchange}:{symbol}"


def _xadd_head(key: str, maxlen: int | None, nfields: int) -> list[str]:
    head = ["XADD", key]
    if maxlen:
        head += ["MAXLEN", "~", str(maxlen)]
    head.append("*")
    return head


def trade_fields(ev: dict[str, Any]) -> list[str]:
    """The field/value list of one trade, in stream order."""
    recv = ev["ts_local"] // 1000
    tx = ev.get("ts_exchange")
    ts = tx // 1000 if tx is not None else recv
    tid = ev.get("trade_id")
    return [
        "timestamp",
        str(ts),
        "price",
        str(ev["price"]),
        "volume",
        str(ev["size"]),
        "side",
        str(ev["side"]),
        "trade_id",
        "" if tid is None else str(tid),
        "received",
        str(recv),
    ]


def book_fields(item: BookItem, depth: int) -> list[str]:
    _exchange, _symbol, ts_local, ts_exchange, bids, asks = item
    recv = ts_local // 1000
    ts = ts_exchange // 1000 if ts_exchange is not None else recv
    bid = bids[0] if bids else ("", "")
    ask = asks[0] if asks else ("", "")
    return [
        "timestamp",
        str(ts),
        "received",
        str(recv),
        "bid_price",
        str(bid[0]),
        "bid_size",
        str(bid[1]),
        "ask_price",
        str(ask[0]),
        "ask_size",
        str(ask[1]),
        "bids",
        json.dumps([[str(p), str(s)] for p, s, *_ in bids[:depth]], separators=(",", ":")),
        "asks",
        json.dumps([[str(p), str(s)] for p, s, *_ in asks[:depth]], separators=(",", ":")),
    ]


class Encoder:
    """Turns queued items (trade dicts, book tuples) into one pipelined RESP payload."""

    def __init__(self, maxlen: int | None, book_maxlen: int | None, book_depth: int) -> None:
        self.maxlen = maxlen
        self.book_maxlen = book_maxlen
        self.book_depth = book_depth
        self._trade_prefix: dict[tuple[str, str], str] = {}

    def _prefix(self, exchange: str, symbol: str) -> str:
        head = _xadd_head(trade_key(exchange, symbol), self.maxlen, len(TRADE_FIELDS))
        parts = [f"*{len(head) + 2 * len(TRADE_FIELDS)}\r\n"]
        for a in head:
            parts.append(f"${len(a.encode())}\r\n{a}\r\n")
        p = "".join(parts)
        self._trade_prefix[(exchange, symbol)] = p
        return p

    def trade_str(self, ev: dict[str, Any]) -> str:
        """The XADD of one trade as text (byte lengths are right when the text is ASCII)."""
        ex = ev["exchange"]
        sym = ev["symbol"]
        prefix = self._trade_prefix.get((ex, sym)) or self._prefix(ex, sym)
        recv = ev["ts_local"] // 1000
        tx = ev["ts_exchange"]
        ts = str(recv if tx is None else tx // 1000)
        rc = str(recv)
        p = ev["price"]
        if type(p) is not str:
            p = str(p)
        v = ev["size"]
        if type(v) is not str:
            v = str(v)
        side = ev["side"]
        tid = ev.get("trade_id")
        if type(tid) is not str:
            tid = "" if tid is None else str(tid)
        return (
            f"{prefix}$9\r\ntimestamp\r\n${len(ts)}\r\n{ts}\r\n$5\r\nprice\r\n${len(p)}\r\n{p}\r\n"
            f"$6\r\nvolume\r\n${len(v)}\r\n{v}\r\n$4\r\nside\r\n${len(side)}\r\n{side}\r\n"
            f"$8\r\ntrade_id\r\n${len(tid)}\r\n{tid}\r\n$8\r\nreceived\r\n${len(rc)}\r\n{rc}\r\n"
        )

    def exact(self, item: dict[str, Any] | BookItem) -> bytes:
        """The XADD of one item, encoded argument by argument (any text, exact byte lengths)."""
        if isinstance(item, dict):
            head = _xadd_head(trade_key(item["exchange"], item["symbol"]), self.maxlen, 6)
            return encode(*head, *trade_fields(item))
        head = _xadd_head(book_key(item[0], item[1]), self.book_maxlen, 8)
        return encode(*head, *book_fields(item, self.book_depth))

    def payload(self, items: list[Any]) -> bytes:
        trade_str = self.trade_str
        parts: list[str] = []
        for it in items:
            if type(it) is dict:
                parts.append(trade_str(it))
            else:
                parts.append(self.exact(it).decode("utf-8", "surrogateescape"))
        text = "".join(parts)
        if text.isascii():
            return text.encode("ascii")
        return b"".join(self.exact(it) for it in items)
