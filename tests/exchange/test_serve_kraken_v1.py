"""Kraken WebSocket v1 served by the local exchange (path /), checked with a real client."""

from __future__ import annotations

import json
import re

import pytest

from alphapulse_cli.exchange import LocalExchange
from tests.helpers.aio import run
from tests.helpers.exchange import V1Book, client, recv, recv_until

pytestmark = pytest.mark.slow  # every test runs a WebSocket server

INT64_MAX = 2**63 - 1
EPOCH = re.compile(r"^\d{10}\.\d{6}$")


def subscribe(pairs: list[str], name: str, depth: int | None = None, reqid: int | None = None):
    spec: dict = {"name": name}
    if depth is not None:
        spec["depth"] = depth
    msg: dict = {"event": "subscribe", "pair": pairs, "subscription": spec}
    if reqid is not None:
        msg["reqid"] = reqid
    return json.dumps(msg)


def test_system_status_subscription_status_and_ping():
    async def go():
        async with LocalExchange("kraken", rate=300) as ex, client(ex.url_v1) as ws:
            status = await recv(ws)
            assert status["event"] == "systemStatus" and status["status"] == "online"
            assert INT64_MAX < status["connectionID"] < 2**64

            await ws.send(subscribe(["XBT/USD", "ETH/USD", "BTC/XYZ"], "book", 25, reqid=5))
            statuses = []
            while len(statuses) < 3:
                m = await recv(ws)
                if isinstance(m, dict) and m.get("event") == "subscriptionStatus":
                    statuses.append(m)
            good = [s for s in statuses if s["status"] == "subscribed"]
            assert [s["pair"] for s in good] == ["XBT/USD", "ETH/USD"]
            for s in good:
                assert s["channelName"] == "book-25" and s["reqid"] == 5
                assert s["subscription"] == {"depth": 25, "name": "book"}
                assert isinstance(s["channelID"], int)
            assert good[0]["channelID"] != good[1]["channelID"]
            [bad] = [s for s in statuses if s["status"] == "error"]
            assert bad["pair"] == "BTC/XYZ" and bad["errorMessage"]

            # v1 spells bitcoin XBT; the v2 name is not a v1 pair.
            await ws.send(subscribe(["BTC/USD"], "trade"))
            err = await recv_until(ws, lambda m: isinstance(m, dict) and m.get("status") == "error")
            assert err["pair"] == "BTC/USD"

            await ws.send(json.dumps({"event": "ping", "reqid": 42}))
            pong = await recv_until(ws, lambda m: isinstance(m, dict) and m.get("event") == "pong")
            assert pong == {"event": "pong", "reqid": 42}

    run(go())


def test_every_book_checksum_verifies_with_both_forms_and_republish():
    async def go():
        async with (
            LocalExchange("kraken", rate=5000, seed=5, levels=120) as ex,
            client(ex.url_v1) as ws,
        ):
            await recv(ws)
            await ws.send(subscribe(["XBT/USD", "ETH/USD"], "book", 10))
            await ws.send(subscribe(["SOL/USD"], "book", 25))
            await ws.send(subscribe(["XBT/USD"], "trade"))
            names: dict[int, tuple[str, str]] = {}
            books: dict[str, V1Book] = {}
            checked = five = republished = trades = 0
            while checked < 3000 or five == 0 or republished == 0:
                m = await recv(ws)
                if isinstance(m, dict):
                    if m.get("event") == "subscriptionStatus":
                        names[m["channelID"]] = (m["channelName"], m["pair"])
                    continue
                channel_name, pair = m[-2], m[-1]
                assert names[m[0]] == (channel_name, pair)
                if channel_name == "trade":
                    for price, vol, ts, side, kind, misc in m[1]:
                        assert side in ("b", "s") and kind in ("m", "l") and misc == ""
                        assert EPOCH.match(ts) and "." in price and "." in vol
                    trades += 1
                    continue
                depth = int(channel_name.split("-")[1])
                body = m[1]
                if "as" in body:
                    assert len(m) == 4 and "c" not in body
                    assert len(body["as"]) == depth and len(body["bs"]) == depth
                    for p, v, ts in body["as"] + body["bs"]:
                        assert isinstance(p, str) and isinstance(v, str) and EPOCH.match(ts)
                    books[pair] = V1Book(depth)
                    books[pair].snapshot(body)
                    continue
                sides = m[1:-2]
                assert len(m) in (4, 5) and len(sides) == len(m) - 3
                five += len(m) == 5
                if len(m) == 5:
                    assert list(sides[0]) == ["a"] and set(sides[1]) == {"b", "c"}
                for i, part in enumerate(sides):
                    assert ("c" in part) is (i == len(sides) - 1)
                    for key in ("a", "b"):
                        if key in part:
                            republished += books[pair].apply(key, part[key])
                assert books[pair].checksum() == int(sides[-1]["c"]), f"update {checked}: {m}"
                checked += 1
            assert trades > 0

    run(go(), timeout=40)
