"""The local exchange's messages have exactly the shapes of the venues' documented examples
(tests/data/exchange, see SOURCES.md): same keys in the same order, same nesting, same value
types (numbers as numbers, strings as strings)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from alphapulse_cli.exchange import LocalExchange
from tests.helpers.aio import run
from tests.helpers.exchange import client, loads

pytestmark = pytest.mark.slow  # every test runs a WebSocket server

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange"


def doc(name: str) -> Any:
    return loads((DATA / f"{name}.json").read_bytes())


def kind(x: Any) -> str:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, (int, Decimal)):
        return "number"
    return type(x).__name__


def conforms(ours: Any, ref: Any, ordered: bool = True, in_list: bool = False) -> bool:
    if isinstance(ref, dict):
        if not isinstance(ours, dict):
            return False
        if (list(ours) != list(ref)) if ordered else (set(ours) != set(ref)):
            return False
        return all(conforms(ours[k], ref[k], ordered) for k in ref)
    if isinstance(ref, list):
        if not isinstance(ours, list):
            return False
        kinds = {kind(r) for r in ref}
        if len(kinds) > 1 or (in_list and kinds - {"list", "dict"}):
            # Positional (Kraken v1 messages, price levels, trades): same length, same type
            # at each place.
            return len(ours) == len(ref) and all(
                conforms(o, r, ordered, True) for o, r in zip(ours, ref, strict=True)
            )
        # A list of like items; an empty documented list says nothing about its items.
        return not ref or all(conforms(o, ref[0], ordered, True) for o in ours)
    return kind(ours) == kind(ref)


async def collect(url: str, requests: list[dict], count: int) -> list[Any]:
    out = []
    async with client(url) as ws:
        for r in requests:
            await ws.send(json.dumps(r))
        while len(out) < count:
            out.append(loads(await ws.recv()))
    return out


def test_kraken_v2_shapes():
    async def go():
        async with LocalExchange("kraken", rate=3000, trade_share=0.4) as ex:
            msgs = await collect(
                ex.url,
                [
                    {"method": "subscribe", "params": {"channel": "instrument"}},
                    {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"]}},
                    {
                        "method": "subscribe",
                        "params": {"channel": "trade", "symbol": ["BTC/USD"], "snapshot": True},
                    },
                    {"method": "ping", "req_id": 101},
                ],
                400,
            )
        for name in (
            "kraken-v2-status",
            "kraken-v2-book-subscribe-ack",
            "kraken-v2-book-snapshot",
            "kraken-v2-book-update",
            "kraken-v2-trade-snapshot",
            "kraken-v2-trade-update",
            "kraken-v2-pong",
        ):
            assert any(conforms(m, doc(name)) for m in msgs), name
        inst = next(m for m in msgs if m.get("channel") == "instrument")
        pair_doc = doc("kraken-v2-instrument-snapshot")["data"]["pairs"][1]  # a non-margin pair
        assert all(conforms(p, pair_doc) for p in inst["data"]["pairs"])
        book_docs = [doc("kraken-v2-book-snapshot"), doc("kraken-v2-book-update")]
        trade_docs = [doc("kraken-v2-trade-snapshot"), doc("kraken-v2-trade-update")]
        for m in msgs:
            if m.get("channel") == "book":
                assert any(conforms(m, d) for d in book_docs), m
            elif m.get("channel") == "trade":
                assert any(conforms(m, d) for d in trade_docs), m

    run(go())


def test_kraken_v2_heartbeat_shape():
    async def go():
        async with LocalExchange("kraken", rate=0) as ex:
            msgs = await collect(
                ex.url,
                [
                    {"method": "subscribe", "params": {"channel": "trade", "symbol": ["ETH/USD"]}},
                ],
                3,
            )
        assert msgs[2] == doc("kraken-v2-heartbeat")

    run(go())


def republished_part(m: Any) -> Any:
    if not isinstance(m, list) or m[-2] == "trade":
        return m
    out = [m[0]]
    for part in m[1:-2]:
        out.append(
            {
                k: [lvl for lvl in v if len(lvl) == 4] if k in ("a", "b") else v
                for k, v in part.items()
            }
        )
    return [*out, *m[-2:]]


def test_kraken_v1_shapes():
    async def go():
        async with LocalExchange("kraken", rate=4000, trade_share=0.3) as ex:
            msgs = await collect(
                ex.url_v1,
                [
                    {
                        "event": "subscribe",
                        "pair": ["XBT/USD"],
                        "subscription": {"name": "book", "depth": 100},
                    },
                    {"event": "subscribe", "pair": ["XBT/USD"], "subscription": {"name": "trade"}},
                    {"event": "ping", "reqid": 42},
                ],
                2500,
            )
        names = (
            "kraken-v1-book-snapshot",
            "kraken-v1-book-update-asks",
            "kraken-v1-book-update-bids",
            "kraken-v1-book-update-asks-and-bids",
            "kraken-v1-book-update-republish",
            "kraken-v1-trade",
            "kraken-v1-pong",
        )
        for name in names:
            if name.endswith("republish"):
                # Kraken's example holds republished levels only; ours come in the message
                # that removed a level, so compare the republished part.
                assert any(conforms(republished_part(m), doc(name)) for m in msgs), name
            else:
                assert any(conforms(m, doc(name)) for m in msgs), name
        arrays = [m for m in msgs if isinstance(m, list)]
        for m in arrays:
            if m[-2] == "trade":
                assert conforms(m, doc("kraken-v1-trade")), m
                continue
            # A republished level is a 4-string array, the others 3; any mix may occur.
            plain = json.loads(json.dumps(m, default=str))
            for part in plain[1:-2]:
                for key in ("a", "b", "as", "bs"):
                    for lvl in part.get(key, []):
                        assert len(lvl) == 3 or (len(lvl) == 4 and lvl[3] == "r"), lvl
                        del lvl[3:]
            assert any(conforms(plain, doc(n)) for n in names[:4]), m

    run(go())


def test_coinbase_shapes():
    async def go():
        async with LocalExchange("coinbase", rate=3000, trade_share=0.3) as ex:
            msgs = await collect(
                ex.url,
                [
                    {
                        "type": "subscribe",
                        "product_ids": ["BTC-USD"],
                        "channels": ["level2_batch", "matches", "heartbeat", "ticker"],
                    },
                ],
                300,
            )
        assert any(conforms(m, doc("coinbase-exchange-subscriptions")) for m in msgs)
        for name in (
            "coinbase-exchange-level2-snapshot",
            "coinbase-exchange-heartbeat",
            "coinbase-exchange-ticker",
        ):
            assert any(conforms(m, doc(name)) for m in msgs), name
        match_doc = doc("coinbase-exchange-match")
        l2_doc = doc("coinbase-exchange-l2update-multiple-changes")
        for m in msgs:
            t = m["type"]
            if t in ("match", "last_match"):
                assert conforms(dict(m, type="match"), match_doc, ordered=False), m
            elif t == "l2update":
                assert conforms(m, l2_doc), m
                assert conforms(m, doc("coinbase-exchange-l2update"), ordered=False)
            elif t == "heartbeat":
                assert conforms(m, doc("coinbase-exchange-heartbeat")), m

    run(go())
