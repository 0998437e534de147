"""The compiled Kraken path against the pure-Python one, v1 and v2: same events, same JSON
lines, same books, counters, trade ids and resubscribes, frame by frame, on realistic
book traffic with checksums (some of them wrong), on every edge the C code hands back to
Python, and on a local-exchange recording; and the kernel handles what it should."""

from __future__ import annotations

import json

import msgspec
import pytest

from alphapulse_cli.adapters.kraken import KrakenAdapter
from alphapulse_cli.adapters.kraken_checksum import checksum_from_text
from alphapulse_cli.bench.suites.realistic import kraken_realistic
from tests.helpers.adapter_data import TS, example

speedups = pytest.importorskip("alphapulse_cli._speedups")
ENCODE = msgspec.json.Encoder().encode_lines
URLS = {"v1": "wss://ws.kraken.com", "v2": "wss://ws.kraken.com/v2"}


class Trio:
    """feed and feed_into of the compiled path, and the pure-Python path."""

    def __init__(self, version: str | None, outbound: list[bytes] = ()) -> None:  # type: ignore[assignment]
        self.fast, self.into = KrakenAdapter(speedups=True), KrakenAdapter(speedups=True)
        self.slow = KrakenAdapter(speedups=False)
        assert self.fast.speedups and not self.slow.speedups
        self.all = (self.fast, self.into, self.slow)
        for ad in self.all:
            if version is not None:
                ad.feed_session({"event": "connect", "url": URLS[version]}, TS)
            for msg in outbound:
                ad.feed_outbound(msg, TS)

    def feed(self, frame: bytes, ts: int = TS, check: bool = True) -> list[dict]:
        want = self.slow.feed(frame, ts)
        assert self.fast.feed(frame, ts) == want, frame[:300]
        out = bytearray()
        events = self.into.feed_into(frame, ts, out)
        if events:
            out += ENCODE(events)
        assert bytes(out) == (ENCODE(want) if want else b""), frame[:300]
        if check:
            self.check_state()
        return want

    def check_state(self) -> None:
        assert state(self.fast) == state(self.slow) == state(self.into)


def state(ad: KrakenAdapter) -> tuple:
    books = {s: (b.top(10**6), b.bids.live, b.asks.live) for s, b in ad.books.items()}
    return (
        books,
        dict(ad.stats),
        dict(ad.trade_ids.next),
        sorted(ad._stale),
        dict(ad._inferred),
        dict(ad._depth_used),
        ad._outbox,
    )


def handled_declined() -> tuple[int, int]:
    c = speedups.counters()["kraken"]
    return c["handled"], c["declined"]


def corrupt(frame: bytes, version: str) -> bytes:
    obj = json.loads(frame)
    if version == "v1":
        obj[-3]["c"] = str((int(obj[-3]["c"]) + 1) % (1 << 32))
        return json.dumps(obj, separators=(",", ":")).encode()
    text = frame.decode()
    head, _, tail = text.partition('"checksum":')
    num, _, rest = tail.partition(",")
    return f'{head}"checksum":{(int(num) + 1) % (1 << 32)},{rest}'.encode()


