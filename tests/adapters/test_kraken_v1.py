"""Kraken WebSocket v1: the documented checksum 974947235, every book array shape
(4 and 5 elements, asks/bids/both, republish), trades, and the event objects."""

from __future__ import annotations

import json
import zlib

import pytest

from alphapulse_cli.adapters import make_adapter
from tests.helpers.adapter_data import TS, compact, example, types

V1 = {"event": "connect", "url": "wss://ws.kraken.com"}


def checksum_example() -> tuple[dict, bytes, str]:
    """(the guide's book state, its sample update frame, the published input string)."""
    text = example("kraken-v1-checksum-example.md").decode()
    book = json.loads(text[: text.index("}\n") + 1])
    fence = text.index("```json") + len("```json")
    update = text[fence : text.index("```", fence)].strip().encode()
    raw = text[text.index("```\n") + 4 :]
    published = "".join(raw[: raw.index("```")].split())
    return book, update, published


def crc_input(asks: list[list[str]], bids: list[list[str]]) -> str:
    """Independent v1 checksum input: top 10 asks low->high then bids high->low, each
    price and volume as sent with '.' removed and leading zeros stripped."""

    def tok(s: str) -> str:
        return s.replace(".", "").lstrip("0")

    asks = sorted(asks, key=lambda lv: float(lv[0]))[:10]
    bids = sorted(bids, key=lambda lv: -float(lv[0]))[:10]
    return "".join(tok(p) + tok(q) for p, q, *_ in asks + bids)


def crc(asks: list[list[str]], bids: list[list[str]]) -> int:
    return zlib.crc32(crc_input(asks, bids).encode()) & 0xFFFFFFFF


def with_checksum(frame: bytes, value: int) -> bytes:
    msg = json.loads(frame)
    for part in msg[1:-2]:
        part.pop("c", None)
    msg[-3]["c"] = str(value)
    return compact(msg)


SNAPSHOT = example("kraken-v1-book-snapshot.json")  # book-100, XBT/USD
SNAP_ASKS = [
    ["5541.30000", "2.50700000"],
    ["5541.80000", "0.33000000"],
    ["5542.70000", "0.64700000"],
]
SNAP_BIDS = [
    ["5541.20000", "1.52900000"],
    ["5539.90000", "0.30000000"],
    ["5539.50000", "5.00000000"],
]


@pytest.fixture
def kr():
    k = make_adapter("kraken")
    k.feed_session(V1, TS)
    return k


def test_connect_url_selects_v1(kr):
    assert kr.protocol == "v1"


def test_documented_checksum_974947235(kr):
    book, update, published = checksum_example()
    assert crc_input(book["as"], book["bs"]) == published
    assert crc(book["as"], book["bs"]) == 974947235
    snap = compact([0, book, "book-1000", "BTC/USD"])
    (ev,) = kr.feed(snap, TS)
    assert ev["type"] == "book_snapshot" and ev["symbol"] == "BTC-USD"
    assert ev["ts_exchange"] == 1582905488785484000  # the newest level time
    # The sample update (two objects, "c" in the last) lands outside the top 10: same CRC.
    (upd,) = kr.feed(update, TS)
    assert upd["asks"] == [["0.05120", "0.00000500"], ["0.05275", "0.00000500"]]
    assert upd["bids"] == [["0.04765", "0.00000500"], ["0.04940", "0.00000500"]]
    assert kr.stats["checksum_ok"] == 1 and kr.stats["checksum_mismatch"] == 0


def test_snapshot_example_builds_the_book(kr):
    (ev,) = kr.feed(SNAPSHOT, TS)
    assert ev["symbol"] == "BTC-USD" and ev["venue_symbol"] == "XBT/USD"
    assert ev["asks"] == SNAP_ASKS and ev["bids"] == SNAP_BIDS
    bids, asks = kr.books["BTC-USD"].top(10)
    assert asks == SNAP_ASKS and bids == SNAP_BIDS
    assert kr.stats["checksum_ok"] == 0  # v1 snapshots carry no checksum


def test_asks_update_four_elements(kr):
    kr.feed(SNAPSHOT, TS)
    frame = example("kraken-v1-book-update-asks.json")
    asks = [
        ["5541.30000", "2.50700000"],
        ["5541.80000", "0.33000000"],
        ["5542.50000", "0.40100000"],
        ["5542.70000", "0.64700000"],
    ]
    (ev,) = kr.feed(with_checksum(frame, crc(asks, SNAP_BIDS)), TS)
    assert ev["type"] == "book_update"
    assert (
        ev["asks"] == [["5541.30000", "2.50700000"], ["5542.50000", "0.40100000"]]
        and ev["bids"] == []
    )
    assert kr.books["BTC-USD"].top(10)[1] == asks
    assert kr.stats["checksum_ok"] == 1


