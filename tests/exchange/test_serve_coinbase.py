"""Coinbase Exchange served by the local exchange, checked with a real client."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosed

from alphapulse_cli.exchange import LocalExchange
from tests.helpers.aio import run
from tests.helpers.exchange import client, recv, recv_until

pytestmark = pytest.mark.slow  # every test runs a WebSocket server

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
AUTH_ERROR = {
    "type": "error",
    "message": "Failed to subscribe",
    "reason": "level2, level3, and full channels now require authentication. "
    "https://docs.cloud.coinbase.com/exchange/docs/websocket-auth",
}


def subscribe(products: list[str], channels: list, **extra) -> str:
    return json.dumps({"type": "subscribe", "product_ids": products, "channels": channels, **extra})


class L2Book:
    def __init__(self, snap: dict) -> None:
        self.bids = {Decimal(p): Decimal(s) for p, s in snap["bids"]}
        self.asks = {Decimal(p): Decimal(s) for p, s in snap["asks"]}

    def apply(self, changes: list) -> None:
        for side, price, size in changes:
            book = self.bids if side == "buy" else self.asks
            if Decimal(size) == 0:
                assert Decimal(price) in book, f"removal of unknown level {price}"
                del book[Decimal(price)]
            else:
                book[Decimal(price)] = Decimal(size)
        assert max(self.bids) < min(self.asks), "crossed book"


def test_disconnects_a_client_that_does_not_subscribe_in_time():
    async def go():
        async with LocalExchange("coinbase", subscribe_timeout=0.3) as ex, client(ex.url) as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1008
            [st] = await ex.wait_closed(1)
            assert st.frames_sent == 0 and st.frames_received == 0

    run(go())


def test_subscribe_errors_snapshot_matches_heartbeats_and_batches():
    async def go():
        async with (
            LocalExchange("coinbase", rate=3000, seed=2, levels=300) as ex,
            client(ex.url) as ws,
        ):
            await ws.send(
                subscribe(
                    ["BTC-USD", "ETH-USD", "NOPE-USD"],
                    [
                        "level2_batch",
                        "heartbeat",
                        {"name": "matches", "product_ids": ["BTC-USD"]},
                        "level2",
                    ],
                )
            )
            first = [await recv(ws) for _ in range(3)]
            assert {
                "type": "error",
                "message": "Failed to subscribe",
                "reason": "NOPE-USD is not a valid product",
            } in first
            assert AUTH_ERROR in first
            subs = next(m for m in first if m["type"] == "subscriptions")
            assert subs["channels"] == [
                {"name": "level2_batch", "product_ids": ["BTC-USD", "ETH-USD"]},
                {"name": "heartbeat", "product_ids": ["BTC-USD", "ETH-USD"]},
                {"name": "matches", "product_ids": ["BTC-USD"]},
            ]
            books: dict[str, L2Book] = {}
            last_id = None
            heartbeats: dict[str, list[dict]] = {"BTC-USD": [], "ETH-USD": []}
            matches = multi_change = 0
            first_match_type = None
            while matches < 150 or len(heartbeats["ETH-USD"]) < 2:
                m = await recv(ws)
                t = m["type"]
                if t == "snapshot":
                    assert len(m["bids"]) >= 250 and len(m["asks"]) >= 250
                    assert all(re.fullmatch(r"\d+\.\d{2}", p) for p, _ in m["bids"])
                    books[m["product_id"]] = L2Book(m)
                elif t == "l2update":
                    assert TIME.match(m["time"])
                    books[m["product_id"]].apply(m["changes"])
                    multi_change += len(m["changes"]) > 1
                elif t in ("last_match", "match"):
                    assert m["product_id"] == "BTC-USD" and m["side"] in ("buy", "sell")
                    if first_match_type is None:
                        first_match_type = t
                    if last_id is not None:
                        assert m["trade_id"] == last_id + 1
                    last_id = m["trade_id"]
                    matches += 1
                elif t == "heartbeat":
                    assert set(m) == {"type", "sequence", "last_trade_id", "product_id", "time"}
                    heartbeats[m["product_id"]].append(m)
                    if m["product_id"] == "BTC-USD":
                        assert m["last_trade_id"] == last_id
            assert first_match_type == "last_match"
            assert set(books) == {"BTC-USD", "ETH-USD"}
            assert multi_change > 0  # level2_batch merges a product's changes
            seqs = [h["sequence"] for h in heartbeats["ETH-USD"]]
            assert seqs == sorted(seqs)

            await ws.send(json.dumps({"type": "unsubscribe", "channels": ["heartbeat"]}))
            reply = await recv_until(ws, lambda m: m["type"] == "subscriptions")
            assert [c["name"] for c in reply["channels"]] == ["level2_batch", "matches"]

    run(go())


def test_level2_with_auth_fields_sends_one_update_per_event():
    async def go():
        async with (
            LocalExchange("coinbase", rate=2000, symbols=["ETH-USD"]) as ex,
            client(ex.url) as ws,
        ):
            await ws.send(
                subscribe(
                    ["ETH-USD"],
                    ["level2", "ticker"],
                    key="k",
                    signature="s",
                    passphrase="p",
                    timestamp="1700000000",
                )
            )
            subs = await recv(ws)
            assert subs["channels"] == [
                {"name": "level2", "product_ids": ["ETH-USD"]},
                {"name": "ticker", "product_ids": ["ETH-USD"]},
            ]
            book = L2Book(await recv_until(ws, lambda m: m["type"] == "snapshot"))
            updates = tickers = 0
            while updates < 300 or tickers < 5:
                m = await recv(ws)
                if m["type"] == "l2update":
                    book.apply(m["changes"])
                    updates += 1
                elif m["type"] == "ticker":
                    assert Decimal(m["best_bid"]) < Decimal(m["best_ask"])
                    tickers += 1
            assert tickers >= 5

    run(go())
