"""The compiled Coinbase path against the pure-Python one: same events, same counters, same
books, frame by frame, on realistic traffic, on every edge the C code hands back to Python,
and on mutated frames."""

from __future__ import annotations

import random

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphapulse_cli.adapters.coinbase import CoinbaseAdapter
from alphapulse_cli.bench.suites.parse import coinbase_traffic
from alphapulse_cli.core.derive import Normalizer, iter_event_lines
from alphapulse_cli.core.times import rfc3339_to_ns
from tests.helpers.adapter_data import EXAMPLES, TS, example
from tests.helpers.fuzz import mutate

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


ENCODE = msgspec.json.Encoder().encode_lines


class Trio:
    """The compiled path through feed and through feed_into, and the pure-Python path."""

    def __init__(self) -> None:
        self.fast, self.into = CoinbaseAdapter(speedups=True), CoinbaseAdapter(speedups=True)
        self.slow = CoinbaseAdapter(speedups=False)
        assert self.fast.speedups and not self.slow.speedups
        self.all = (self.fast, self.into, self.slow)

    def feed(self, frame: bytes, ts: int = TS) -> list[dict]:
        """Feed all three; the events must agree, and feed_into's JSON lines must be what
        msgspec makes of them."""
        want = self.slow.feed(frame, ts)
        assert self.fast.feed(frame, ts) == want, frame
        out = bytearray()
        events = self.into.feed_into(frame, ts, out)
        if events:
            out += ENCODE(events)
        assert bytes(out) == (ENCODE(want) if want else b""), frame
        return want

    def session(self, obj: dict) -> None:
        for ad in self.all:
            ad.feed_session(obj, TS)

    def check_state(self) -> None:
        assert state(self.fast) == state(self.slow) == state(self.into)


def state(ad: CoinbaseAdapter) -> tuple:
    books = {s: (b.top(10**6), b.bids.live, b.asks.live) for s, b in ad.books.items()}
    return books, dict(ad.stats), dict(ad.trade_ids.next), sorted(ad._stale)


def same(frames: list[bytes], trio: Trio) -> None:
    for i, frame in enumerate(frames):
        trio.feed(frame, TS + i)
    trio.check_state()


def test_realistic_traffic_gives_identical_events_books_and_counters():
    trio = Trio()
    frames = coinbase_traffic(20_000, seed=5, levels=300)
    same(frames, trio)
    stats = trio.fast.stats
    assert stats["book_updates"] > 10_000 and stats["trades"] > 3_000 and not stats["malformed"]


def test_documented_examples_and_garbage_give_identical_events():
    trio = Trio()
    frames = [p.read_bytes() for p in sorted(EXAMPLES.glob("coinbase-*.json"))]
    frames.insert(0, example("coinbase-exchange-level2-snapshot.json"))
    same([*frames, b"", b"{", b"\xff\xfe", b"[1,2]", b'{"type":"l2update"}'], trio)


EDGES = [
    # times: lowercase, 3 to 10 digits, none, offsets, impossible dates
    l2('["buy","100.10","1"]', "2026-01-01t00:00:01.250000z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01.250000123Z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01.2500001234Z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01.265Z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01Z"),
    l2('["buy","100.10","1"]', "2026-01-01T00:00:01.Z"),
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
    trio = Trio()
    same([SNAP, *EDGES, SNAP, *EDGES], trio)
    assert trio.fast.stats["malformed"] > 10


def test_resync_and_reconnect_reach_the_c_path():
    trio = Trio()
    trio.session({"event": "connect", "url": "wss://ws-feed.exchange.coinbase.com"})
    same([SNAP, l2('["buy","100.10","9"]')], trio)
    trio.session({"event": "resync", "symbol": "BTC-USD", "reason": "test"})
    assert trio.feed(l2('["buy","100.10","8"]')) == []  # stale: dropped by all
    assert trio.fast.stats["book_updates"] == 1
    same([SNAP, l2('["buy","100.10","7"]')], trio)
    trio.session({"event": "disconnect", "reason": "test"})
    same([l2('["buy","100.10","6"]'), match(700), match(701)], trio)


def test_local_times_beyond_64_bits_take_the_dict_path():
    trio = Trio()
    same([SNAP], trio)
    for ts in (2**64 - 1, 2**63, -(2**63) - 1, 0):
        trio.feed(l2('["buy","100.10","3"]'), ts)
        trio.feed(match(800 + ts % 7 if ts else 900), ts)
    trio.check_state()


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
    trio = Trio()
    trio.feed(SNAP)
    trio.feed(match(499))
    trio.feed(mutate(frame, data))
    trio.check_state()


def test_rfc3339_ns_agrees_with_rfc3339_to_ns():
    rnd = random.Random(3)
    for _ in range(30_000):
        y = rnd.choice((rnd.randint(1, 9999), rnd.randint(1677, 2262), 1970, 2000, 2100))
        mo, d = rnd.randint(1, 12), rnd.randint(1, 31)
        h, mi, s = rnd.randint(0, 24), rnd.randint(0, 60), rnd.randint(0, 60)
        digits = rnd.choice((0, 1, 3, 6, 6, 6, 9, 10))
        frac = "." + "".join(rnd.choice("0123456789") for _ in range(digits)) if digits else ""
        text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}Z"
        # Outside 1678-2261 the nanoseconds overflow 64 bits, and more than 9 digits is
        # rare: both are left to rfc3339_to_ns.
        handled = 1678 <= y <= 2261 and digits < 10
        assert speedups.rfc3339_ns(text) == (rfc3339_to_ns(text) if handled else None), text
    for text in ("2026-01-01T00:00:00.000000", "2026-01-01 00:00:00.000000Z", 12, None, ""):
        assert speedups.rfc3339_ns(text) is None
    for text in ("2026-01-01T00:00:00.Z", "2026-01-01T00:00:00,5Z", "2026-01-01T00:00:00.5z"):
        assert speedups.rfc3339_ns(text) is None