def test_bids_update_removes_with_zero_volume(kr):
    kr.feed(SNAPSHOT, TS)
    # The doc's bid update deletes 5541.30000, which this book does not hold: a no-op.
    frame = example("kraken-v1-book-update-bids.json")
    (ev,) = kr.feed(with_checksum(frame, crc(SNAP_ASKS, SNAP_BIDS)), TS)
    assert ev["bids"] == [["5541.30000", "0.00000000"]]
    assert kr.books["BTC-USD"].top(10)[0] == SNAP_BIDS
    delete = compact(
        [
            1234,
            {"b": [["5539.90000", "0.00000000", "1534614335.345903"]], "c": "0"},
            "book-10",
            "XBT/USD",
        ]
    )
    left = [SNAP_BIDS[0], SNAP_BIDS[2]]
    kr.feed(with_checksum(delete, crc(SNAP_ASKS, left)), TS)
    assert kr.books["BTC-USD"].top(10)[0] == left
    assert kr.stats["checksum_ok"] == 2


def test_asks_and_bids_five_elements(kr):
    kr.feed(SNAPSHOT, TS)
    frame = example("kraken-v1-book-update-asks-and-bids.json")
    assert len(json.loads(frame)) == 5
    asks = [
        ["5541.30000", "2.50700000"],
        ["5541.80000", "0.33000000"],
        ["5542.50000", "0.40100000"],
        ["5542.70000", "0.64700000"],
    ]
    (ev,) = kr.feed(with_checksum(frame, crc(asks, SNAP_BIDS)), TS)
    assert len(ev["asks"]) == 2 and ev["bids"] == [["5541.30000", "0.00000000"]]
    assert kr.stats["checksum_ok"] == 1 and kr.stats["checksum_mismatch"] == 0


def test_documented_illustrative_checksum_is_a_mismatch(kr):
    # The doc's update examples carry "c": "974942666", which does not match its snapshot.
    kr.feed(SNAPSHOT, TS)
    evs = kr.feed(example("kraken-v1-book-update-asks-and-bids.json"), TS)
    assert types(evs) == ["book_update", "checksum_mismatch", "resync"]
    assert evs[1]["expected"] == 974942666
    unsub, sub = (json.loads(m) for m in kr.take_outbox())
    assert unsub == {
        "event": "unsubscribe",
        "pair": ["XBT/USD"],
        "subscription": {"name": "book", "depth": 10},
    }
    assert sub["event"] == "subscribe" and sub["pair"] == ["XBT/USD"]


def test_republish_entries_apply_like_updates(kr):
    kr.feed(SNAPSHOT, TS)
    frame = example("kraken-v1-book-update-republish.json")  # book-25, both levels with "r"
    asks = [
        ["5541.30000", "2.50700000"],
        ["5541.80000", "0.33000000"],
        ["5542.50000", "0.40100000"],
        ["5542.70000", "0.64700000"],
    ]
    (ev,) = kr.feed(with_checksum(frame, crc(asks, SNAP_BIDS)), TS)
    assert ev["asks"] == [["5541.30000", "2.50700000"], ["5542.50000", "0.40100000"]]
    assert kr.stats["checksum_ok"] == 1


def test_channel_name_depth_truncates(kr):
    asks = [[f"{100 + i}.00000", "1.00000000", "1534614248.123678"] for i in range(10)]
    bids = [[f"{99 - i}.00000", "1.00000000", "1534614248.123678"] for i in range(10)]
    kr.feed(compact([7, {"as": asks, "bs": bids}, "book-10", "ETH/USD"]), TS)
    new_bid = [["99.50000", "2.00000000", "1534614249.000001"]]
    kept = [b[:2] for b in [new_bid[0], *bids[:9]]]
    frame = compact(
        [7, {"b": new_bid, "c": str(crc([a[:2] for a in asks], kept))}, "book-10", "ETH/USD"]
    )
    (ev,) = kr.feed(frame, TS)
    assert ev["ts_exchange"] == 1534614249000001000
    assert kr.books["ETH-USD"].top(20)[0] == kept
    assert kr.stats["checksum_ok"] == 1


def test_trades_have_taker_side_and_no_trade_id(kr):
    s, b = kr.feed(example("kraken-v1-trade.json"), TS)
    assert (s["type"], s["side"], s["price"], s["size"], s["trade_id"]) == (
        "trade",
        "sell",
        "5541.20000",
        "0.15850568",
        None,
    )
    assert s["ts_exchange"] == 1534614057321597000 and s["symbol"] == "BTC-USD"
    assert b["side"] == "buy" and b["price"] == "6060.00000"
    assert kr.stats["trades"] == 2 and kr.stats["gaps"] == 0


