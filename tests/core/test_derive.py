"""derive: routing records to per-(venue, connection) adapters, event and book JSON lines,
symbol filters, per-venue counters; and `alphapulse replay --format events|books --stats`
on a real .wslog file."""

from __future__ import annotations

import json

import pytest

from alphapulse_cli.adapters.base import STAT_KEYS
from alphapulse_cli.core import derive
from tests.helpers.adapter_data import example
from tests.helpers.cli import run_cli
from tests.helpers.wslog_spec import spec_log

COINBASE, KRAKEN = 1, 2
IN, OUT, EVENT = 0, 1, 2
T = 1_700_000_000_000_000_000


def tag(venue: int, kind: int, conn: int = 0) -> int:
    return venue | (conn << 8) | (kind << 12)


def records() -> list[tuple[int, int, bytes]]:
    """Two venues, two Coinbase connections, session events, outbound, garbage."""
    return [
        (
            T,
            tag(COINBASE, EVENT),
            b'{"event":"connect","url":"wss://ws-feed.exchange.coinbase.com"}',
        ),
        (
            T + 1,
            tag(COINBASE, OUT),
            b'{"type":"subscribe","product_ids":["BTC-USD"],"channels":["level2_batch"]}',
        ),
        (T + 2, tag(COINBASE, IN), example("coinbase-exchange-level2-snapshot.json")),
        (T + 3, tag(KRAKEN, EVENT), b'{"event":"connect","url":"wss://ws.kraken.com/v2"}'),
        (T + 4, tag(KRAKEN, OUT), example("kraken-v2-book-subscribe.json")),
        (T + 5, tag(KRAKEN, IN), example("kraken-v2-book-snapshot.json")),
        (T + 6, tag(COINBASE, IN), example("coinbase-exchange-l2update.json")),
        (T + 7, tag(KRAKEN, IN), example("kraken-v2-book-update.json")),
        (T + 8, tag(COINBASE, IN, conn=1), example("coinbase-exchange-match.json")),
        (T + 9, tag(COINBASE, IN), b"\xff garbage"),
        (T + 10, tag(KRAKEN, IN), example("kraken-v2-trade-update.json")),
        (T + 11, tag(0, EVENT), b'{"event":"end"}'),
    ]


def lines(blocks) -> list[dict]:
    data = b"".join(blocks)
    assert data.endswith(b"\n")
    return [json.loads(x) for x in data.splitlines()]


def test_events_in_record_order_with_per_venue_counters():
    norm = derive.Normalizer()
    evs = lines(derive.iter_event_lines(records(), normalizer=norm))
    assert [(e["exchange"], e["type"]) for e in evs] == [
        ("coinbase", "connect"),
        ("coinbase", "book_snapshot"),
        ("kraken", "connect"),
        ("kraken", "book_snapshot"),
        ("coinbase", "book_update"),
        ("kraken", "book_update"),
        ("coinbase", "trade"),
        ("coinbase", "malformed"),
        ("kraken", "trade"),
    ]
    assert evs[6]["side"] == "buy" and evs[6]["ts_local"] == T + 8
    assert norm.stats == {
        "coinbase": {**dict.fromkeys(STAT_KEYS, 0), "trades": 1, "book_updates": 1, "malformed": 1},
        "kraken": {**dict.fromkeys(STAT_KEYS, 0), "trades": 1, "book_updates": 1, "checksum_ok": 2},
    }


def test_connections_have_separate_adapters():
    norm = derive.Normalizer()
    for rec in records():
        norm.process(*rec)
    # The match went to connection 1, which never saw a snapshot: its books are its own.
    assert {k for k, a in norm.adapters.items() if a} == {COINBASE, COINBASE | 1 << 8, KRAKEN}
    assert norm.adapters[COINBASE | 1 << 8].books == {}
    assert norm.adapters[COINBASE].book_valid("BTC-USD")


def test_outbound_records_reach_the_adapter():
    norm = derive.Normalizer()
    sub = b'{"method":"subscribe","params":{"channel":"book","symbol":["MATIC/USD"],"depth":25}}'
    assert norm.process(T, tag(KRAKEN, OUT), sub) == []
    assert norm.adapters[KRAKEN]._depth_req == {"MATIC/USD": 25}


