"""`collect --redis` against the local exchange and a real redis-server: it writes what
`replay --redis` of its own log writes, and a Redis killed and restarted in the middle of
the capture loses nothing but what it counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alphapulse_cli.exchange.thread import ExchangeThread
from tests.helpers.cli import run_cli
from tests.helpers.redis_streams import (
    RedisServer,
    check_restart,
    contents,
    run_through_restart,
    trades_of,
)

pytestmark = pytest.mark.slow  # a redis-server, collect as a process


def collect_cmd(url: str, out: Path, redis_url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "alphapulse_cli",
        "collect",
        "coinbase",
        "BTC-USD",
        "ETH-USD",
        "--url",
        url,
        "-o",
        str(out),
        "--redis",
        redis_url,
        *extra,
    ]


def stopped(stderr: bytes) -> dict:
    lines = [json.loads(x) for x in stderr.splitlines() if x.startswith(b"{")]
    return next(x for x in lines if x.get("event") == "stopped")


def test_replay_redis_of_a_collected_log_writes_what_collect_wrote(redis_server, rds, tmp_path):
    with ExchangeThread("coinbase", rate=3000, trade_share=0.4, seed=5) as ex:
        cmd = collect_cmd(ex.url, tmp_path, f"{redis_server.url}/1", "--redis-books")
        p = subprocess.run([*cmd, "--max-messages", "1500"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    red = stopped(p.stderr)["sinks"]["redis"]
    assert red["offered"] == red["published"] > 1000 and red["dropped"] == 0
    out = run_cli("replay", str(tmp_path), "--redis", f"{redis_server.url}/2", "--redis-books")
    assert out.returncode == 0, out.stderr
    collected, replayed = contents(redis_server, 1), contents(redis_server, 2)
    assert sorted(collected) == [
        "book:coinbase:BTC-USD",
        "book:coinbase:ETH-USD",
        "trades:coinbase:BTC-USD",
        "trades:coinbase:ETH-USD",
    ]
    assert collected == replayed
    assert sum(len(v) for v in collected.values()) == red["published"]


def test_redis_killed_and_restarted_during_collect(tmp_path):
    server = RedisServer(tmp_path / "r", durable=True)
    (tmp_path / "r").mkdir()
    server.start()
    try:
        with ExchangeThread("coinbase", rate=2500, trade_share=0.5, seed=9) as ex:
            cmd = collect_cmd(ex.url, tmp_path / "log", server.url, "--duration", "4")
            code, err = run_through_restart(cmd, server, 0.8)
        assert code == 0, err
        summary = stopped(err)
        red = summary["sinks"]["redis"]
        assert red["offered"] == summary["trades"]
        check_restart(contents(server), trades_of(tmp_path / "log"), red)
    finally:
        server.stop()


@pytest.mark.parametrize("target", ["down", "not redis"])
def test_a_redis_that_is_down_or_not_redis_leaves_the_capture_and_its_counters(tmp_path, target):
    """Redis down (connection refused) or the URL reaching an HTTP server: the capture is
    complete, the outage is counted in the summary (offered = published + dropped), and
    SIGTERM still ends collect within 2 s (the sink's close is bounded)."""
    import signal
    import time

    from tests.helpers.collect import inbound, records
    from tests.helpers.redis_streams import NotRedis, free_port

    with NotRedis() as http, ExchangeThread("coinbase", rate=2000, trade_share=0.5) as ex:
        url = http.url if target == "not redis" else f"redis://127.0.0.1:{free_port()}"
        p = subprocess.Popen(
            collect_cmd(ex.url, tmp_path, url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            assert p.stderr is not None
            while b'"connect"' not in p.stderr.readline():
                pass
            time.sleep(1)  # a second of trades queued for a Redis that never answers
            p.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            err = p.stderr.read()
            p.wait(10)
            took = time.monotonic() - t0
        finally:
            p.kill()
    assert p.returncode == 0, err.decode()
    assert took < 2.5, took  # 2 s, and the interpreter's exit
    summary = stopped(err)
    red = summary["sinks"]["redis"]
    assert "error" not in red, red
    assert red["offered"] == summary["trades"] > 0
    assert red["offered"] == red["published"] + red["dropped"] and red["published"] == 0
    assert red["errors"] > 0 and "hunter2pw" not in err.decode()
    assert b"Traceback" not in err
    assert len(inbound(records(tmp_path))) == summary["frames_in"]
