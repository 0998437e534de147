"""Property tests: no input makes an adapter raise, every output is a well-formed event,
and a frame reported as malformed leaves every book as it was."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphapulse_cli.adapters import make_adapter
from tests.helpers.adapter_data import EXAMPLES, TS, example, types
from tests.helpers.fuzz import mutate

EVENT_TYPES = {
    "trade",
    "book_snapshot",
    "book_update",
    "gap",
    "checksum_mismatch",
    "resync",
    "connect",
    "disconnect",
    "malformed",
}
COMMON = ("type", "exchange", "symbol", "venue_symbol", "ts_exchange", "ts_local")


def corpus() -> list[bytes]:
    frames = [p.read_bytes() for p in sorted(EXAMPLES.glob("*.json"))]
    text = example("kraken-v2-checksum-example.md").decode()
    frames.append(text.splitlines()[0].encode())
    frames += [
        b'{"type":"l2update","product_id":"BTC-USD","changes":[["buy","10101.10","0.5"],["sell","10102.55","0"]],"time":"2019-08-14T20:42:27.265123Z"}',
        b'[1234,{"a":[["5541.30000","2.50700000","1534614248.456738"]]},{"b":[["5541.20000","0.00000000","1534614335.345903"]],"c":"974942666"},"book-10","XBT/USD"]',
    ]
    # Compact forms too: most live frames have no whitespace.
    frames += [
        json.dumps(json.loads(f), separators=(",", ":")).encode() for f in frames if f[:1] in b"{["
    ]
    return frames


CORPUS = corpus()
SEED = [
    example("coinbase-exchange-level2-snapshot.json"),
    example("coinbase-exchange-match.json"),
    example("kraken-v2-book-snapshot.json"),
    example("kraken-v1-book-snapshot.json"),
]


def seeded(venue: str):
    ad = make_adapter(venue)
    for frame in SEED:
        ad.feed(frame, TS)
    return ad


ADAPTERS = {v: seeded(v) for v in ("coinbase", "kraken")}


def books_of(ad) -> dict:
    return {sym: book.top(50) for sym, book in ad.books.items() if ad.book_valid(sym)}


def check(events: object) -> None:
    assert isinstance(events, list)
    for ev in events:
        assert isinstance(ev, dict)
        assert tuple(ev)[:6] == COMMON
        assert ev["type"] in EVENT_TYPES
        assert ev["ts_local"] == TS
        if ev["type"] == "malformed":
            # Every rejection is one the adapter anticipated, not a crash it swallowed.
            assert not ev["reason"].startswith("unexpected"), ev["reason"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(payload):
    for ad in ADAPTERS.values():
        check(ad.feed(payload, TS))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CORPUS), st.sampled_from(["coinbase", "kraken"]), st.data())
def test_mutated_real_frames_never_raise_and_malformed_changes_no_book(frame, venue, data):
    ad = ADAPTERS[venue]
    payload = mutate(frame, data)
    before = books_of(ad)
    events = ad.feed(payload, TS)
    check(events)
    if "malformed" in types(events):
        assert len(events) == 1
        assert books_of(ad) == before


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["event", "url", "reason", "symbol"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=30),
            st.sampled_from(["connect", "disconnect", "resync", "end"]),
        ),
    ),
    st.binary(max_size=200),
)
def test_session_and_outbound_input_never_raise(obj, outbound):
    for venue in ("coinbase", "kraken"):
        ad = make_adapter(venue)
        check(ad.feed_session(obj, TS))
        ad.feed_outbound(outbound, TS)
        ad.feed_outbound(example("kraken-v2-book-subscribe.json")[: len(outbound)], TS)
        ad.feed_outbound(b'{"method":"subscribe","params":{"channel":"\xff' + outbound + b'"}}', TS)
        ad.feed_outbound(
            b'{"event":"subscribe","subscription":{"name":"book","depth":' + outbound + b"}}", TS
        )


def test_garbage_between_real_frames_does_not_disturb_checksums():
    ad = make_adapter("kraken")
    garbage = [
        b"",
        b"\x00\xff",
        b"{",
        b"[]",
        b'{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":"oops","qty":1}],"asks":[]}]}',
    ]
    ad.feed(example("kraken-v2-book-snapshot.json"), TS)
    for g in garbage:
        assert types(ad.feed(g, TS)) == ["malformed"]
    ad.feed(example("kraken-v2-book-update.json"), TS)
    assert ad.stats["checksum_ok"] == 2 and ad.stats["checksum_mismatch"] == 0
    assert ad.stats["malformed"] == len(garbage)
