"""Coinbase adapter: the Exchange feed examples, side inversion, trade-id gaps, books,
malformed frames, sessions, and the Advanced Trade examples."""

from __future__ import annotations

import json

import pytest

from alphapulse_cli.adapters import make_adapter
from alphapulse_cli.adapters.base import STAT_KEYS
from tests.helpers.adapter_data import TS, compact, example, types

SNAPSHOT = example("coinbase-exchange-level2-snapshot.json")


def match(
    trade_id: int, side: str = "sell", product: str = "BTC-USD", kind: str = "match"
) -> bytes:
    return compact(
        {
            "type": kind,
            "trade_id": trade_id,
            "sequence": 50 + trade_id,
            "maker_order_id": "ac928c66-ca53-498f-9c13-a110027a60e8",
            "taker_order_id": "132fb6ae-456b-4654-b4e0-d681ac05cea1",
            "time": "2014-11-07T08:19:27.028459Z",
            "product_id": product,
            "size": "5.23512",
            "price": "400.23",
            "side": side,
        }
    )


def l2update(*changes: tuple[str, str, str], product: str = "BTC-USD") -> bytes:
    return compact(
        {
            "type": "l2update",
            "product_id": product,
            "changes": [list(c) for c in changes],
            "time": "2019-08-14T20:42:27.265Z",
        }
    )


def heartbeat(last_trade_id: int, product: str = "BTC-USD") -> bytes:
    return compact(
        {
            "type": "heartbeat",
            "sequence": 90,
            "last_trade_id": last_trade_id,
            "product_id": product,
            "time": "2014-11-07T08:19:28.464459Z",
        }
    )


@pytest.fixture
def cb():
    return make_adapter("coinbase")


def test_stats_have_exactly_the_documented_keys(cb):
    assert (
        set(cb.stats)
        == set(STAT_KEYS)
        == {
            "trades",
            "book_updates",
            "checksum_ok",
            "checksum_mismatch",
            "gaps",
            "resyncs",
            "malformed",
        }
    )
    assert all(v == 0 for v in cb.stats.values())


def test_match_example_is_an_aggressor_buy(cb):
    # The documented match has side "sell": the MAKER sold, so the taker (aggressor) bought.
    (ev,) = cb.feed(example("coinbase-exchange-match.json"), TS)
    assert ev == {
        "type": "trade",
        "exchange": "coinbase",
        "symbol": "BTC-USD",
        "venue_symbol": "BTC-USD",
        "ts_exchange": 1415348367028459000,
        "ts_local": TS,
        "price": "400.23",
        "size": "5.23512",
        "side": "buy",
        "trade_id": "10",
    }
    assert cb.stats["trades"] == 1


@pytest.mark.parametrize(("maker", "aggressor"), [("sell", "buy"), ("buy", "sell")])
def test_side_is_inverted_for_match_and_last_match(maker, aggressor):
    cb = make_adapter("coinbase")
    (first,) = cb.feed(match(1, maker, kind="last_match"), TS)
    (second,) = cb.feed(match(2, maker), TS)
    assert first["side"] == second["side"] == aggressor


def test_trade_id_gap_is_reported_once_with_the_missing_range(cb):
    assert types(cb.feed(match(100), TS)) == ["trade"]
    assert types(cb.feed(match(101), TS)) == ["trade"]
    gap, trade = cb.feed(match(105), TS)
    assert gap["type"] == "gap" and trade["trade_id"] == "105"
    assert (gap["expected"], gap["got"], gap["missing"], gap["source"]) == (102, 105, 3, "trade_id")
    assert gap["symbol"] == "BTC-USD"
    assert types(cb.feed(match(106), TS)) == ["trade"]
    assert cb.stats["gaps"] == 1 and cb.stats["trades"] == 4


def test_gaps_are_per_product(cb):
    cb.feed(match(10, product="BTC-USD"), TS)
    cb.feed(match(500, product="ETH-USD"), TS)
    assert types(cb.feed(match(11, product="BTC-USD"), TS)) == ["trade"]
    assert types(cb.feed(match(501, product="ETH-USD"), TS)) == ["trade"]
    assert cb.stats["gaps"] == 0


def test_duplicate_and_stale_trade_ids_are_dropped(cb):
    cb.feed(match(7, kind="last_match"), TS)
    cb.feed(match(8), TS)
    # After a reconnect the first message on matches is last_match again: already emitted.
    assert cb.feed(match(8, kind="last_match"), TS) == []
    assert cb.feed(match(6), TS) == []
    assert cb.stats["trades"] == 2 and cb.stats["gaps"] == 0