def test_symbol_filter_keeps_connection_events():
    evs = lines(derive.iter_event_lines(records(), symbols=["matic/usd"]))
    assert {e["symbol"] for e in evs} == {None, "MATIC-USD"}
    assert [e["type"] for e in evs if e["symbol"]] == ["book_snapshot", "book_update", "trade"]


def test_unknown_venues_and_bad_session_payloads_are_skipped():
    norm = derive.Normalizer()
    assert norm.process(T, tag(9, IN), b"{}") == []
    assert norm.process(T, tag(COINBASE, EVENT), b"not json") == []
    assert norm.process(T, tag(COINBASE, EVENT), b"[1]") == []
    assert norm.stats["coinbase"]["malformed"] == 0


def test_book_lines_after_each_book_change():
    out = lines(derive.iter_book_lines(records(), 3))
    assert [(b["exchange"], b["symbol"], b["ts_local"]) for b in out] == [
        ("coinbase", "BTC-USD", T + 2),
        ("kraken", "MATIC-USD", T + 5),
        ("coinbase", "BTC-USD", T + 6),
        ("kraken", "MATIC-USD", T + 7),
    ]
    # `type` first, as in every event line, so a consumer of mixed lines can dispatch on it.
    assert list(out[0]) == ["type", "exchange", "symbol", "ts_local", "bids", "asks"]
    assert all(b["type"] == "book" for b in out)
    assert out[2]["bids"] == [["10101.80000000", "0.162567"], ["10101.10", "0.45054140"]]
    assert out[2]["asks"] == [["10102.55", "0.57753524"]]
    assert out[3]["bids"] == [
        ["0.5666", "4831.75496356"],
        ["0.5665", "6658.22734739"],
        ["0.5664", "18724.91513344"],
    ]
    assert len(out[3]["asks"]) == 3


def test_book_lines_skip_a_book_after_a_checksum_mismatch():
    recs = [
        (T, tag(KRAKEN, IN), example("kraken-v2-book-snapshot.json")),
        (
            T + 1,
            tag(KRAKEN, IN),
            example("kraken-v2-book-update.json").replace(b"2114181697", b"1"),
        ),
        (T + 2, tag(KRAKEN, IN), example("kraken-v2-book-update.json")),
        (T + 3, tag(KRAKEN, IN), example("kraken-v2-book-snapshot.json")),
    ]
    out = lines(derive.iter_book_lines(recs, 10))
    assert [b["ts_local"] for b in out] == [T, T + 3]


@pytest.mark.slow
def test_replay_cli_formats_and_stats(tmp_path):
    log = tmp_path / "mixed.wslog"
    log.write_bytes(
        spec_log([(ts, t & 0xFF, t >> 12, p, (t >> 8) & 0xF) for ts, t, p in records()])
    )
    r = run_cli("replay", str(log), "--format", "events", "--stats")
    assert r.returncode == 0, r.stderr
    evs = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(evs) == 9 and evs[-1]["type"] == "trade" and evs[-1]["price"] == "0.5117"
    stats = json.loads(r.stderr.decode().strip().splitlines()[-1])
    assert stats["integrity"]["kraken"]["checksum_ok"] == 2
    assert set(stats["integrity"]["coinbase"]) == set(STAT_KEYS)
    sp = stats["speedups"]
    if sp["built"]:  # each record went through the compiled splitter
        assert sp["enabled"] and sp["split_records"]["handled"] == stats["records"]
    r = run_cli("replay", str(log), "--format", "books", "--depth", "1", "--symbol", "BTC-USD")
    assert r.returncode == 0, r.stderr
    books = [json.loads(x) for x in r.stdout.splitlines()]
    assert [b["bids"] for b in books] == [
        [["10101.10", "0.45054140"]],
        [["10101.80000000", "0.162567"]],
    ]


def test_a_trade_seen_on_two_connections_is_emitted_once():
    match = example("coinbase-exchange-match.json")
    recs = [
        (T, tag(COINBASE, IN, conn=0), match),
        (T + 1, tag(COINBASE, IN, conn=1), match),
        (T + 2, tag(COINBASE, IN, conn=1), match.replace(b'"trade_id": 10', b'"trade_id": 11')),
    ]
    evs = lines(derive.iter_event_lines(recs))
    assert [(e["type"], e["trade_id"]) for e in evs] == [("trade", "10"), ("trade", "11")]
