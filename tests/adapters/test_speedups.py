"""The compiled Coinbase path against the pure-Python one: same events, same counters, same
books, frame by frame, on realistic traffic, on every edge the C code hands back to Python,
and on mutated frames."""

from __future__ import annotations

import random

import pytest
from adapter_data import EXAMPLES, TS, example
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import mutate

from alphapulse_cli.adapters.coinbase import CoinbaseAdapter
from alphapulse_cli.adapters.times import iso_ns
from alphapulse_cli.bench.suites.parse import coinbase_traffic
from alphapulse_cli.derive import Normalizer

speedups = pytest.importorskip("alphapulse_cli._speedups")

SNAP = (
    b'{"type":"snapshot","product_id":"BTC-USD","bids":[["100.10","1.5"],["100.00","2"]],'
    b'"asks":[["100.20","3"],["100.30","0.25"]]}'
)


def l2(changes: str, time: str = "2026-01-01T00:00:01.250000Z", pid: str = "BTC-USD") -> bytes:
    return (
        f'{{"type":"l2update","product_id":"{pid}","changes":[{changes}],"time":"{time}"}}'
    ).encode()


def match(tid: int, price: str = "100.20", size: str = "0.5", side: str = "sell", **kw) -> bytes:
    time = kw.get("time", "2026-01-01T00:00:02.000001Z")
    return (
        f'{{"type":"match","trade_id":{tid},"side":"{side}","size":"{size}","price":"{price}",'
        f'"product_id":"{kw.get("pid", "BTC-USD")}","time":"{time}"}}'
    ).encode()


def pair() -> tuple[CoinbaseAdapter, CoinbaseAdapter]:
    fast, slow = CoinbaseAdapter(speedups=True), CoinbaseAdapter(speedups=False)
    assert fast.speedups and not slow.speedups
    return fast, slow


def state(ad: CoinbaseAdapter) -> tuple:
    books = {s: (b.top(10**6), b.bids.live, b.asks.live) for s, b in ad.books.items()}
    return books, dict(ad.stats), dict(ad.trade_ids.next), sorted(ad._stale)


def same(frames: list[bytes], fast: CoinbaseAdapter, slow: CoinbaseAdapter) -> None:
    for i, frame in enumerate(frames):
        assert fast.feed(frame, TS + i) == slow.feed(frame, TS + i), frame
    assert state(fast) == state(slow)


def test_realistic_traffic_gives_identical_events_books_and_counters():
    fast, slow = pair()
    frames = coinbase_traffic(20_000, seed=5, levels=300)
    same(frames, fast, slow)
    assert fast.stats["book_updates"] > 10_000 and fast.stats["trades"] > 3_000
    assert fast.stats["malformed"] == 0


def test_documented_examples_and_garbage_give_identical_events():
    fast, slow = pair()
    frames = [p.read_bytes() for p in sorted(EXAMPLES.glob("coinbase-*.json"))]
    frames.insert(0, example("coinbase-exchange-level2-snapshot.json"))
    same([*frames, b"", b"{", b"\xff\xfe", b"[1,2]", b'{"type":"l2update"}'], fast, slow)