def test_heartbeat_last_trade_id_reveals_dropped_matches(cb):
    cb.feed(example("coinbase-exchange-match.json"), TS)  # trade 10
    (gap,) = cb.feed(example("coinbase-exchange-heartbeat.json"), TS)  # last_trade_id 20
    assert (gap["type"], gap["expected"], gap["got"], gap["missing"]) == ("gap", 11, 20, 10)
    assert gap["source"] == "heartbeat"
    assert gap["ts_exchange"] == 1415348368464459000
    # The same claim again is not a new gap, and a later match right after it is in order.
    assert cb.feed(heartbeat(20), TS) == []
    assert types(cb.feed(match(21), TS)) == ["trade"]
    assert cb.stats["gaps"] == 1


def test_heartbeat_in_step_with_trades_is_quiet(cb):
    cb.feed(match(10), TS)
    assert cb.feed(heartbeat(10), TS) == []
    cb.feed(match(11), TS)
    assert cb.feed(heartbeat(11), TS) == []
    assert cb.stats["gaps"] == 0


def test_heartbeat_without_followed_trades_is_not_a_gap(cb):
    # Subscribed to heartbeat but not matches: nothing to compare with.
    assert cb.feed(example("coinbase-exchange-heartbeat.json"), TS) == []
    assert cb.stats["gaps"] == 0


def test_late_trade_inside_a_reported_range_is_kept_without_a_second_gap(cb):
    cb.feed(match(10), TS)
    cb.feed(heartbeat(12), TS)  # 11 and 12 reported missing
    assert types(cb.feed(match(11), TS)) == ["trade"]
    assert types(cb.feed(match(12), TS)) == ["trade"]
    gap, _ = cb.feed(match(15), TS)
    assert (gap["expected"], gap["got"]) == (13, 15)
    assert cb.stats["gaps"] == 2


def test_snapshot_then_updates_build_the_book(cb):
    (snap,) = cb.feed(SNAPSHOT, TS)
    assert snap["type"] == "book_snapshot"
    assert snap["bids"] == [["10101.10", "0.45054140"]]
    assert snap["asks"] == [["10102.55", "0.57753524"]]
    (upd,) = cb.feed(example("coinbase-exchange-l2update.json"), TS + 1)
    assert upd["type"] == "book_update"
    assert upd["bids"] == [["10101.80000000", "0.162567"]] and upd["asks"] == []
    assert upd["ts_exchange"] == 1565815347265000000
    bids, asks = cb.books["BTC-USD"].top(5)
    assert bids == [["10101.80000000", "0.162567"], ["10101.10", "0.45054140"]]
    assert asks == [["10102.55", "0.57753524"]]
    assert cb.book_valid("BTC-USD")
    assert cb.stats["book_updates"] == 1


def test_multiple_changes_apply_in_order_and_zero_removes(cb):
    cb.feed(SNAPSHOT, TS)
    cb.feed(l2update(("buy", "22356.270000", "3")), TS)
    (upd,) = cb.feed(example("coinbase-exchange-l2update-multiple-changes.json"), TS)
    assert upd["bids"] == [["22356.270000", "0.00000000"], ["22356.300000", "1.00000000"]]
    bids, _ = cb.books["BTC-USD"].top(10)
    assert bids == [["22356.300000", "1.00000000"], ["10101.10", "0.45054140"]]


@pytest.mark.parametrize("zero", ["0", "0.00000000", "0.0", "000.000"])
def test_every_spelling_of_zero_removes_a_level(cb, zero):
    cb.feed(SNAPSHOT, TS)
    cb.feed(l2update(("sell", "10102.5500", zero)), TS)  # same price, other text
    assert cb.books["BTC-USD"].top(5)[1] == []


def test_same_price_different_text_is_one_level(cb):
    cb.feed(SNAPSHOT, TS)
    cb.feed(l2update(("buy", "10101.1", "2.5")), TS)
    bids, _ = cb.books["BTC-USD"].top(5)
    assert len(bids) == 1 and bids[0][1] == "2.5"


def test_update_before_snapshot_is_malformed(cb):
    (ev,) = cb.feed(example("coinbase-exchange-l2update.json"), TS)
    assert ev["type"] == "malformed" and "snapshot" in ev["reason"]
    assert ev["symbol"] == "BTC-USD"
    assert cb.stats["malformed"] == 1 and "BTC-USD" not in cb.books


