"""collect --redis and --shm: the same sinks as replay, fed live; and a dead Redis never
stops the capture."""

from __future__ import annotations

import json
import uuid

import pytest

from alphapulse_cli.exchange.thread import ExchangeThread
from tests.helpers.cli import run_cli
from tests.helpers.collect import inbound, records, run_collect, stopped
from tests.helpers.redis_streams import RedisServer, free_port

pytestmark = pytest.mark.slow  # every test runs collect, a local exchange and a redis-server


@pytest.fixture
def ring_name():
    from alphapulse_cli.shm.layout import ring_dir

    name = f"test-collect-{uuid.uuid4().hex[:10]}"
    yield name
    (ring_dir() / name).unlink(missing_ok=True)


def test_redis_and_shm_get_what_the_log_replays_to(tmp_path, ring_name):
    import redis

    server = RedisServer(tmp_path).start()
    try:
        with ExchangeThread("coinbase", rate=3000, trade_share=0.3) as ex:
            r = run_collect(
                "coinbase",
                "BTC-USD",
                "--url",
                ex.url,
                "-o",
                str(tmp_path / "log"),
                "--redis",
                server.url,
                "--shm",
                ring_name,
                "-n",
                "600",
            )
        assert r.returncode == 0, r.stderr.decode()
        summary = stopped(r.stderr)
        assert summary["sink_errors"] == {}
        assert set(summary["sinks"]) == {"redis", "shm"}
        replayed = run_cli("replay", str(tmp_path / "log"), "--format", "events")
        trades = [json.loads(x) for x in replayed.stdout.splitlines() if b'"type":"trade"' in x]
        assert trades
        client = redis.Redis.from_url(server.url)
        entries = client.xrange("trades:coinbase:BTC-USD")
        assert [e[1][b"trade_id"].decode() for e in entries] == [t["trade_id"] for t in trades]
        assert [e[1][b"price"].decode() for e in entries] == [t["price"] for t in trades]
    finally:
        server.stop()
    dump = run_cli("shm-dump", ring_name, "--latest")
    assert dump.returncode == 0, dump.stderr.decode()
    [book] = [json.loads(x) for x in dump.stdout.splitlines()]
    assert book["symbol"] == "BTC-USD" and book["bids"] and book["asks"]
    last = run_cli("replay", str(tmp_path / "log"), "--format", "books", "--depth", "1")
    top = json.loads(last.stdout.splitlines()[-1])
    assert float(top["bids"][0][0]) == pytest.approx(book["bids"][0][0], rel=1e-6)


def test_dead_redis_is_counted_and_capture_goes_on(tmp_path):
    with ExchangeThread("coinbase", rate=2000, trade_share=0.3) as ex:
        r = run_collect(
            "coinbase",
            "BTC-USD",
            "--url",
            ex.url,
            "-o",
            str(tmp_path),
            "--redis",
            f"redis://127.0.0.1:{free_port()}",
            "-n",
            "400",
        )
    assert r.returncode == 0, r.stderr.decode()
    assert len(inbound(records(tmp_path))) == 400
    summary = stopped(r.stderr)
    # Nothing reached Redis: the sink says so (or, stuck flushing, was cut off at close).
    redis_summary = summary["sinks"]["redis"]
    assert redis_summary.get("error") or not redis_summary.get("connected"), summary
    assert summary["elapsed_s"] < 10
    # Without a terminal every stderr line is one JSON object, the publisher's outage too.
    lines = r.stderr.decode().splitlines()
    objs = [json.loads(line) for line in lines]
    assert any("connection refused" in o.get("message", "") for o in objs), lines
    # The dropped count is final, and it balances what was offered.
    assert redis_summary.get("error") or redis_summary["offered"] == (
        redis_summary["published"] + redis_summary["dropped"]
    )