def test_event_lines_are_the_same_with_and_without_speedups(monkeypatch):
    connect = b'{"event":"connect","url":"wss://ws-feed.exchange.coinbase.com"}'
    frames = coinbase_traffic(3000, seed=9, levels=200) + EDGES
    recs = [(TS, 0x2001, connect)] + [(TS + i, 0x0001, f) for i, f in enumerate(frames)]
    fast = b"".join(iter_event_lines(recs))
    per_message = list(iter_event_lines(recs, batch=1))
    monkeypatch.setenv("ALPHAPULSE_NO_SPEEDUPS", "1")
    slow = b"".join(iter_event_lines(recs))
    assert fast == slow and fast.count(b"\n") > 3000
    assert b"".join(per_message) == slow
    assert len(per_message) > 3000  # a block per message that had events


def handled_declined(kernel: str = "coinbase") -> tuple[int, int]:
    c = speedups.counters()[kernel]
    return c["handled"], c["declined"]


def test_the_compiled_path_handles_the_bulk_and_declines_only_what_it_must():
    trio = Trio()
    frames = coinbase_traffic(4000, seed=8, levels=200)
    speedups.reset_counters()
    same(frames, trio)
    handled, declined = handled_declined()
    # Two compiled adapters see every frame; all but the snapshot and the first sight of a
    # price or product are theirs.
    assert handled + declined == 2 * len(frames)
    assert handled > 1.6 * len(frames), (handled, declined)
    speedups.reset_counters()
    same([SNAP, l2('["buy","100.10","1e-3"]'), match(4_000_000)], trio)
    assert handled_declined() == (0, 6)


def test_an_error_inside_the_kernel_propagates_instead_of_switching_it_off():
    ad = CoinbaseAdapter(speedups=True)
    ad.feed(SNAP, TS)
    ad._live["BTC-USD"] = ("BTC-USD", object())  # type: ignore[assignment]  # no _cache
    with pytest.raises(AttributeError):
        ad.feed(l2('["buy","100.10","1"]'), TS)
    with pytest.raises(AttributeError):
        ad.feed_into(l2('["buy","100.10","1"]'), TS, bytearray())


def test_a_failed_write_leaves_trade_ids_and_the_book_unmoved():
    ad, ref = CoinbaseAdapter(speedups=True), CoinbaseAdapter(speedups=False)
    for a in (ad, ref):
        a.feed(SNAP, TS)
        a.feed(match(41), TS)
    for frame in (match(42), l2('["sell","100.20","9"]')):
        out = bytearray()
        view = memoryview(out)  # an exported buffer cannot be resized: the write fails
        with pytest.raises(BufferError):
            ad.feed_into(frame, TS, out)
        view.release()
        assert state(ad) == state(ref)
        ad.feed_into(frame, TS, out)
        assert bytes(out) == ENCODE(ref.feed(frame, TS))
        assert state(ad) == state(ref)


def test_no_speedups_switches_off_every_kernel(monkeypatch, tmp_path):
    from alphapulse_cli import speedups as sp
    from alphapulse_cli.wslog.reader import iter_records
    from tests.helpers.wslog_spec import spec_log

    path = tmp_path / "a.wslog"
    path.write_bytes(spec_log([(TS + i, 1, 0, f) for i, f in enumerate([SNAP, match(1)])]))
    monkeypatch.setenv(sp.ENV, "1")
    speedups.reset_counters()
    ad = CoinbaseAdapter()
    assert not ad.speedups and sp.kernel("split_records") is None
    for _ts, _tag, frame in iter_records(path):
        ad.feed(frame, TS)
    assert sp.counters()["enabled"] is False
    assert all(c == {"handled": 0, "declined": 0} for c in speedups.counters().values())
    monkeypatch.delenv(sp.ENV)
    assert CoinbaseAdapter().speedups and sp.kernel("split_records") is not None


def test_advanced_trade_frames_skip_the_compiled_path():
    ad = CoinbaseAdapter(speedups=True)
    ad.feed_session({"event": "connect", "url": "wss://advanced-trade-ws.coinbase.com"}, TS)
    speedups.reset_counters()
    frame = (EXAMPLES / "coinbase-advanced-l2_data-snapshot.json").read_bytes()
    assert [e["type"] for e in ad.feed(frame, TS)] == ["book_snapshot"]
    assert handled_declined() == (0, 0) and not ad.writes_lines
    ad.feed_session({"event": "connect", "url": "wss://ws-feed.exchange.coinbase.com"}, TS)
    ad.feed(SNAP, TS)
    ad.feed(l2('["buy","100.10","1"]'), TS)
    assert handled_declined() == (1, 1) and ad.writes_lines