def test_bad_level_in_a_multi_change_message_changes_nothing(cb):
    cb.feed(SNAPSHOT, TS)
    before = cb.books["BTC-USD"].top(10)
    (ev,) = cb.feed(l2update(("buy", "10101.20", "1"), ("sell", "10102.60", "lots")), TS)
    assert ev["type"] == "malformed" and "size" in ev["reason"]
    assert cb.books["BTC-USD"].top(10) == before
    (ev,) = cb.feed(l2update(("buy", "10101.20", "1"), ("sell", "1O102.60", "1")), TS)
    assert ev["type"] == "malformed" and "price" in ev["reason"]
    assert cb.books["BTC-USD"].top(10) == before
    assert cb.stats["malformed"] == 2 and cb.stats["book_updates"] == 0


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b'{"type":"l2update","product_id":"BTC-USD"', "not JSON"),
        (b"[1,2,3]", "not a JSON object"),
        (b'"just a string"', "not a JSON object"),
        (b'{"hello":"world"}', "no 'type'"),
        (b'{"type":"match","product_id":"BTC-USD"}', "bad match"),
        (
            b'{"type":"match","trade_id":"x","side":"buy","size":"1","price":"1","product_id":"BTC-USD"}',
            "bad match",
        ),
        (
            b'{"type":"match","trade_id":1,"side":"up","size":"1","price":"1","product_id":"BTC-USD"}',
            "bad match",
        ),
        (b'{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1"]]}', "bad l2update"),
        (
            b'{"type":"snapshot","product_id":"BTC-USD","bids":[["x","1"]],"asks":[]}',
            "bad snapshot level",
        ),
    ],
)
def test_malformed_frames_are_reported_not_raised(cb, payload, why):
    (ev,) = cb.feed(payload, TS)
    assert ev["type"] == "malformed" and why in ev["reason"]
    assert ev["exchange"] == "coinbase" and ev["ts_local"] == TS
    assert cb.stats["malformed"] == 1


def test_bad_trade_values_and_unknown_symbols_are_malformed(cb):
    bad_price = json.loads(match(1))
    bad_price["price"] = "-400.23"
    (ev,) = cb.feed(compact(bad_price), TS)
    assert ev["type"] == "malformed" and ev["symbol"] == "BTC-USD"
    (ev,) = cb.feed(match(2, product="BTCUSD"), TS)
    assert ev["type"] == "malformed" and "unknown symbol" in ev["reason"]
    assert cb.stats == {**cb.stats, "malformed": 2, "trades": 0}


@pytest.mark.parametrize(
    "name",
    [
        "coinbase-exchange-ticker.json",
        "coinbase-exchange-subscriptions.json",
        "coinbase-exchange-unsubscribe.json",
        "coinbase-exchange-subscribe.json",
    ],
)
def test_well_formed_types_we_do_not_use_are_ignored(cb, name):
    assert cb.feed(example(name), TS) == []
    assert cb.stats["malformed"] == 0


def test_new_message_types_are_ignored(cb):
    assert cb.feed(b'{"type":"auction","product_id":"BTC-USD"}', TS) == []
    assert cb.stats["malformed"] == 0


def test_error_messages_are_kept_for_the_operator(cb):
    msg = compact(
        {
            "type": "error",
            "message": "Failed to subscribe",
            "reason": "ETH-USD is not a valid product",
        }
    )
    assert cb.feed(msg, TS) == []
    assert cb.venue_errors == ["Failed to subscribe: ETH-USD is not a valid product"]


def test_disconnect_invalidates_books_and_connect_starts_fresh(cb):
    (conn,) = cb.feed_session(
        {"event": "connect", "url": "wss://ws-feed.exchange.coinbase.com"}, TS
    )
    assert conn["type"] == "connect" and conn["url"] == "wss://ws-feed.exchange.coinbase.com"
    assert cb.protocol == "exchange"
    cb.feed(SNAPSHOT, TS)
    (disc,) = cb.feed_session({"event": "disconnect", "reason": "timeout"}, TS + 1)
    assert disc["type"] == "disconnect" and disc["reason"] == "timeout" and disc["symbol"] is None
    assert not cb.book_valid("BTC-USD")
    (ev,) = cb.feed(example("coinbase-exchange-l2update.json"), TS + 2)
    assert ev["type"] == "malformed"
    cb.feed_session({"event": "connect", "url": "wss://ws-feed.exchange.coinbase.com"}, TS + 3)
    cb.feed(SNAPSHOT, TS + 4)
    assert types(cb.feed(example("coinbase-exchange-l2update.json"), TS + 5)) == ["book_update"]