def snapshot_of(ad: KrakenAdapter, vs: str, version: str, depth: int) -> bytes:
    """A snapshot frame holding `ad`'s current book for `vs` (what a resubscribe brings)."""
    book = ad.books[ad._symbols[vs]]
    bids, asks = book.top(depth)
    if version == "v1":
        lv = lambda side: [[p, q, "1767225600.000000"] for p, q in side]  # noqa: E731
        return json.dumps([336, {"as": lv(asks), "bs": lv(bids)}, f"book-{depth}", vs]).encode()
    lv2 = lambda side: ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in side)  # noqa: E731
    return (
        f'{{"channel":"book","type":"snapshot","data":[{{"symbol":"{vs}","bids":[{lv2(bids)}],'
        f'"asks":[{lv2(asks)}],"checksum":{ad._checksum(book, vs, version)},'
        '"timestamp":"2026-01-01T00:00:00.000000Z"}]}'
    ).encode()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_realistic_traffic_with_mismatches_gives_identical_events_and_state(version):
    depth = 100
    sessions, frames = kraken_realistic(1500, version, products=2, depth=depth, seed=4)
    trio = Trio(version, sessions[1:])
    ref = Trio(version, sessions[1:]).slow  # fed every frame unaltered: the true books
    speedups.reset_counters()
    updates = mismatches = 0
    for i, frame in enumerate(frames):
        ref.feed(frame, TS + i)
        is_update = b'"c":"' in frame or b'"type":"update","data":[{"symbol":"' in frame
        is_update = is_update and b'"trade"' not in frame
        if is_update and i % 300 == 150:
            mismatches += 1
            events = trio.feed(corrupt(frame, version), TS + i)
            assert [e["type"] for e in events][-2:] == ["checksum_mismatch", "resync"]
            vs = events[0]["venue_symbol"]
            trio.feed(frames[i + 1] if i + 1 < len(frames) else frame, TS + i)  # stale: dropped
            trio.feed(snapshot_of(ref, vs, version, depth), TS + i)
            continue
        updates += is_update
        trio.feed(frame, TS + i, check=i % 50 == 0)
    trio.check_state()
    stats = trio.slow.stats
    assert stats["checksum_mismatch"] == mismatches >= 3 and stats["checksum_ok"] > 900
    assert not stats["malformed"] and stats["trades"] > 250
    handled, declined = handled_declined()
    # Both compiled adapters take every book update and trade but the first trade of each
    # product and the frames after a mismatch (the snapshot, a dropped stale update).
    assert handled >= 2 * (updates + stats["trades"] - 2 - mismatches * 3), (handled, declined)
    assert stats["book_updates"] > 900


def v2_update(
    bids: str = "", asks: str = "", checksum: str = "", sym: str = "BTC/USD", **kw
) -> bytes:
    ts = kw.get("ts", '"timestamp":"2026-01-01T00:00:01.000000Z"')
    return (
        f'{{"channel":"book","type":"update","data":[{{"symbol":"{sym}","bids":[{bids}],'
        f'"asks":[{asks}],{checksum}{ts}}}]}}'
    ).encode()


def v2_trade(tid: object, side: str = "buy", price: str = "100.5", **kw) -> bytes:
    ts = kw.get("ts", "2026-01-01T00:00:02.000000Z")
    kind = kw.get("kind", "update")
    return (
        f'{{"channel":"trade","type":"{kind}","data":[{{"symbol":"BTC/USD","side":"{side}",'
        f'"price":{price},"qty":0.5,"ord_type":"limit","trade_id":{tid},"timestamp":"{ts}"}}]}}'
    ).encode()


V2_BIDS = [("100.4", "1.50000000"), ("100.3", "2.00000000")]
V2_ASKS = [("100.5", "0.25000000"), ("100.6", "3.00000000")]
V2_SNAP = (
    '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD",'
    '"bids":[{"price":100.4,"qty":1.50000000},{"price":100.3,"qty":2.00000000}],'
    '"asks":[{"price":100.5,"qty":0.25000000},{"price":100.6,"qty":3.00000000}],'
    f'"checksum":{checksum_from_text(V2_ASKS, V2_BIDS)},'
    '"timestamp":"2026-01-01T00:00:00.000000Z"}]}'
).encode()

