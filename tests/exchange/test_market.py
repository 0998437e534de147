"""The market and the venue sessions without sockets: checksums against the shared Kraken
function on the printed text, determinism, book sanity, and the gap fault over many gaps."""

from __future__ import annotations

import json
from decimal import Decimal

from alphapulse_cli.adapters.kraken_checksum import checksum_from_text
from alphapulse_cli.exchange.faults import NO_FAULTS, Faults
from alphapulse_cli.exchange.instruments import instrument, listing
from alphapulse_cli.exchange.kraken_v2 import KrakenV2Session
from alphapulse_cli.exchange.market import ASK, BID, Market
from alphapulse_cli.exchange.session import Settings
from alphapulse_cli.exchange.stats import ConnStats
from alphapulse_cli.exchange.wire import fixed
from tests.helpers.exchange import V2Book, loads

T0 = 1_767_225_600_000_000_000


def run_market(m: Market, events: int) -> None:
    for i in range(events):
        if i % 50 == 0:
            m.set_time(m.now_ns + 2_000_000)
        m.step()


def v2_session(m: Market, faults: Faults = NO_FAULTS) -> KrakenV2Session:
    st = ConnStats(1, "kraken-v2", "/v2", "", T0)
    return KrakenV2Session(m, st, faults, Settings(seed=1), T0)


def test_checksums_match_the_shared_function_on_printed_text():
    symbols = ["BTC/USD", "ETH/BTC", "DOGE/USD", "MATIC/USD", "ABC/XYZ"]
    m = Market("kraken", listing("kraken", symbols), seed=9, levels=60, now_ns=T0)
    sess = v2_session(m)
    sess.receive(
        json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": symbols}}), T0
    )
    for _ in range(40):
        run_market(m, 100)
        for b in m.books:
            asks = [(b.ptxt(p), b.qtxt(q)) for p, q in b.top(ASK, 10)]
            bids = [(b.ptxt(p), b.qtxt(q)) for p, q in b.top(BID, 10)]
            assert b.checksum_v2() == checksum_from_text(asks, bids)
            asks1 = [(b.p1txt(p), b.qtxt(q)) for p, q in b.top(ASK, 10)]
            bids1 = [(b.p1txt(p), b.qtxt(q)) for p, q in b.top(BID, 10)]
            assert b.checksum_v1() == checksum_from_text(asks1, bids1)
            assert all(len(t.split(".")[1]) >= 5 for t, _ in asks1)
            assert b.bids[-1] < b.asks[0]
            assert b.bids == sorted(b.bids) and b.asks == sorted(b.asks)
            assert all(p % b.tick == 0 and p > 0 for p in b.bids)


def test_same_seed_same_market():
    def frames(seed: int) -> list[bytes]:
        m = Market("kraken", listing("kraken", None), seed=seed, now_ns=T0)
        sess = v2_session(m)
        sess.receive(
            json.dumps(
                {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"]}}
            ),
            T0,
        )
        sess.out.clear()
        run_market(m, 500)
        return sess.out

    assert frames(1) == frames(1)
    assert frames(1) != frames(2)


def test_text_is_exact_and_keeps_trailing_zeros():
    assert fixed(100000, 8) == "0.00100000"
    assert fixed(452852, 1) == "45285.2"
    assert fixed(7, 0) == "7"
    inst = instrument("kraken", "XBT/USD")
    assert (inst.symbol, inst.v1_symbol, inst.price_precision) == ("BTC/USD", "XBT/USD", 1)
    assert instrument("coinbase", "btc-usd").symbol == "BTC-USD"


def test_every_skip_makes_the_next_update_of_its_symbol_fail():
    """Many gaps on a depth-25 book; a client that resubscribes after each checksum failure
    must see exactly one failure per gap, on the first update of that symbol after it."""
    symbols = ["BTC/USD", "ETH/USD"]
    m = Market("kraken", listing("kraken", symbols), seed=21, levels=80, now_ns=T0)
    skips = tuple(range(15, 6000, 15))
    sess = v2_session(m, Faults(skip=skips))

    def subscribe(syms: list[str]) -> None:
        sess.receive(
            json.dumps(
                {"method": "subscribe", "params": {"channel": "book", "symbol": syms, "depth": 25}}
            ),
            m.now_ns,
        )

    subscribe(symbols)
    books: dict[str, V2Book] = {}
    waiting: set[str] = set()
    received: list[tuple[str, int, bool]] = []  # (symbol, the server's update ordinal, ok)
    for i in range(20_000):
        if i % 50 == 0:
            m.set_time(m.now_ns + 2_000_000)
        m.step()  # one event at a time, so a resubscribe is answered before the next one
        out, sess.out = sess.out, []
        for frame in out:
            msg = loads(frame)
            if msg.get("channel") != "book":
                continue
            d = msg["data"][0]
            sym = d["symbol"]
            if msg["type"] == "snapshot":
                books[sym] = V2Book(25, *{"BTC/USD": (1, 8), "ETH/USD": (2, 8)}[sym])
                books[sym].apply(d, True)
                waiting.discard(sym)
                continue
            if sym in waiting:
                continue
            books[sym].apply(d, False)
            ok = books[sym].checksum() == d["checksum"]
            received.append((sym, sess.book_updates, ok))
            if not ok:
                waiting.add(sym)
                sess.receive(
                    json.dumps(
                        {"method": "unsubscribe", "params": {"channel": "book", "symbol": [sym]}}
                    ),
                    m.now_ns,
                )
                subscribe([sym])
    st = sess.stats
    assert len(st.gaps) > 50
    failures = [r for r in received if not r[2]]
    assert len(failures) == len(st.gaps)
    assert st.skipped > len(st.gaps), "no masked follow-up was exercised"
    for gap in st.gaps:
        sym, _, ok = next(r for r in received if r[0] == gap["symbol"] and r[1] > gap["update"])
        assert not ok, gap
    assert all(isinstance(p, Decimal) for b in books.values() for p in b.bids)