def test_trade_ids_survive_a_reconnect(cb):
    cb.feed(match(10), TS)
    cb.feed_session({"event": "disconnect", "reason": "x"}, TS)
    cb.feed_session({"event": "connect", "url": "wss://ws-feed.exchange.coinbase.com"}, TS)
    assert cb.feed(match(10, kind="last_match"), TS) == []  # the reconnect's last_match
    gap, _ = cb.feed(match(13), TS)
    assert (gap["expected"], gap["got"]) == (11, 13)


def test_resync_session_event_waits_for_the_next_snapshot(cb):
    cb.feed(SNAPSHOT, TS)
    (ev,) = cb.feed_session({"event": "resync", "symbol": "BTC-USD", "reason": "manual"}, TS)
    assert ev["type"] == "resync" and ev["symbol"] == "BTC-USD" and ev["reason"] == "manual"
    assert not cb.book_valid("BTC-USD")
    assert cb.feed(example("coinbase-exchange-l2update.json"), TS) == []  # dropped quietly
    assert cb.feed_session({"event": "resync", "symbol": "BTC-USD"}, TS) == []  # already waiting
    cb.feed(SNAPSHOT, TS)
    assert cb.book_valid("BTC-USD")
    assert cb.stats["resyncs"] == 1 and cb.stats["malformed"] == 0


def test_end_and_unknown_session_events_do_nothing(cb):
    assert cb.feed_session({"event": "end"}, TS) == []
    assert cb.feed_session({"event": "what"}, TS) == []
    assert cb.feed_session([], TS) == []  # type: ignore[arg-type]


def test_subscribe_messages_and_endpoint(cb):
    (msg,) = cb.subscribe_messages(["BTC-USD", "eth-usd"])
    assert json.loads(msg) == {
        "type": "subscribe",
        "product_ids": ["BTC-USD", "ETH-USD"],
        "channels": ["level2_batch", "matches", "heartbeat"],
    }
    (msg,) = cb.subscribe_messages(["BTC-USD"], ["level2"])
    assert json.loads(msg)["channels"] == ["level2"]
    adv = [json.loads(m) for m in cb.subscribe_messages(["BTC-USD"], protocol="advanced")]
    assert [m["channel"] for m in adv] == ["level2", "market_trades", "heartbeats"]
    assert "product_ids" not in adv[2]
    assert cb.default_url() == "wss://ws-feed.exchange.coinbase.com"
    assert cb.default_url("advanced") == "wss://advanced-trade-ws.coinbase.com"
    assert cb.ping_message() is None
    assert cb.take_outbox() == []


# ---- Advanced Trade -----------------------------------------------------------------------


def test_advanced_l2_data_snapshot_and_update(cb):
    (snap,) = cb.feed(example("coinbase-advanced-l2_data-snapshot.json"), TS)
    assert snap["type"] == "book_snapshot"
    assert snap["bids"] == [["21921.73", "0.06317902"], ["21921.3", "0.02"]]
    assert snap["ts_exchange"] == 1675974770714964855
    (upd,) = cb.feed(example("coinbase-advanced-l2_data-update-nautilus-fixture.json"), TS)
    assert upd["bids"] == [["68900.00", "2.00000000"]]
    assert upd["asks"] == [["68901.00", "0.00000000"]]  # "offer" is the ask side
    bids, asks = cb.books["BTC-USD"].top(5)
    assert bids[0] == ["68900.00", "2.00000000"] and asks == []


def test_advanced_market_trades_invert_the_maker_side_and_dedupe(cb):
    (t,) = cb.feed(example("coinbase-advanced-market_trades.json"), TS)
    assert (t["type"], t["side"], t["price"], t["size"], t["trade_id"]) == (
        "trade",
        "sell",
        "1260.01",
        "0.3",
        "000000000",
    )
    assert t["symbol"] == "ETH-USD"
    assert cb.feed(example("coinbase-advanced-market_trades.json"), TS) == []


@pytest.mark.parametrize(
    "name",
    [
        "coinbase-advanced-heartbeats.json",
        "coinbase-advanced-status.json",
        "coinbase-advanced-ticker.json",
        "coinbase-advanced-subscriptions-nautilus-fixture.json",
        "coinbase-advanced-subscribe-level2.json",
        "coinbase-advanced-subscribe-heartbeats.json",
        "coinbase-advanced-subscribe-unauthenticated.json",
    ],
)
def test_advanced_messages_we_do_not_use_are_ignored(cb, name):
    assert cb.feed(example(name), TS) == []
    assert cb.stats["malformed"] == 0


