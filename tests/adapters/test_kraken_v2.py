"""Kraken WebSocket v2: the documented checksums, precision, depth truncation, mismatch
handling, trades, and the non-data messages."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal

import pytest

from alphapulse_cli.adapters import make_adapter
from tests.helpers.adapter_data import DATA, TS, compact, example, types

V2 = {"event": "connect", "url": "wss://ws.kraken.com/v2"}
MATIC_SNAPSHOT = example("kraken-v2-book-snapshot.json")
MATIC_UPDATE = example("kraken-v2-book-update.json")
MATIC_INSTRUMENT = (DATA / "kraken-v2-instrument-matic-usd.json").read_bytes()


def worked_example_line() -> bytes:
    """The checksum guide's BTC/USD snapshot, prices and quantities as JSON strings."""
    text = example("kraken-v2-checksum-example.md").decode()
    return text.splitlines()[0].encode()


def as_numbers(frame: bytes) -> bytes:
    """The same frame with every price and qty as a JSON number, trailing zeros kept, the
    way the v2 feed sends them."""
    return (
        frame.replace(b'"price":"', b'"price":')
        .replace(b'","qty":"', b',"qty":')
        .replace(b'"}', b"}")
    )


def crc(asks: list[tuple[str, str]], bids: list[tuple[str, str]], pp: int, qp: int) -> int:
    """Independent CRC32 per the checksum guide: top 10 asks (low to high) then bids (high
    to low), each value formatted to the precision, '.' removed, leading zeros stripped."""

    def tok(value: str, places: int) -> str:
        return f"{Decimal(value):.{places}f}".replace(".", "").lstrip("0")

    asks = sorted(asks, key=lambda lv: Decimal(lv[0]))[:10]
    bids = sorted(bids, key=lambda lv: -Decimal(lv[0]))[:10]
    text = "".join(tok(p, pp) + tok(q, qp) for p, q in asks + bids)
    return zlib.crc32(text.encode()) & 0xFFFFFFFF


def book_frame(kind: str, symbol: str, bids, asks, checksum: int) -> bytes:
    """A v2 book message with numbers as JSON numbers (written as their exact text)."""

    def side(levels):
        return "[" + ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels) + "]"

    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}","bids":{side(bids)},'
        f'"asks":{side(asks)},"checksum":{checksum},"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}'
    ).encode()


@pytest.fixture
def kr():
    k = make_adapter("kraken")
    k.feed_session(V2, TS)
    return k


def test_connect_url_selects_v2(kr):
    assert kr.protocol == "v2"


def test_worked_example_3310070434_as_strings():
    k = make_adapter("kraken")
    (ev,) = k.feed(worked_example_line(), TS)
    assert ev["type"] == "book_snapshot" and ev["symbol"] == "BTC-USD"
    assert ev["venue_symbol"] == "BTC/USD"
    assert k.stats["checksum_ok"] == 1 and k.stats["checksum_mismatch"] == 0
    assert json.loads(worked_example_line())["data"][0]["checksum"] == 3310070434


def test_worked_example_3310070434_as_numbers_keeps_the_wire_text(kr):
    (ev,) = kr.feed(as_numbers(worked_example_line()), TS)
    assert kr.stats["checksum_ok"] == 1
    # Trailing zeros survive: the text is the wire's, not a float's.
    assert ev["asks"][0] == ["45285.2", "0.00100000"]
    assert ev["bids"][3] == ["45281.0", "0.10000000"]
    bids, asks = kr.books["BTC-USD"].top(1)
    assert bids == [["45283.5", "0.10000000"]] and asks == [["45285.2", "0.00100000"]]


def test_matic_usd_pair_2439117997_then_2114181697_with_the_instrument(kr):
    assert kr.feed(MATIC_INSTRUMENT, TS) == []
    assert types(kr.feed(MATIC_SNAPSHOT, TS)) == ["book_snapshot"]
    assert types(kr.feed(MATIC_UPDATE, TS)) == ["book_update"]
    assert kr.stats["checksum_ok"] == 2 and kr.stats["checksum_mismatch"] == 0
    bids, _ = kr.books["MATIC-USD"].top(10)
    assert ["0.5657", "1098.3947558"] in bids


def test_matic_usd_pair_without_the_instrument_uses_the_decimals_seen(kr):
    # The doc prints 0.566 and 18097.1547: as-is they give 3830085102 (wrong); the most
    # decimals seen for the symbol (4 and 8) recover Kraken's precision.
    kr.feed(MATIC_SNAPSHOT, TS)
    kr.feed(MATIC_UPDATE, TS)
    assert kr.stats["checksum_ok"] == 2 and kr.stats["checksum_mismatch"] == 0


