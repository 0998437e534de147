"""Each fault of the local exchange has its documented effect on a real client."""

from __future__ import annotations

import itertools
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed

from alphapulse_cli.errors import UsageError
from alphapulse_cli.exchange import Faults, LocalExchange
from tests.helpers.aio import run
from tests.helpers.exchange import V2Book, client, loads, recv

pytestmark = pytest.mark.slow  # every test runs a WebSocket server


def kraken_book_sub(symbols: list[str], depth: int = 10) -> str:
    return json.dumps(
        {"method": "subscribe", "params": {"channel": "book", "symbol": symbols, "depth": depth}}
    )


PRECISION = {"BTC/USD": (1, 8), "ETH/USD": (2, 8), "SOL/USD": (2, 8)}


async def drain_all(ws) -> list[str | bytes]:
    out = []
    try:
        while True:
            out.append(await ws.recv())
    except ConnectionClosed:
        return out


def test_drop_after_n_frames_delivers_exactly_n_then_no_close_frame():
    async def go():
        async with LocalExchange("kraken", rate=3000, faults=Faults(drop_after=500)) as ex:
            async with client(ex.url) as ws:
                await ws.send(kraken_book_sub(["BTC/USD", "ETH/USD"]))
                frames = await drain_all(ws)
                assert len(frames) == 500
                assert ws.protocol.close_rcvd is None  # the stream just ended
            [st] = await ex.wait_closed(1)
            assert st.dropped and st.frames_sent == 500
            assert st.close_reason == "fault: connection dropped"
            # The next connection is clean (faults apply to the first one by default).
            async with client(ex.url) as ws:
                await ws.send(kraken_book_sub(["BTC/USD"]))
                for _ in range(600):
                    await recv(ws)

    run(go())


def test_drop_at_a_time():
    async def go():
        async with LocalExchange("coinbase", rate=500, faults=Faults(drop_at=0.3)) as ex:
            async with client(ex.url) as ws:
                await ws.send(
                    json.dumps(
                        {
                            "type": "subscribe",
                            "product_ids": ["BTC-USD"],
                            "channels": ["level2_batch", "heartbeat"],
                        }
                    )
                )
                frames = await drain_all(ws)
                assert ws.protocol.close_rcvd is None
            [st] = await ex.wait_closed(1)
            assert st.dropped and st.frames_sent == len(frames) > 2

    run(go())


def test_stall_pauses_then_delivers_everything():
    async def go():
        faults = Faults(stall_after=200, stall_for=1.0)
        async with LocalExchange("kraken", rate=2000, faults=faults) as ex:
            async with client(ex.url) as ws:
                await ws.send(kraken_book_sub(["BTC/USD"]))
                book = V2Book(10, 1, 8)
                times = []
                for _ in range(600):
                    m = await recv(ws)
                    times.append(time.monotonic())
                    if m.get("channel") == "book":
                        book.apply(m["data"][0], m["type"] == "snapshot")
                        assert book.checksum() == m["data"][0]["checksum"]
                gap = times[200] - times[199]
                assert gap >= 0.9, f"no stall after frame 200 (gap {gap:.3f} s)"
                assert max(b - a for a, b in itertools.pairwise(times[201:])) < gap
            [st] = await ex.wait_closed(1)
            assert st.stalls == 1 and st.skipped == 0

    run(go())


def test_coinbase_skip_makes_a_trade_id_gap():
    async def go():
        faults = Faults(skip=(20,))
        async with LocalExchange("coinbase", rate=3000, trade_share=0.5, faults=faults) as ex:
            async with client(ex.url) as ws:
                await ws.send(
                    json.dumps(
                        {
                            "type": "subscribe",
                            "product_ids": ["BTC-USD"],
                            "channels": ["matches", "heartbeat"],
                        }
                    )
                )
                ids = []
                while len(ids) < 60:
                    m = await recv(ws)
                    if m["type"] in ("match", "last_match"):
                        ids.append(m["trade_id"])
                steps = [b - a for a, b in itertools.pairwise(ids)]
                # last_match comes first; the 20th match after it is withheld.
                assert steps[:19] == [1] * 19 and steps[19] == 2 and set(steps[20:]) == {1}
            [st] = await ex.wait_closed(1)
            assert st.skipped == 1 and st.gaps == [{"symbol": "BTC-USD", "trade_id": ids[19] + 1}]

    run(go())