EDGES = [
    # times the C parser leaves to iso_ns: lowercase, 9 digits, offsets, impossible dates
    l2('["buy","100.10","1"]', "2026-01-01t00:00:01.250000z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01.250000123Z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01.250000+01:00"),
    l2('["buy","100.10","1"]', "2023-02-29T00:00:00.000000Z"),
    l2('["buy","100.10","1"]', "2024-02-29T23:59:59.999999Z"),
    l2('["buy","100.10","1"]', "2026-01-01T24:00:00.000000Z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01X250000Q"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01.2500_0Z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01.-25000Z"),
    l2('["buy","100.10","1"]', "0000-01-01T00:00:00.000000Z"),
    l2('["buy","100.10","1"]', ""),
    # sizes that are not the plain wire form: float() accepts some of them
    l2('["buy","100.10","1e-3"]'),
    l2('["buy","100.10"," 1"]'),
    l2('["buy","100.10","1_0"]'),
    l2('["buy","100.10",".5"]'),
    l2('["buy","100.10","5."]'),
    l2('["buy","100.10","."]'),
    l2('["buy","100.10",""]'),
    l2('["buy","100.10","-0"]'),
    l2('["buy","100.10","nan"]'),
    l2('["buy","100.10","inf"]'),
    l2('["buy","100.10","' + "9" * 400 + '"]'),
    l2('["buy","100.10","0.' + "0" * 400 + '1"]'),
    l2('["buy","100.10","0.' + "0" * 70 + '"]'),
    l2('["sell","100.20","0.000"]'),
    l2('["sell","100.20","0.000"]'),  # removing a removed level
    l2('["sell","100.20","7"]'),  # and bringing it back
    # prices: new, rescaling, bad; sides; sizes of a multi-change frame
    l2('["buy","99.99","1"]'),
    l2('["buy","99.991","1"]'),
    l2('["buy","abc","1"]'),
    l2('["buy","100.10","1"],["sell","100.20","bad"]'),
    l2('["hold","100.10","1"]'),
    l2(",".join(f'["sell","100.{20 + i % 5}","{i}"]' for i in range(40))),
    l2(",".join(f'["buy","100.{10 - i % 3:02d}","{i}.5"]' for i in range(32))),
    l2(""),
    # products: unknown, never snapshotted
    l2('["buy","100.10","1"]', pid="ETH-USD"),
    l2('["buy","100.10","1"]', pid="nonsense"),
    # trades: in sequence, repeated, a gap, zero price, odd texts, a last_match
    match(500),
    match(501, side="buy"),
    match(501),
    match(505),
    match(506, price="0.00"),
    match(507, size="0"),
    match(508, size="1e2"),
    match(509, price="١٠٠"),
    match(510, time="2026-13-01T00:00:00.000000Z"),
    match(511, pid="ETH-USD"),
    b'{"type":"last_match","trade_id":512,"side":"buy","size":"1","price":"100.2",'
    b'"product_id":"BTC-USD","time":"2026-01-01T00:00:03.000000Z"}',
    match(513),
    # bytes: non-ASCII text, not UTF-8, not JSON
    l2('["buy","100.10","1"]').replace(b"BTC-USD", "BTC-USD\u00e9".encode()),
    l2('["buy","100.10","1"]') + b"\xff",
    b'{"type":"heartbeat","product_id":"BTC-USD","last_trade_id":520,'
    b'"time":"2026-01-01T00:00:04.000000Z"}',
]


def test_every_edge_the_c_path_hands_back_gives_identical_events():
    fast, slow = pair()
    same([SNAP, *EDGES, SNAP, *EDGES], fast, slow)
    assert fast.stats["malformed"] > 10


def test_resync_and_reconnect_reach_the_c_path():
    fast, slow = pair()
    session = [
        {"event": "connect", "url": "wss://ws-feed.exchange.coinbase.com"},
        {"event": "resync", "symbol": "BTC-USD", "reason": "test"},
        {"event": "disconnect", "reason": "test"},
    ]
    for ad in (fast, slow):
        ad.feed_session(session[0], TS)
    same([SNAP, l2('["buy","100.10","9"]')], fast, slow)
    for ad in (fast, slow):
        ad.feed_session(session[1], TS)
    same([l2('["buy","100.10","8"]')], fast, slow)  # stale: dropped by both
    assert fast.stats["book_updates"] == 1
    same([SNAP, l2('["buy","100.10","7"]')], fast, slow)
    for ad in (fast, slow):
        ad.feed_session(session[2], TS)
    same([l2('["buy","100.10","6"]'), match(700), match(701)], fast, slow)


def test_connections_sharing_trade_ids_emit_each_trade_once():
    norm = Normalizer()
    a, b = norm.adapter_for(0x001), norm.adapter_for(0x101)
    assert a is not None and b is not None and a.speedups
    assert a.trade_ids is b.trade_ids
    first = a.feed(match(900), TS) + a.feed(match(901), TS)
    assert [e["trade_id"] for e in first] == ["900", "901"]
    assert b.feed(match(901), TS) == []  # already seen on the other connection
    assert [e["trade_id"] for e in b.feed(match(902), TS)] == ["902"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            SNAP,
            l2('["buy","100.10","1"]'),
            l2('["buy","100.10","1"],["sell","100.20","0"]'),
            match(500),
        ]
    ),
    st.data(),
)
def test_mutated_frames_give_identical_events(frame, data):
    fast, slow = pair()
    for ad in (fast, slow):
        ad.feed(SNAP, TS)
        ad.feed(match(499), TS)
    payload = mutate(frame, data)
    assert fast.feed(payload, TS) == slow.feed(payload, TS)
    assert state(fast) == state(slow)


def test_time27_agrees_with_iso_ns():
    rnd = random.Random(3)
    for _ in range(20_000):
        y = rnd.choice((rnd.randint(1, 9999), rnd.randint(1677, 2262), 1970, 2000, 2100))
        mo, d = rnd.randint(1, 12), rnd.randint(1, 31)
        h, mi, s = rnd.randint(0, 24), rnd.randint(0, 60), rnd.randint(0, 60)
        text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{rnd.randint(0, 999_999):06d}Z"
        # Outside 1678-2261 the nanoseconds overflow 64 bits: left to iso_ns.
        assert speedups.time27(text) == (iso_ns(text) if 1678 <= y <= 2261 else None), text
    for text in ("2026-01-01T00:00:00.000000", "2026-01-01 00:00:00.000000Z", 12, None, ""):
        assert speedups.time27(text) is None