def test_advanced_connect_url_sets_the_protocol(cb):
    cb.feed_session({"event": "connect", "url": "wss://advanced-trade-ws.coinbase.com"}, TS)
    assert cb.protocol == "advanced"


def adv(channel: str, seq: int, events: list[dict]) -> bytes:
    return compact(
        {
            "channel": channel,
            "client_id": "",
            "timestamp": "2026-04-07T14:30:01.456789Z",
            "sequence_num": seq,
            "events": events,
        }
    )


def adv_book(seq: int, kind: str, *levels: tuple[str, str, str], product: str = "BTC-USD"):
    updates = [
        {"side": side, "event_time": "2026-04-07T14:30:01Z", "price_level": p, "new_quantity": q}
        for side, p, q in levels
    ]
    return adv("l2_data", seq, [{"type": kind, "product_id": product, "updates": updates}])


def adv_trades(seq: int, kind: str, *ids: str) -> bytes:
    trades = [
        {
            "trade_id": tid,
            "product_id": "BTC-USD",
            "price": "100.5",
            "size": "0.1",
            "side": "SELL",
            "time": "2026-04-07T14:30:01.1Z",
        }
        for tid in ids
    ]
    return adv("market_trades", seq, [{"type": kind, "trades": trades}])


def test_advanced_skipped_sequence_num_is_a_gap_and_books_wait_for_snapshots(cb):
    cb.feed_session({"event": "connect", "url": "wss://advanced-trade-ws.coinbase.com"}, TS)
    cb.feed(adv_book(0, "snapshot", ("bid", "100", "1"), ("offer", "101", "1")), TS)
    cb.feed(adv_book(1, "snapshot", ("bid", "10", "1"), product="ETH-USD"), TS)
    cb.feed(adv_trades(2, "update", "7"), TS)  # the counter spans channels and products
    assert cb.stats["gaps"] == 0 and cb.book_valid("BTC-USD")
    (gap,) = cb.feed(adv("heartbeats", 6, [{"heartbeat_counter": 9}]), TS)
    assert (gap["type"], gap["symbol"], gap["source"]) == ("gap", None, "sequence_num")
    assert (gap["expected"], gap["got"], gap["missing"]) == (3, 6, 3)
    assert cb.stats["gaps"] == 1
    assert not cb.book_valid("BTC-USD") and not cb.book_valid("ETH-USD")
    assert cb.feed(adv_book(7, "update", ("bid", "100", "2")), TS) == []  # dropped quietly
    # A fresh snapshot replaces the book: the levels it does not list are gone.
    (snap,) = cb.feed(adv_book(8, "snapshot", ("bid", "99", "3")), TS)
    assert snap["type"] == "book_snapshot" and cb.book_valid("BTC-USD")
    assert cb.books["BTC-USD"].top(5) == ([["99", "3"]], [])
    assert not cb.book_valid("ETH-USD")
    (upd,) = cb.feed(adv_book(9, "update", ("offer", "102", "1")), TS)
    assert upd["type"] == "book_update" and cb.stats["gaps"] == 1


def test_advanced_repeated_or_constant_sequence_num_is_no_gap(cb):
    for seq in (0, 0, 1, 1, 0, 2):
        cb.feed(adv("heartbeats", seq, [{"heartbeat_counter": 1}]), TS)
    assert cb.stats["gaps"] == 0
    # A new connection numbers from scratch.
    cb.feed_session({"event": "connect", "url": "wss://advanced-trade-ws.coinbase.com"}, TS)
    assert cb.feed(adv("heartbeats", 0, [{"heartbeat_counter": 1}]), TS) == []
    assert cb.stats["gaps"] == 0


def test_advanced_trade_snapshot_after_a_gap_emits_only_new_trades(cb):
    assert len(cb.feed(adv_trades(0, "snapshot", "1", "2"), TS)) == 2
    assert len(cb.feed(adv_trades(1, "update", "3"), TS)) == 1
    got = cb.feed(adv_trades(5, "snapshot", "2", "3", "4", "5"), TS)  # the resubscribe's
    assert types(got) == ["gap", "trade", "trade"]
    assert [t["trade_id"] for t in got[1:]] == ["4", "5"]
    assert cb.stats["trades"] == 5
