"""Kraken WebSocket v2 served by the local exchange, checked with a real client."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from websockets.exceptions import ConnectionClosed

from alphapulse_cli.exchange import Faults, LocalExchange
from tests.helpers.aio import run
from tests.helpers.exchange import (
    V2Book,
    client,
    decimals,
    instrument_precisions,
    loads,
    recv,
    recv_until,
)

pytestmark = pytest.mark.slow  # every test runs a WebSocket server

INT64_MAX = 2**63 - 1


def sub(channel: str, symbols: list[str] | None = None, req_id: int | None = None, **params):
    p = {"channel": channel, **params}
    if symbols is not None:
        p["symbol"] = symbols
    msg = {"method": "subscribe", "params": p}
    if req_id is not None:
        msg["req_id"] = req_id
    return json.dumps(msg)


def test_status_acks_errors_and_ping():
    async def go():
        async with LocalExchange("kraken", rate=200, seed=3) as ex, client(ex.url) as ws:
            assert ex.url.endswith("/v2")
            status = await recv(ws)
            assert status["channel"] == "status" and status["type"] == "update"
            info = status["data"][0]
            assert info["api_version"] == "v2" and info["system"] == "online"
            assert INT64_MAX < info["connection_id"] < 2**64

            await ws.send(sub("book", ["BTC/USD", "ETH/USD", "DOGE/XYZ"], req_id=7, depth=25))
            acks, snaps = [], []
            while len(acks) < 3 or len(snaps) < 2:
                m = await recv(ws)
                if m.get("method") == "subscribe":
                    acks.append(m)
                elif m.get("type") == "snapshot":
                    snaps.append(m)
            ok = [a for a in acks if a["success"]]
            assert [a["result"]["symbol"] for a in ok] == ["BTC/USD", "ETH/USD"]
            for a in ok:
                assert a["req_id"] == 7
                assert a["result"] == {
                    "channel": "book",
                    "depth": 25,
                    "snapshot": True,
                    "symbol": a["result"]["symbol"],
                }
                assert a["time_in"] <= a["time_out"]
            bad = [a for a in acks if not a["success"]]
            assert len(bad) == 1 and bad[0]["symbol"] == "DOGE/XYZ" and bad[0]["error"]
            assert all(len(s["data"][0]["bids"]) == 25 for s in snaps)

            await ws.send(sub("book", ["BTC/USD"], depth=7))
            err = await recv_until(ws, lambda m: m.get("method") == "subscribe")
            assert err["success"] is False and "depth" in err["error"].lower()

            await ws.send(json.dumps({"method": "ping", "req_id": 101}))
            pong = await recv_until(ws, lambda m: m.get("method") == "pong")
            assert pong["req_id"] == 101 and pong["time_in"] <= pong["time_out"]
            assert set(pong) == {"method", "req_id", "time_in", "time_out"}

            await ws.send(
                json.dumps(
                    {"method": "unsubscribe", "params": {"channel": "book", "symbol": ["ETH/USD"]}}
                )
            )
            un = await recv_until(ws, lambda m: m.get("method") == "unsubscribe")
            assert un["success"] and un["result"]["symbol"] == "ETH/USD"
            # After the unsubscribe no ETH/USD book message may arrive.
            await ws.send(json.dumps({"method": "ping", "req_id": 102}))
            seen_eth = False
            while True:
                m = await recv(ws)
                if m.get("method") == "pong":
                    break
            for _ in range(50):
                m = await recv(ws)
                seen_eth |= m.get("channel") == "book" and m["data"][0]["symbol"] == "ETH/USD"
            assert not seen_eth

    run(go())


def test_every_book_checksum_verifies_and_trades_are_sequential():
    async def go():
        async with (
            LocalExchange("kraken", rate=4000, seed=11, levels=150) as ex,
            client(ex.url) as ws,
        ):
            await recv(ws)
            await ws.send(sub("instrument", req_id=1))
            await recv_until(ws, lambda m: m.get("method") == "subscribe")
            inst = await recv_until(ws, lambda m: m.get("channel") == "instrument")
            prec = instrument_precisions(inst)
            assert prec["BTC/USD"] == (1, 8)
            await ws.send(sub("book", ["BTC/USD", "ETH/USD"], depth=10))
            await ws.send(sub("book", ["SOL/USD"], depth=100))
            await ws.send(sub("trade", ["BTC/USD", "SOL/USD"], snapshot=True))

            raw_number = re.compile(r'"(price|qty)":([0-9.]+)')
            books: dict[str, V2Book] = {}
            depths = {"BTC/USD": 10, "ETH/USD": 10, "SOL/USD": 100}
            last_trade: dict[str, int] = {}
            checked = both_sides = 0
            trade_snapshots = 0
            while checked < 3000:
                text = await ws.recv()
                m = loads(text)
                if m.get("channel") == "book":
                    d = m["data"][0]
                    sym = d["symbol"]
                    pp, qp = prec[sym]
                    for key, num in raw_number.findall(text):
                        assert decimals(num) == (pp if key == "price" else qp), (sym, key, num)
                    if m["type"] == "snapshot":
                        books[sym] = V2Book(depths[sym], pp, qp)
                    book = books[sym]
                    book.apply(d, m["type"] == "snapshot")
                    assert book.checksum() == d["checksum"], f"message {checked}: {text[:200]}"
                    assert len(book.bids) <= book.depth and len(book.asks) <= book.depth
                    assert not book.crossed()
                    both_sides += bool(d["bids"] and d["asks"])
                    checked += 1
                elif m.get("channel") == "trade":
                    trade_snapshots += m["type"] == "snapshot"
                    if m["type"] == "snapshot":
                        assert len(m["data"]) == 50
                    for t in m["data"]:
                        assert t["side"] in ("buy", "sell") and t["ord_type"] in ("market", "limit")
                        prev = last_trade.get(t["symbol"])
                        assert prev is None or t["trade_id"] == prev + 1
                        last_trade[t["symbol"]] = t["trade_id"]
            assert trade_snapshots == 2
            assert set(last_trade) == {"BTC/USD", "SOL/USD"}
            assert both_sides > 0
            assert all(len(b.bids) == b.depth for b in books.values())

    run(go())


def test_heartbeat_when_idle_and_idle_timeout():
    async def go():
        async with LocalExchange("kraken", rate=0, idle_timeout=1.5) as ex:
            async with client(ex.url) as ws:
                await recv(ws)
                await ws.send(sub("book", ["BTC/USD"]))
                await recv_until(ws, lambda m: m.get("type") == "snapshot")
                hb = await recv(ws, timeout=3)
                assert hb == {"channel": "heartbeat"}
                # The client says nothing more: the server hangs up.
                try:
                    while True:
                        await recv(ws, timeout=5)
                except ConnectionClosed:
                    pass
                assert ws.close_code == 1000
            [st] = await ex.wait_closed(1)
            assert st.close_reason == "idle timeout" and st.by_type["heartbeat"] >= 1

    run(go())


def test_refused_subscription_and_faults_apply_to_first_connection_only():
    async def go():
        faults = Faults(refuse=("ETH/USD",), connections=1)
        async with LocalExchange("kraken", rate=100, faults=faults) as ex:
            for attempt in (1, 2):
                async with client(ex.url) as ws:
                    await recv(ws)
                    await ws.send(sub("trade", ["ETH/USD"]))
                    ack = await recv_until(ws, lambda m: m.get("method") == "subscribe")
                    assert ack["success"] is (attempt == 2)
                    if attempt == 1:
                        assert ack["symbol"] == "ETH/USD" and "not supported" in ack["error"]
            closed = await ex.wait_closed(2)
            assert [c.faults for c in closed] == [True, False]

    run(go())


def test_trade_ids_continue_across_connections():
    async def go():
        async with LocalExchange("kraken", rate=2000, trade_share=0.5) as ex:
            ids: dict[int, list[int]] = defaultdict(list)
            for conn in (1, 2):
                async with client(ex.url) as ws:
                    await recv(ws)
                    await ws.send(sub("trade", ["BTC/USD"]))
                    while len(ids[conn]) < 30:
                        m = await recv(ws)
                        if m.get("channel") == "trade":
                            ids[conn].extend(t["trade_id"] for t in m["data"])
            assert ids[1] == list(range(ids[1][0], ids[1][0] + len(ids[1])))
            assert ids[2][0] > ids[1][-1]

    run(go())
