"""Client-side helpers for the local-exchange tests: real `websockets` clients, and small
dict-based books rebuilt independently of the exchange's own code (only the shared Kraken
checksum function is reused, as a client would)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from alphapulse_cli.adapters.kraken_checksum import checksum_from_text, checksum_v2


def client(url: str, **kwargs: Any) -> Any:
    """A real `websockets` client. An unbounded queue: a client that stops reading a busy feed
    pauses the TCP stream, and its closing handshake then waits behind the unread data."""
    from websockets.asyncio.client import connect

    return connect(url, max_queue=None, **kwargs)


def loads(text: str | bytes) -> Any:
    """Exact numbers: floats as Decimal (keeps the wire text, trailing zeros included)."""
    return json.loads(text, parse_float=Decimal)


async def recv(ws: Any, timeout: float = 5.0) -> Any:
    return loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws: Any, pred: Any, limit: int = 100_000, timeout: float = 10.0) -> Any:
    """The first message matching `pred`, skipping others."""
    for _ in range(limit):
        msg = await recv(ws, timeout)
        if pred(msg):
            return msg
    raise AssertionError("no matching message")


def decimals(text_number: str) -> int:
    return len(text_number.split(".")[1]) if "." in text_number else 0


class V2Book:
    """A Kraken v2 client book: apply every level, truncate to depth, checksum the top 10."""

    def __init__(self, depth: int, price_precision: int, qty_precision: int) -> None:
        self.depth = depth
        self.pp = price_precision
        self.qp = qty_precision
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, data: dict[str, Any], snapshot: bool) -> None:
        if snapshot:
            self.bids.clear()
            self.asks.clear()
        for key, levels in (("bids", self.bids), ("asks", self.asks)):
            for lvl in data[key]:
                price, qty = lvl["price"], lvl["qty"]
                if qty == 0:
                    # Kraken never sends qty 0 for a level the client does not hold.
                    assert price in levels, f"removal of unknown level {price}"
                    del levels[price]
                else:
                    levels[price] = qty
        for levels, best_first in ((self.bids, True), (self.asks, False)):
            for p in sorted(levels, reverse=not best_first)[: max(0, len(levels) - self.depth)]:
                del levels[p]

    def top(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        asks = [(p, self.asks[p]) for p in sorted(self.asks)]
        bids = [(p, self.bids[p]) for p in sorted(self.bids, reverse=True)]
        return asks, bids

    def checksum(self) -> int:
        asks, bids = self.top()
        return checksum_v2(asks, bids, self.pp, self.qp)

    def crossed(self) -> bool:
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))


class V1Book:
    """A Kraken v1 client book over the wire strings."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}

    def snapshot(self, body: dict[str, Any]) -> None:
        self.bids = {Decimal(p): (p, v) for p, v, _ts in body["bs"]}
        self.asks = {Decimal(p): (p, v) for p, v, _ts in body["as"]}

    def apply(self, side: str, levels: list[list[str]]) -> int:
        """Apply one side's levels in wire order; returns how many were republished."""
        book = self.asks if side == "a" else self.bids
        republished = 0
        for lvl in levels:
            p, v = lvl[0], lvl[1]
            if len(lvl) == 4:
                assert lvl[3] == "r"
                republished += 1
            if Decimal(v) == 0:
                assert Decimal(p) in book, f"removal of unknown level {p}"
                del book[Decimal(p)]
            else:
                book[Decimal(p)] = (p, v)
        keep = sorted(book) if side == "a" else sorted(book, reverse=True)
        for p in keep[self.depth :]:
            del book[p]
        return republished

    def checksum(self) -> int:
        asks = [self.asks[p] for p in sorted(self.asks)]
        bids = [self.bids[p] for p in sorted(self.bids, reverse=True)]
        return checksum_from_text(asks, bids)


def instrument_precisions(snapshot: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {
        p["symbol"]: (p["price_precision"], p["qty_precision"]) for p in snapshot["data"]["pairs"]
    }
