"""The publisher and `replay --redis` against a real redis-server, read back with redis-py."""

from __future__ import annotations

import json
import sys
import time

import pytest

from alphapulse_cli.redis_streams.sink import live_sink
from alphapulse_cli.redis_streams.sync import SyncRedisPublisher
from tests.helpers.cli import run_cli
from tests.helpers.redis_streams import (
    NotRedis,
    RedisServer,
    check_restart,
    contents,
    entries,
    free_port,
    run_through_restart,
    trade,
    trade_entry,
    trades_of,
)
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow  # a redis-server, the CLI as a process


def _publish(url: str, events: list[dict], **options) -> dict:
    pub = SyncRedisPublisher(url, block=True, **options)
    for ev in events:
        pub.publish(ev)
    return pub.close()


def test_trade_entries_have_the_documented_fields(redis_server, rds):
    events = [trade(i) for i in range(1, 2001)]
    events.append(trade(3000, ts_exchange=None, trade_id=None, price="0.00000100", size="12"))
    events.append(trade(3001, exchange="kraken", symbol="ETH-USD", trade_id="T-9"))
    events.append({**trade(3002), "type": "book_update"})  # not a trade: ignored
    stats = _publish(redis_server.url, events, maxlen=None)
    assert stats["published"] == stats["offered"] == 2002
    assert stats["dropped"] == 0
    got = entries(rds, "trades:coinbase:BTC-USD")
    assert [f for _id, f in got] == [trade_entry(ev) for ev in events[:2001]]
    assert list(got[0][1]) == ["timestamp", "price", "volume", "side", "trade_id", "received"]
    # No exchange time: the timestamp is the receive time; exact decimal strings.
    last = got[-1][1]
    assert last["timestamp"] == last["received"] == str(events[2000]["ts_local"] // 1000)
    assert got[-1][1]["price"] == "0.00000100"
    assert got[-1][1]["trade_id"] == ""
    assert [f for _id, f in entries(rds, "trades:kraken:ETH-USD")] == [trade_entry(events[2001])]
    assert sorted(rds.keys("*")) == ["trades:coinbase:BTC-USD", "trades:kraken:ETH-USD"]


def test_non_ascii_values_are_encoded_exactly(redis_server, rds):
    ev = trade(1, trade_id="идентификатор", symbol="BTC-€")
    _publish(redis_server.url, [ev, trade(2, symbol="BTC-€")])
    got = entries(rds, "trades:coinbase:BTC-€")
    assert [f["trade_id"] for _i, f in got] == ["идентификатор", "2"]


def test_streams_are_trimmed_with_maxlen_approx(redis_server, rds):
    _publish(redis_server.url, [trade(i) for i in range(20_000)], maxlen=1000, batch=500)
    n = rds.xlen("trades:coinbase:BTC-USD")
    # MAXLEN ~ trims whole macro nodes: at least 1000 are kept, never much more.
    assert 1000 <= n < 1000 + 500
    last = entries(rds, "trades:coinbase:BTC-USD")[-1][1]
    assert last["trade_id"] == "19999"


def test_no_trimming_with_maxlen_zero(redis_server, rds, tmp_path):
    _publish(redis_server.url, [trade(i) for i in range(3000)], maxlen=None)
    assert rds.xlen("trades:coinbase:BTC-USD") == 3000


def test_replay_redis_writes_the_trades_of_the_log(redis_server, rds, recorded_log):
    out = run_cli("replay", str(recorded_log), "--redis", redis_server.url, "--stats")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b""
    expected = trades_of(recorded_log)
    n_trades = sum(len(v) for v in expected.values())
    assert len(expected) == 4
    assert sorted(rds.keys("*")) == sorted(expected)
    for key, want in expected.items():
        assert [f for _id, f in entries(rds, key)] == want
    summary = json.loads(out.stderr.splitlines()[-1])
    red = summary["sinks"]["redis"]
    assert red["published"] == red["offered"] == n_trades
    assert red["dropped"] == 0
    assert red["url"] == redis_server.url
    # Replaying again appends the same entries again (the ids differ, the values do not).
    again = run_cli("replay", str(recorded_log), "--redis", redis_server.url, "--redis-maxlen", "0")
    assert again.returncode == 0, again.stderr
    for key, want in expected.items():
        assert [f for _id, f in entries(rds, key)] == want + want


def test_replay_redis_books_publishes_the_top_of_each_changed_book(redis_server, rds, recorded_log):
    out = run_cli("replay", str(recorded_log), "--redis", redis_server.url, "--redis-books")
    assert out.returncode == 0, out.stderr
    books = run_cli("replay", str(recorded_log), "--format", "books", "--depth", "10")
    expected: dict[str, list[dict]] = {}
    for line in books.stdout.splitlines():
        b = json.loads(line)
        expected.setdefault(f"book:{b['exchange']}:{b['symbol']}", []).append(b)
    assert len(expected) == 4
    for key, want in expected.items():
        got = [f for _id, f in entries(rds, key)]
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert json.loads(g["bids"]) == w["bids"]
            assert json.loads(g["asks"]) == w["asks"]
            assert g["bid_price"] == w["bids"][0][0] and g["ask_size"] == w["asks"][0][1]
            assert g["received"] == str(w["ts_local"] // 1000)
    assert len(rds.keys("trades:*")) == 4


def test_replay_redis_unreachable_is_one_line_exit_4(sample_log):
    port = free_port()
    out = run_cli("replay", str(sample_log), "--redis", f"redis://user:hunter2pw@127.0.0.1:{port}")
    assert out.returncode == 4
    err = out.stderr.decode()
    assert len(err.strip().splitlines()) == 1
    assert "connection refused" in err and "hunter2pw" not in err
    assert "redis://user:***@127.0.0.1" in err


def test_a_url_that_reaches_something_else_is_one_line_exit_4(sample_log):
    with NotRedis() as http:
        for args in (
            ("replay", str(sample_log), "--redis", http.url),
            ("tail-stream", "trades:*", "--redis", http.url),
        ):
            out = run_cli(*args, timeout=30)
            err = out.stderr.decode()
            assert out.returncode == 4, err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
            assert "does not speak Redis" in err and "hunter2pw" not in err and "***" in err


def test_replay_redis_books_needs_redis(sample_log):
    out = run_cli("replay", str(sample_log), "--redis-books")
    assert out.returncode == 2


def test_password_urls_work_and_are_never_printed(tmp_path, recorded_log):
    server = RedisServer(tmp_path, extra=("--requirepass", "s3cret-pw")).start()
    try:
        good = f"redis://:s3cret-pw@127.0.0.1:{server.port}/2"
        out = run_cli("replay", str(recorded_log), "--redis", good, "--stats")
        assert out.returncode == 0, out.stderr
        assert b"s3cret-pw" not in out.stderr and b"s3cret-pw" not in out.stdout
        r = server.client(password="s3cret-pw")
        r.select(2)
        assert len(r.keys("trades:*")) == 4
        r.close()
        bad = f"redis://default:wrong-pw-123@127.0.0.1:{server.port}"
        for args in (
            ("replay", str(recorded_log), "--redis", bad),
            ("tail-stream", "trades:*", "--redis", bad),
        ):
            out = run_cli(*args)
            err = out.stderr.decode()
            assert out.returncode == 4, err
            assert len(err.strip().splitlines()) == 1
            assert "authentication failed" in err and "wrong-pw-123" not in err
        # No --redis: $ALPHAPULSE_REDIS_URL is used.
        env_url = {"ALPHAPULSE_REDIS_URL": good}
        out = run_cli("tail-stream", "trades:*", "--from", "0", "--count", "3", env=env_url)
        assert out.returncode == 0, out.stderr
        assert len(out.stdout.splitlines()) == 3
        assert b"s3cret-pw" not in out.stderr
    finally:
        server.stop()


def test_redis_killed_and_restarted_during_replay_redis(tmp_path, recorded_log):
    server = RedisServer(tmp_path, durable=True).start()
    try:
        # At half the recorded pace the replay lasts about two seconds.
        cmd = [sys.executable, "-m", "alphapulse_cli", "replay", str(recorded_log)]
        cmd += ["--speed", "0.5", "--redis", server.url, "--stats"]
        code, err = run_through_restart(cmd, server, 0.4)
        assert code == 0, err
        red = json.loads(err.splitlines()[-1])["sinks"]["redis"]
        check_restart(contents(server), trades_of(recorded_log), red)
    finally:
        server.stop()


def test_redis_killed_and_restarted_mid_run_resumes_and_counts(tmp_path):
    server = RedisServer(tmp_path, durable=True).start()
    try:
        pub = SyncRedisPublisher(server.url, block=False, backoff_max=0.2, queue_limit=100_000)
        for i in range(20_000):
            pub.publish(trade(i))
        assert pub.flush(10)
        server.kill()
        for i in range(20_000, 30_000):
            pub.publish(trade(i))
        wait_until(lambda: pub.stats["connected"] is False)
        server.start()
        for i in range(30_000, 40_000):
            pub.publish(trade(i))
        assert pub.flush(15)
        stats = pub.close()
        assert stats["reconnects"] >= 1 and stats["errors"] >= 1
        assert stats["offered"] == 40_000 == stats["published"] + stats["dropped"]
        r = server.client()
        got = [int(f["trade_id"]) for _i, f in entries(r, "trades:coinbase:BTC-USD")]
        r.close()
        # Acknowledged entries survive (AOF, fsync always); lost ones were counted; at most
        # once: no trade twice, and the order is kept.
        assert got == sorted(set(got))
        assert stats["published"] <= len(got) <= stats["published"] + stats["dropped_lost"]
        assert set(range(30_000, 40_000)) <= set(got)
        assert stats["dropped_overflow"] == stats["dropped_rejected"] == 0
    finally:
        server.stop()


def test_refused_writes_are_counted_and_publishing_resumes(redis_server, rds):
    pub = SyncRedisPublisher(redis_server.url, block=False, backoff_max=0.1)
    try:
        pub.publish(trade(0))
        assert pub.flush(5)
        rds.config_set("maxmemory", "1")
        for i in range(1, 101):
            pub.publish(trade(i))
        wait_until(lambda: pub.stats["dropped_rejected"] >= 1)
        rds.config_set("maxmemory", "0")
        wait_until(lambda: pub.stats["queue"] == 0 and pub.stats["in_flight"] == 0)
        for i in range(101, 111):
            pub.publish(trade(i))
        assert pub.flush(5)
    finally:
        rds.config_set("maxmemory", "0")
        stats = pub.close()
    assert "OOM" in stats["last_error"]
    assert stats["offered"] == 111 == stats["published"] + stats["dropped_rejected"]
    assert rds.xlen("trades:coinbase:BTC-USD") == stats["published"] >= 11


def test_live_sink_never_waits_and_resumes_when_redis_appears(tmp_path):
    from alphapulse_cli.adapters import make_adapter

    server = RedisServer(tmp_path)  # not started yet: Redis is down
    sink = live_sink(server.url, queue_limit=500, backoff_max=0.1)
    adapter = make_adapter("coinbase")
    t0 = time.monotonic()
    for i in range(2000):
        sink.handle(adapter, i, [trade(i)])
    assert time.monotonic() - t0 < 2.0  # nothing waited for the dead Redis
    s = sink.stats
    assert s["offered"] == 2000 and s["dropped_overflow"] == 1500 and s["queue"] == 500
    wait_until(lambda: sink.stats["errors"] >= 1)
    assert sink.stats["connected"] is False
    server.start()
    try:
        wait_until(lambda: sink.stats["published"] == 500)
        stats = sink.close()
        r = server.client()
        # Drop-oldest: the most recent 500 trades made it.
        ids = [int(f["trade_id"]) for _i, f in entries(r, "trades:coinbase:BTC-USD")]
        r.close()
        assert ids == list(range(1500, 2000))
        assert stats["offered"] == stats["published"] + stats["dropped"]
    finally:
        server.stop()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1", "unix:///nonexistent/redis.sock"])
def test_tail_stream_unreachable_is_one_line_exit_4(url):
    out = run_cli("tail-stream", "trades:*", "--redis", url)
    assert out.returncode == 4
    assert len(out.stderr.decode().strip().splitlines()) == 1