async def kraken_checksum_results(url: str, updates: int) -> list[tuple[str, bool]]:
    """(symbol, checksum ok) for each book update, on books rebuilt by the client."""
    out = []
    async with client(url) as ws:
        await ws.send(kraken_book_sub(["BTC/USD", "ETH/USD"]))
        books: dict[str, V2Book] = {}
        while len(out) < updates:
            m = loads(await ws.recv())
            if m.get("channel") != "book":
                continue
            d = m["data"][0]
            if m["type"] == "snapshot":
                books[d["symbol"]] = V2Book(10, *PRECISION[d["symbol"]])
            book = books[d["symbol"]]
            book.apply(d, m["type"] == "snapshot")
            if m["type"] == "update":
                out.append((d["symbol"], book.checksum() == d["checksum"]))
    return out


def test_kraken_skip_makes_the_next_checksum_of_that_symbol_fail():
    async def go():
        async with LocalExchange("kraken", rate=3000, seed=4, faults=Faults(skip=(100,))) as ex:
            results = await kraken_checksum_results(ex.url, 400)
            [st] = await ex.wait_closed(1)
            [gap] = st.gaps
            assert gap["update"] >= 100 and gap["symbol"] in ("BTC/USD", "ETH/USD")
            # Updates before the withheld one arrive and verify, and so do the other
            # symbol's; the first update of the gap's symbol after it fails.
            held = gap["update"] - 1  # its index had it been sent
            assert all(ok for _, ok in results[:held])
            after = [ok for sym, ok in results[held:] if sym == gap["symbol"]]
            assert after[0] is False
            assert all(ok for sym, ok in results[held:] if sym != gap["symbol"])

    run(go())


def test_kraken_corrupt_checksum_fails_exactly_that_update():
    async def go():
        faults = Faults(corrupt=(50, 120))
        async with LocalExchange("kraken", rate=3000, faults=faults) as ex:
            results = await kraken_checksum_results(ex.url, 300)
            bad = [i + 1 for i, (_, ok) in enumerate(results) if not ok]
            assert bad == [50, 120]
            [st] = await ex.wait_closed(1)
            assert st.corrupted == 2

    run(go())


def test_malformed_frame_after_n_frames():
    async def go():
        async with LocalExchange("kraken", rate=2000, faults=Faults(malformed_after=(5, 40))) as ex:
            async with client(ex.url_v1) as ws:
                await ws.send(
                    json.dumps(
                        {
                            "event": "subscribe",
                            "pair": ["XBT/USD"],
                            "subscription": {"name": "book", "depth": 10},
                        }
                    )
                )
                bad = []
                for i in range(1, 100):
                    text = await ws.recv()
                    try:
                        json.loads(text)
                    except ValueError:
                        bad.append(i)
                assert bad == [6, 41]  # after frames 5 and 40, counting the first bad one
            [st] = await ex.wait_closed(1)
            assert st.malformed == 2

    run(go())


def test_refused_coinbase_subscription():
    async def go():
        async with (
            LocalExchange("coinbase", faults=Faults(refuse=("ETH-USD",))) as ex,
            client(ex.url) as ws,
        ):
            await ws.send(
                json.dumps(
                    {"type": "subscribe", "product_ids": ["ETH-USD"], "channels": ["matches"]}
                )
            )
            assert await recv(ws) == {
                "type": "error",
                "message": "Failed to subscribe",
                "reason": "ETH-USD is not a valid product",
            }

    run(go())


def test_fault_options_are_checked():
    with pytest.raises(UsageError):
        Faults(drop_after=0)
    with pytest.raises(UsageError):
        LocalExchange("coinbase", faults=Faults(corrupt=(3,)))
    with pytest.raises(UsageError):
        LocalExchange("binance")