V2_EDGES = [
    b'{"channel":"instrument","type":"snapshot","data":{"pairs":[{"symbol":"BTC/USD",'
    b'"price_precision":1,"qty_precision":8}]}}',
    v2_update('{"price":100.4,"qty":1.25000000}'),
    v2_update('{"price":100.45,"qty":1.00000000}'),  # more decimals: precision grows
    v2_update('{"price":100.4,"qty":1.250000001}'),
    v2_update('{"price":100,"qty":1.00000000}'),  # an integer literal
    v2_update('{"price":1.004e2,"qty":1.00000000}'),
    v2_update('{"price":"100.4","qty":"1.00000000"}'),
    v2_update('{"price":100.4,"qty":-1.00000000}'),
    v2_update('{"price":100.4}'),
    v2_update("", '{"price":100.5,"qty":0.00000000}'),
    v2_update("", '{"price":100.5,"qty":0.00000000}'),
    v2_update("", "", checksum='"checksum":0,'),  # a mismatch: stale until the snapshot
    V2_SNAP,
    v2_update('{"price":100.2,"qty":1.00000000}', checksum='"checksum":true,'),
    v2_update('{"price":100.2,"qty":1.00000000}', checksum='"checksum":-1,'),
    v2_update('{"price":100.2,"qty":1.00000000}', checksum='"checksum":4294967296,'),
    v2_update('{"price":100.2,"qty":1.00000000}', ts='"timestamp":"yesterday"'),
    v2_update('{"price":100.2,"qty":1.00000000}', ts='"timestamp":null'),
    v2_update('{"price":100.2,"qty":1.00000000}', sym="ETH/USD"),
    v2_update(",".join(f'{{"price":99.{i % 10},"qty":{i}.5}}' for i in range(70))),
    v2_update('{"price":100.4,"qty":1.00000000}').replace(b"update", b"snapshot_x"),
    v2_update('{"price":100.4,"qty":1.00000000}'),
    # beyond the instrument's precision: a token only Decimal rounding makes
    v2_update('{"price":100.65,"qty":1.00000000}', checksum='"checksum":1,'),
    v2_trade(7),
    v2_trade(8),
    v2_trade(8),
    v2_trade(11),
    v2_trade(12, side="hold"),
    v2_trade(13, price="1e2"),
    v2_trade("null"),
    v2_trade(14, ts="2026-13-01T00:00:00Z"),
    v2_trade(15, kind="snapshot"),
    v2_trade(2**64),
    v2_update('{"price":100.4,"qty":1.00000000}').replace(b"USD", "US\u00c9".encode()),
    b'{"channel":"heartbeat"}',
    b'[336,{"a":[["100.5","1.0","1767225600.0"]],"c":"1"},"book-10","XBT/USD"]',
    b"{",
]

V1_SNAP = example("kraken-v1-book-snapshot.json")  # book-100, XBT/USD


def v1(body: str, channel: str = "book-100", pair: str = "XBT/USD") -> bytes:
    return f'[336,{body},"{channel}","{pair}"]'.encode()


V1_EDGES = [
    v1('{"a":[["5541.30000","2.50700000","1534614248.456738"]]}'),
    v1('{"b":[["5541.20000","1.52900000","1534614248.765567"]]}'),
    v1('{"a":[["5541.30000","0.00000000","1534614248.456738"]]},{"b":[["5541.2","1","1.5"]]}'),
    v1('{"a":[["5541.30000","1.00000000","1534614248.456738","r"]]}'),
    v1('{"a":[["5541.30000","1.00000000","soon"]]}'),
    v1('{"a":[["5541.30000","1.00000000",".5"]]}'),
    v1('{"a":[["5541.30000","1.00000000","1534614248.1234567890"]]}'),
    v1('{"a":[["5541.30000","1.00000000","1534614248."]]}'),
    v1('{"a":[["5541.30000","1e3","1534614248.1"]]}'),
    v1('{"a":[["5541.30000","1.0"]]}'),
    v1('{"a":[["5541.30000","1.0","1.0"]],"c":""}'),
    v1('{"a":[["5541.30000","1.0","1.0"]],"c":"99999999999"}'),
    v1('{"a":[["5541.30000","1.0","1.0"]],"c":5}'),
    v1('{"a":[["5541.30000","1.0","1.0"]]}'),
    v1('{"c":"5"}'),
    v1('{"a":[["5541.30000","1.0","1.0"]],"c":"7"}'),  # a mismatch: stale until the snapshot
    V1_SNAP,
    v1('{"a":null}'),
    v1('{"a":[["5541.30000","1.0","1.0"]]}', channel="book-10"),
    v1('{"a":[["5541.30000","1.0","1.0"]]}', channel="book-x"),
    v1('{"a":[["5541.30000","1.0","1.0"]]}', pair="ETH/USD"),
    v1('{"a":[["abc","1.0","1.0"]]}'),
    v1('[["5541.30000","0.5","1534614248.1","b","l",""]]', channel="trade"),
    v1('[["5541.30000","0.5","1534614248.1","s","m",""],["5541.3","1","2.5","b","l",""]]', "trade"),
    v1('[["5541.30000","0.5","1534614248.1","x","l",""]]', channel="trade"),
    v1('[["5541.30000","0.5","when","b","l",""]]', channel="trade"),
    v1('[["5541.30000","0.5","1534614248.1","b","l",""]]', channel="trade", pair="DOGE/EUR"),
    v1('[["5541.30000","0.5","1534614248.1","b"]]', channel="trade"),
    V2_SNAP,
    b'{"event":"heartbeat"}',
]