def test_printed_text_as_is_would_not_verify():
    from alphapulse_cli.adapters.kraken_checksum import checksum_from_text

    data = json.loads(MATIC_SNAPSHOT, parse_float=str)["data"][0]
    asks = [(lv["price"], lv["qty"]) for lv in data["asks"]]
    bids = [(lv["price"], lv["qty"]) for lv in data["bids"]]
    assert checksum_from_text(asks, bids) == 3830085102 != data["checksum"]
    assert crc(asks, bids, 4, 8) == data["checksum"] == 2439117997


def test_checksum_mismatch_marks_one_book_stale_and_asks_for_a_resync(kr):
    kr.feed(MATIC_SNAPSHOT, TS)
    btc = as_numbers(worked_example_line())
    kr.feed(btc, TS)
    bad = MATIC_UPDATE.replace(b"2114181697", b"2114181698")
    evs = kr.feed(bad, TS + 5)
    assert types(evs) == ["book_update", "checksum_mismatch", "resync"]
    mm = evs[1]
    assert (mm["expected"], mm["computed"], mm["symbol"]) == (2114181698, 2114181697, "MATIC-USD")
    assert evs[2]["symbol"] == "MATIC-USD" and evs[2]["reason"] == "checksum_mismatch"
    assert not kr.book_valid("MATIC-USD") and kr.book_valid("BTC-USD")
    unsub, sub = (json.loads(m) for m in kr.take_outbox())
    assert unsub["method"] == "unsubscribe" and sub["method"] == "subscribe"
    assert sub["params"] == {
        "channel": "book",
        "symbol": ["MATIC/USD"],
        "depth": 10,
        "snapshot": True,
    }
    assert kr.take_outbox() == []
    # Updates for the stale book wait quietly; the other symbol goes on.
    assert kr.feed(MATIC_UPDATE, TS) == []
    assert kr.stats["malformed"] == 0
    assert kr.stats == {**kr.stats, "checksum_mismatch": 1, "resyncs": 1, "checksum_ok": 2}
    # A fresh snapshot restores it.
    kr.feed(MATIC_SNAPSHOT, TS)
    assert kr.book_valid("MATIC-USD")
    assert types(kr.feed(MATIC_UPDATE, TS)) == ["book_update"]
    assert kr.stats["checksum_ok"] == 4


def test_depth_truncation_happens_before_the_checksum(kr):
    kr.feed_outbound(
        compact(
            {
                "method": "subscribe",
                "params": {"channel": "book", "symbol": ["ALGO/USD"], "depth": 10},
            }
        ),
        TS,
    )
    bids = [(f"0.{1490 - i:04d}", "10.00000000") for i in range(10)]  # 0.1490 .. 0.1481
    asks = [(f"0.{1501 + i:04d}", "20.00000000") for i in range(10)]
    kr.feed(book_frame("snapshot", "ALGO/USD", bids, asks, crc(asks, bids, 4, 8)), TS)
    # A better bid arrives: 11 bids; the worst (0.1481) falls out of the subscribed depth.
    new = [("0.1495", "5.00000000")]
    bids_after = new + bids[:9]
    frame = book_frame("update", "ALGO/USD", new, [], crc(asks, bids_after, 4, 8))
    assert types(kr.feed(frame, TS)) == ["book_update"]
    assert kr.stats["checksum_ok"] == 2
    # Then that bid goes: without truncation the old 11th level would come back.
    gone = [("0.1495", "0")]
    frame = book_frame("update", "ALGO/USD", gone, [], crc(asks, bids[:9], 4, 8))
    assert types(kr.feed(frame, TS)) == ["book_update"]
    assert kr.stats["checksum_ok"] == 3 and kr.stats["checksum_mismatch"] == 0
    top, _ = kr.books["ALGO-USD"].top(20)
    assert len(top) == 9 and top[-1][0] == "0.1482"


