"""Coinbase Advanced Trade served by the local exchange, checked with a real client: the
envelope, one sequence_num counter per connection, the book, trades, and the skip fault."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from alphapulse_cli.exchange import LocalExchange
from tests.helpers.aio import run
from tests.helpers.exchange import client, recv

pytestmark = pytest.mark.slow  # every test runs a WebSocket server

ENVELOPE = ["channel", "client_id", "timestamp", "sequence_num", "events"]


def sub(channel: str, products: list[str] | None = None, kind: str = "subscribe") -> str:
    msg: dict = {"type": kind, "channel": channel}
    if products is not None:
        msg["product_ids"] = products
    return json.dumps(msg)


async def messages(ws, n: int) -> list[dict]:
    return [await recv(ws) for _ in range(n)]


def test_level2_trades_and_heartbeats_share_one_sequence_and_rebuild_the_book():
    async def go():
        async with LocalExchange("coinbase", rate=400, protocol="advanced") as ex:
            assert ex.url.endswith("/advanced-trade")
            async with client(ex.url) as ws:
                await ws.send(sub("level2", ["BTC-USD"]))
                await ws.send(sub("market_trades", ["BTC-USD"]))
                await ws.send(sub("heartbeats"))
                got = await messages(ws, 400)
        seqs = [m["sequence_num"] for m in got]
        assert seqs == list(range(len(got)))  # one counter, across every channel
        assert all(list(m) == ENVELOPE for m in got)
        channels = {m["channel"] for m in got}
        assert {"subscriptions", "l2_data", "market_trades", "heartbeats"} <= channels
        books = [m for m in got if m["channel"] == "l2_data"]
        snap = books[0]["events"][0]
        assert snap["type"] == "snapshot" and snap["product_id"] == "BTC-USD"
        book = {"bid": {}, "offer": {}}
        for msg in books:
            for ev in msg["events"]:
                if ev["type"] == "snapshot":
                    book = {"bid": {}, "offer": {}}
                for u in ev["updates"]:
                    side = book[u["side"]]
                    if Decimal(u["new_quantity"]) == 0:
                        side.pop(Decimal(u["price_level"]), None)
                    else:
                        side[Decimal(u["price_level"])] = Decimal(u["new_quantity"])
        assert max(book["bid"]) < min(book["offer"])
        trades = [m["events"][0] for m in got if m["channel"] == "market_trades"]
        assert trades[0]["type"] == "snapshot" and trades[0]["trades"]
        t = trades[0]["trades"][0]
        assert set(t) == {"trade_id", "product_id", "price", "size", "side", "time"}
        assert isinstance(t["trade_id"], str) and t["side"] in ("BUY", "SELL")

    run(go())


def test_skip_uses_up_a_sequence_number_without_sending_it():
    from alphapulse_cli.exchange.faults import Faults

    async def go():
        faults = Faults(skip=(5, 9))
        ex = LocalExchange("coinbase", rate=400, faults=faults, protocol="advanced")
        async with ex, client(ex.url) as ws:
            await ws.send(sub("level2", ["BTC-USD", "ETH-USD"]))
            await ws.send(sub("market_trades", ["BTC-USD"]))
            got = await messages(ws, 30)
        seqs = [m["sequence_num"] for m in got]
        assert seqs == [s for s in range(32) if s not in (5, 9)]

    run(go())