@pytest.mark.parametrize(
    ("version", "snap", "edges"), [("v1", V1_SNAP, V1_EDGES), ("v2", V2_SNAP, V2_EDGES)]
)
def test_every_edge_the_c_path_hands_back_gives_identical_events(version, snap, edges):
    trio = Trio(version)
    speedups.reset_counters()
    for frame in [snap, *edges, snap, *edges]:
        trio.feed(frame)
    assert trio.slow.stats["malformed"] > 5
    assert handled_declined()[0] >= 2 * 8  # the plain updates and trades among them
    trio = Trio(None)  # no connect: the protocol is unknown, every frame is Python's
    speedups.reset_counters()
    for frame in [snap, *edges]:
        trio.feed(frame)
    assert handled_declined()[0] == 0


def test_resync_disconnect_and_outbound_reach_the_c_path():
    trio = Trio("v2")
    trio.feed(V2_SNAP)
    trio.feed(v2_update('{"price":100.4,"qty":1.00000000}'))
    for ad in trio.all:
        ad.feed_session({"event": "resync", "symbol": "BTC/USD", "reason": "test"}, TS)
    assert trio.feed(v2_update('{"price":100.4,"qty":2.00000000}')) == []
    trio.feed(V2_SNAP)
    sub = b'{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":1}}'
    for ad in trio.all:
        ad.feed_outbound(sub, TS)
    trio.feed(v2_update('{"price":100.35,"qty":1.00000000}'))
    for ad in trio.all:
        ad.feed_session({"event": "disconnect", "reason": "test"}, TS)
    trio.feed(v2_update('{"price":100.4,"qty":3.00000000}'))


def test_an_error_inside_the_kernel_propagates():
    ad = KrakenAdapter(speedups=True)
    ad.feed_session({"event": "connect", "url": URLS["v2"]}, TS)
    ad.feed(V2_SNAP, TS)
    entry = ad._live["BTC/USD"]
    ad._live["BTC/USD"] = (entry[0], object(), *entry[2:])
    with pytest.raises(AttributeError):
        ad.feed(v2_update('{"price":100.4,"qty":1.00000000}'), TS)
    ad._live["BTC/USD"] = entry[:5]
    with pytest.raises(TypeError):
        ad.feed_into(v2_update('{"price":100.4,"qty":1.00000000}'), TS, bytearray())


def test_a_failed_write_leaves_trade_ids_unmoved():
    ad, ref = KrakenAdapter(speedups=True), KrakenAdapter(speedups=False)
    for a in (ad, ref):
        a.feed_session({"event": "connect", "url": URLS["v2"]}, TS)
        a.feed(v2_trade(41), TS)
    out = bytearray()
    view = memoryview(out)
    with pytest.raises(BufferError):
        ad.feed_into(v2_trade(42), TS, out)
    view.release()
    assert state(ad) == state(ref)
    ad.feed_into(v2_trade(42), TS, out)
    assert bytes(out) == ENCODE(ref.feed(v2_trade(42), TS))
    assert state(ad) == state(ref)


@pytest.mark.slow
def test_a_local_exchange_recording_gives_the_same_event_lines(tmp_path, monkeypatch):
    from alphapulse_cli.core.derive import iter_event_lines
    from alphapulse_cli.wslog.reader import iter_records
    from tests.helpers.record import record_local

    log = record_local(tmp_path / "local.wslog", frames=1200)
    speedups.reset_counters()
    fast = b"".join(iter_event_lines(iter_records(log)))
    assert handled_declined()[0] > 800
    monkeypatch.setenv("ALPHAPULSE_NO_SPEEDUPS", "1")
    slow = b"".join(iter_event_lines(iter_records(log)))
    assert fast == slow and b'"exchange":"kraken"' in fast