def test_depth_comes_from_the_subscribe_ack(kr):
    ack = json.loads(example("kraken-v2-book-subscribe-ack.json"))
    ack["result"]["depth"] = 25
    assert kr.feed(compact(ack), TS) == []
    bids = [(f"0.{1500 - i:04d}", "1.00000000") for i in range(25)]
    asks = [(f"0.{1501 + i:04d}", "1.00000000") for i in range(25)]
    kr.feed(book_frame("snapshot", "ALGO/USD", bids, asks, crc(asks, bids, 4, 8)), TS)
    assert len(kr.books["ALGO-USD"].top(100)[0]) == 25
    gone = [(p, "0") for p, _ in bids[:12]]
    frame = book_frame("update", "ALGO/USD", gone, [], crc(asks, bids[12:], 4, 8))
    kr.feed(frame, TS)
    assert kr.stats["checksum_mismatch"] == 0 and kr.stats["checksum_ok"] == 2


def test_deeper_snapshot_than_expected_raises_the_depth(kr):
    # No subscribe logged, no ack: the snapshot itself shows the depth is at least 25.
    bids = [(f"0.{1500 - i:04d}", "1.00000000") for i in range(25)]
    asks = [(f"0.{1501 + i:04d}", "1.00000000") for i in range(25)]
    kr.feed(book_frame("snapshot", "ALGO/USD", bids, asks, crc(asks, bids, 4, 8)), TS)
    assert len(kr.books["ALGO-USD"].top(100)[0]) == 25


def test_subscribe_ack_example_and_other_non_data_messages_are_quiet(kr):
    for name in (
        "kraken-v2-book-subscribe-ack.json",
        "kraken-v2-heartbeat.json",
        "kraken-v2-status.json",
        "kraken-v2-pong.json",
        "kraken-v2-instrument-snapshot.json",
    ):
        assert kr.feed(example(name), TS) == [], name
    assert kr.stats["malformed"] == 0
    assert kr._depth_ack == {"ALGO/USD": 10}


def test_status_connection_id_beyond_int64_parses(kr):
    assert kr.feed(example("kraken-v2-status.json"), TS) == []
    assert b"13834774380200032777" in example("kraken-v2-status.json")


def test_failed_subscribe_is_kept_for_the_operator(kr):
    msg = compact({"method": "subscribe", "error": "Currency pair not supported", "success": False})
    assert kr.feed(msg, TS) == []
    assert kr.venue_errors == ["subscribe failed: Currency pair not supported"]


def test_trade_snapshot_and_update_keep_wire_text_and_taker_side(kr):
    a, b = kr.feed(example("kraken-v2-trade-snapshot.json"), TS)
    assert (a["type"], a["side"], a["price"], a["size"], a["trade_id"]) == (
        "trade",
        "buy",
        "0.5147",
        "6423.46326",
        "4665846",
    )
    assert a["symbol"] == "MATIC-USD" and a["ts_exchange"] == 1695628116925533000
    assert b["trade_id"] == "4665847"
    gap, t = kr.feed(example("kraken-v2-trade-update.json"), TS)
    assert (gap["type"], gap["expected"], gap["got"], gap["missing"]) == (
        "gap",
        4665848,
        4665906,
        58,
    )
    assert (t["side"], t["size"], t["price"]) == ("sell", "40.0", "0.5117")
    # The same batch again (a resubscribe's snapshot) adds nothing.
    assert kr.feed(example("kraken-v2-trade-snapshot.json"), TS) == []
    assert kr.stats["trades"] == 3 and kr.stats["gaps"] == 1


def test_exponent_numbers_become_plain_decimals(kr):
    frame = (
        b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy",'
        b'"price":6.5e4,"qty":1e-08,"ord_type":"limit","trade_id":1,'
        b'"timestamp":"2023-09-25T07:49:37.708706Z"}]}'
    )
    (t,) = kr.feed(frame, TS)
    assert (t["price"], t["size"]) == ("65000", "0.00000001")


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b'[1, {"a": []}, "book-10", "XBT/USD"]', "array frame on a v2"),
        (b'{"event":"heartbeat"}', "without 'channel' or 'method'"),
        (
            b'{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[],"asks":[]}]}',
            "before its snapshot",
        ),
        (
            b'{"channel":"book","type":"delta","data":[{"symbol":"MATIC/USD"}]}',
            "snapshot or update",
        ),
        (b'{"channel":"book","type":"snapshot","data":{"symbol":"MATIC/USD"}}', "data list"),
        (
            b'{"channel":"book","type":"snapshot","data":[{"symbol":"MATICUSD","bids":[],"asks":[]}]}',
            "unknown symbol",
        ),
        (
            b'{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":true,"qty":1}]}]}',
            "not a number",
        ),
        (
            b'{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":-1.5,"qty":1}]}]}',
            "bad level",
        ),
        (
            b'{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","checksum":"x"}]}',
            "checksum",
        ),
        (
            b'{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"long","price":1,"qty":1}]}',
            "bad side",
        ),
        (b'{"channel":7}', "not a string"),
    ],
)
def test_malformed_v2_frames(kr, frame, why):
    (ev,) = kr.feed(frame, TS)
    assert ev["type"] == "malformed" and why in ev["reason"], ev["reason"]
    assert kr.stats["malformed"] == 1