def test_event_objects_are_quiet_and_teach_depth(kr):
    system = (
        b'{"connectionID":18239578009413566319,"event":"systemStatus",'
        b'"status":"online","version":"1.8.3"}'
    )
    status = compact(
        {
            "channelID": 992,
            "channelName": "book-1000",
            "event": "subscriptionStatus",
            "pair": "XMR/USD",
            "status": "subscribed",
            "subscription": {"depth": 1000, "name": "book"},
        }
    )
    for frame in (system, status, b'{"event":"heartbeat"}', example("kraken-v1-pong.json")):
        assert kr.feed(frame, TS) == []
    assert kr._depth_ack == {"XMR/USD": 1000}
    assert kr.stats["malformed"] == 0


def test_subscribe_error_is_kept(kr):
    msg = compact(
        {
            "errorMessage": "Currency pair not supported",
            "event": "subscriptionStatus",
            "pair": "XBT/USDX",
            "status": "error",
            "subscription": {"name": "book"},
        }
    )
    assert kr.feed(msg, TS) == []
    assert "Currency pair not supported" in kr.venue_errors[0]


def test_outbound_subscribe_sets_protocol_and_depth():
    k = make_adapter("kraken")
    k.feed_outbound(example("kraken-v1-book-subscribe.json"), TS)
    assert k.protocol == "v1"
    assert k._depth_req == {"XBT/USD": 10, "XBT/EUR": 10}
    msgs = [json.loads(m) for m in k.subscribe_messages(["BTC-USD"], depth=100, protocol="v1")]
    assert msgs[0] == {
        "event": "subscribe",
        "pair": ["XBT/USD"],
        "subscription": {"name": "book", "depth": 100},
    }
    assert msgs[1]["subscription"] == {"name": "trade"}
    assert json.loads(k.ping_message())["event"] == "ping"


def test_shape_decides_when_no_connect_was_seen():
    k = make_adapter("kraken")
    assert types(k.feed(SNAPSHOT, TS)) == ["book_snapshot"]
    assert types(k.feed(example("kraken-v2-book-snapshot.json"), TS)) == ["book_snapshot"]


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b'[1, {"a": []}, "book-10"]', "3 elements"),
        (b'[1, {"a": []}, 5, "XBT/USD"]', "channel name and pair"),
        (b'[1, {"a": [["x", "1", "1"]]}, "book-10", "XBT/USD"]', "before its snapshot"),
        (b'[1, {"a": [["1", "1"]]}, "book-10", "XBT/USD"]', "[price, volume, time]"),
        (b'[1, {"z": []}, "book-10", "XBT/USD"]', "without 'a' or 'b'"),
        (b'[1, {"a": []}, "book-ten", "XBT/USD"]', "shape not understood"),
        (b'[1, {"a": [], "c": "-5"}, "book-10", "XBT/USD"]', "checksum"),
        (
            b'[1, [["1.0", "1.0", "1.0", "x", "l", ""]], "trade", "XBT/USD"]',
            "bad price, volume or side",
        ),
        (b'[1, [["1.0", "1.0", "1.0", "b", "l", ""]], "trade", "XBTUSD"]', "unknown symbol"),
        (b'{"channel":"book"}', "v2 message on a v1"),
        (b'{"noevent":1}', "without an 'event'"),
        (b"42", "not a JSON object or array"),
    ],
)
def test_malformed_v1_frames(kr, frame, why):
    (ev,) = kr.feed(frame, TS)
    assert ev["type"] == "malformed" and why in ev["reason"], ev["reason"]
    assert kr.stats["malformed"] == 1


def test_bad_level_in_update_changes_no_book(kr):
    kr.feed(SNAPSHOT, TS)
    levels = [["5541.40000", "1.0", "1534614248.1"], ["5541.50000", "lots", "1534614248.1"]]
    frame = compact([1, {"a": levels}, "book-10", "XBT/USD"])
    (ev,) = kr.feed(frame, TS)
    assert ev["type"] == "malformed" and ev["symbol"] == "BTC-USD"
    assert kr.books["BTC-USD"].top(10)[1] == SNAP_ASKS


def test_other_channels_are_ignored(kr):
    assert (
        kr.feed(b'[42, ["5698.40000", "5700.00000", "1542057299.545897"], "spread", "XBT/USD"]', TS)
        == []
    )
    assert kr.stats["malformed"] == 0