def test_a_malformed_update_changes_no_book(kr):
    kr.feed(MATIC_SNAPSHOT, TS)
    before = kr.books["MATIC-USD"].top(10)
    bad = (
        b'{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD",'
        b'"bids":[{"price":0.5667,"qty":5.0},{"price":"x","qty":1}],"asks":[],'
        b'"checksum":1,"timestamp":"2023-10-06T17:35:55.440295Z"}]}'
    )
    (ev,) = kr.feed(bad, TS)
    assert ev["type"] == "malformed" and ev["symbol"] == "MATIC-USD"
    assert kr.books["MATIC-USD"].top(10) == before
    assert kr.book_valid("MATIC-USD")


def test_unknown_channels_are_ignored(kr):
    assert kr.feed(b'{"channel":"ohlc","type":"update","data":[]}', TS) == []
    assert kr.stats["malformed"] == 0


def test_subscribe_messages_ping_and_url(kr):
    msgs = [json.loads(m) for m in kr.subscribe_messages(["BTC-USD", "ETH-USD"], depth=25)]
    assert [m["params"]["channel"] for m in msgs] == ["instrument", "book", "trade"]
    assert msgs[1]["params"] == {
        "channel": "book",
        "symbol": ["BTC/USD", "ETH/USD"],
        "depth": 25,
        "snapshot": True,
    }
    assert all(m["method"] == "subscribe" for m in msgs)
    ping = json.loads(kr.ping_message())
    assert ping["method"] == "ping" and isinstance(ping["req_id"], int)
    assert kr.default_url() == "wss://ws.kraken.com/v2"
    assert kr.default_url("v1") == "wss://ws.kraken.com"


def trade_frame(kind: str, ids: list[int]) -> bytes:
    data = [
        {
            "symbol": "MATIC/USD",
            "side": "buy",
            "price": "0.5147",
            "qty": "10.0",
            "ord_type": "limit",
            "trade_id": i,
            "timestamp": "2023-09-25T07:48:36.925533Z",
        }
        for i in ids
    ]
    return compact({"channel": "trade", "type": kind, "data": data})


def test_trade_gap_asks_for_a_trade_snapshot_that_fills_it(kr):
    kr.feed(trade_frame("update", [100, 101]), TS)
    gap, trade = kr.feed(trade_frame("update", [105]), TS)
    assert trade["trade_id"] == "105"
    assert (gap["expected"], gap["got"], gap["missing"]) == (102, 105, 3)
    unsub, sub = (json.loads(m) for m in kr.take_outbox())
    assert unsub["method"] == "unsubscribe" and unsub["params"]["channel"] == "trade"
    assert sub["params"] == {"channel": "trade", "symbol": ["MATIC/USD"], "snapshot": True}
    # The snapshot replays recent trades: the three missing ones come out, once.
    filled = kr.feed(trade_frame("snapshot", list(range(95, 106))), TS)
    assert [t["trade_id"] for t in filled] == ["102", "103", "104"]
    assert kr.feed(trade_frame("snapshot", list(range(95, 106))), TS) == []
    assert types(kr.feed(trade_frame("update", [106]), TS)) == ["trade"]
    assert kr.stats["trades"] == 7 and kr.stats["gaps"] == 1


def test_a_book_that_keeps_failing_is_resubscribed_at_most_once_a_second(kr):
    bad_snapshot = MATIC_SNAPSHOT.replace(b"2439117997", b"1")
    assert "checksum_mismatch" in types(kr.feed(bad_snapshot, TS))
    assert len(kr.take_outbox()) == 2
    assert "checksum_mismatch" in types(kr.feed(bad_snapshot, TS + 100_000_000))
    assert kr.take_outbox() == []  # 0.1 s later: held back
    assert kr.feed(MATIC_UPDATE, TS + 500_000_000) == []
    assert kr.take_outbox() == []
    assert kr.feed(MATIC_UPDATE, TS + 1_200_000_000) == []  # an update of the stale book
    assert [json.loads(m)["method"] for m in kr.take_outbox()] == ["unsubscribe", "subscribe"]
    assert kr.stats["checksum_mismatch"] == 2 and kr.stats["resyncs"] == 2
