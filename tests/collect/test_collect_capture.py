"""collect against the local exchange: every frame the exchange sent is in the log, in
order, with the session events around it; the log replays into the events collect saw."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alphapulse_cli.exchange.thread import ExchangeThread
from tests.helpers.collect import (
    inbound,
    log_lines,
    outbound,
    records,
    run_collect,
    sent_frames,
    sessions,
    stopped,
)
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow  # every test runs collect against a local WebSocket exchange


@pytest.mark.parametrize(
    ("venue", "path", "symbols"),
    [
        ("coinbase", "url", ["BTC-USD", "ETH-USD"]),
        ("kraken", "url", ["BTC-USD", "ETH-USD"]),
        ("kraken", "url_v1", ["BTC/USD"]),
    ],
)
def test_every_frame_sent_is_recorded(tmp_path, venue, path, symbols):
    with ExchangeThread(venue, rate=3000) as ex:
        url = getattr(ex, path)
        r = run_collect(venue, *symbols, "--url", url, "-o", str(tmp_path), "--duration", "2")
        stats = ex.stats(wait_closed=1)
    assert r.returncode == 0, r.stderr.decode()
    recs = records(tmp_path)
    files = list(tmp_path.rglob("*.wslog"))
    assert files and all(f.parent.name == venue for f in files)
    assert len(inbound(recs)) == sent_frames(stats) > 300
    ev = sessions(recs)
    assert ev[0] == {"event": "connect", "url": url}
    assert ev[-2] == {"event": "disconnect", "reason": "duration reached"}
    assert ev[-1] == {"event": "end"}
    assert recs[-1][1] == "event"
    subs = outbound(recs)
    assert subs and all(
        m.get("type") == "subscribe"
        or m.get("method") == "subscribe"
        or m.get("event") == "subscribe"
        for m in subs
    )
    # The exchange saw exactly the frames we logged as sent.
    assert stats["connections"][0]["frames_received"] == len(subs)
    summary = stopped(r.stderr)
    assert summary["frames_in"] == len(inbound(recs))
    assert summary["malformed"] == 0 and summary["gaps"] == 0
    assert summary["trades"] > 0
    if venue == "kraken":
        assert summary["checksum_ok"] > 100 and summary["checksum_mismatch"] == 0
    assert summary["latency"]["p50_ms"] is not None


def test_max_messages_stops_after_exactly_n_frames(tmp_path):
    with ExchangeThread("kraken", rate=2000) as ex:
        r = run_collect("kraken", "BTC-USD", "--url", ex.url, "-o", str(tmp_path), "-n", "777")
    assert r.returncode == 0, r.stderr.decode()
    recs = records(tmp_path)
    assert len(inbound(recs)) == 777
    ev = sessions(recs)
    assert ev[-2] == {"event": "disconnect", "reason": "max-messages reached"}
    assert ev[-1] == {"event": "end"}


def test_jsonl_events_equal_the_replayed_log(tmp_path):
    from tests.helpers.cli import run_cli

    with ExchangeThread("coinbase", rate=2000) as ex:
        r = run_collect(
            "coinbase", "BTC-USD", "--url", ex.url, "-o", str(tmp_path), "--jsonl", "-n", "400"
        )
    assert r.returncode == 0, r.stderr.decode()
    live = [json.loads(x) for x in r.stdout.splitlines()]
    assert {"book_snapshot", "book_update", "connect", "disconnect"} <= {e["type"] for e in live}
    replayed = run_cli("replay", str(tmp_path), "--format", "events")
    assert replayed.returncode == 0
    assert [json.loads(x) for x in replayed.stdout.splitlines()] == live


def test_stdout_stream_pipes_into_replay(tmp_path):
    import subprocess
    import sys

    from tests.helpers.collect import collect_cmd

    with ExchangeThread("kraken", rate=2000) as ex:
        collect = subprocess.Popen(
            collect_cmd("kraken", "BTC-USD", "--url", ex.url, "-o", "-", "-n", "500"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        replay = subprocess.run(
            [sys.executable, "-m", "alphapulse_cli", "replay", "-", "--format", "jsonl"],
            stdin=collect.stdout,
            capture_output=True,
            timeout=60,
        )
        assert collect.stdout is not None
        collect.stdout.close()
        assert collect.wait(30) == 0
    assert replay.returncode == 0, replay.stderr.decode()
    lines = [json.loads(x) for x in replay.stdout.splitlines()]
    assert sum(1 for x in lines if x["kind"] == "in") == 500
    assert json.loads(lines[-1]["msg"]) == {"event": "end"}


def test_metrics_port_serves_prometheus_text(tmp_path):
    import subprocess
    import urllib.request
    import uuid

    from tests.helpers.collect import collect_cmd

    ring = f"t-metrics-{uuid.uuid4().hex[:8]}"
    with ExchangeThread("kraken", rate=1000) as ex:
        p = subprocess.Popen(
            collect_cmd(
                "kraken",
                "BTC-USD",
                "--url",
                ex.url,
                "-o",
                str(tmp_path),
                "--duration",
                "4",
                "--metrics-port",
                "0",
                "--shm",
                ring,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert p.stderr is not None
        first = json.loads(p.stderr.readline())
        assert first["event"] == "metrics"  # port 0: the chosen port is announced
        url = first["url"]
        assert url.startswith("http://127.0.0.1:")  # loopback unless --metrics-host says so
        want = 'alphapulse_collect_checksums_total{result="ok",symbol="BTC-USD",venue="kraken"}'

        def scraped() -> str:
            body = urllib.request.urlopen(url, timeout=2).read().decode()
            return body if want in body else ""

        body = wait_until(scraped, timeout=20, interval=0.2)
        p.communicate(timeout=30)
    assert p.returncode == 0
    assert want in body
    assert 'alphapulse_collect_frames_total{direction="in",venue="kraken"}' in body
    assert 'alphapulse_collect_messages_total{symbol="BTC-USD",venue="kraken"}' in body
    assert 'alphapulse_collect_receive_to_written_seconds_bucket{le="0.001",venue="kraken"}' in body
    assert 'alphapulse_collect_parse_backlog_frames{venue="kraken"}' in body
    # Sinks report their own numbers too: the ring's entries written, as they stood.
    written = re.search(
        r'alphapulse_collect_sink_stat\{sink="shm",stat="written",venue="kraken"\} (\S+)', body
    )
    assert written and float(written.group(1)) > 0, body
    Path("/dev/shm/alphapulse", ring).unlink(missing_ok=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_exits_4_after_connect_timeout(tmp_path):
    import time

    url = f"ws://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    r = run_collect("coinbase", "--url", url, "-o", str(tmp_path), "--connect-timeout", "1.5")
    took = time.monotonic() - t0
    assert r.returncode == 4
    assert b"cannot connect" in r.stderr and b"Traceback" not in r.stderr
    # Retried with the backoff for --connect-timeout, not given up at the first refusal.
    retries = [x for x in log_lines(r.stderr) if x["event"] == "connect_failed"]
    assert retries and 1.5 <= took < 15


def test_an_exchange_that_starts_after_collect_is_captured(tmp_path):
    """`local-exchange ... &` then `collect` at once: the first connect may be refused."""
    import subprocess

    from tests.helpers.collect import collect_cmd

    port = _free_port()
    url = f"ws://127.0.0.1:{port}"
    p = subprocess.Popen(
        collect_cmd("coinbase", "--url", url, "-o", str(tmp_path), "-n", "50"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert p.stderr is not None
        first = json.loads(p.stderr.readline())
        assert first["event"] == "connect_failed", first
        with ExchangeThread("coinbase", port=port, rate=2000):
            _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 0, err.decode()
    assert len(inbound(records(tmp_path))) == 50


@pytest.mark.parametrize(
    "args",
    [
        ["coinbase", "--depth", "10"],
        ["kraken", "--depth", "7"],
        ["kraken", "--protocol", "v3"],
        ["coinbase", "--channels", "level2"],
        ["coinbase", "--jsonl", "-o", "-"],
        ["nasdaq"],
        ["kraken", "BTCUSD"],
    ],
)
def test_usage_errors_exit_2(tmp_path, args):
    env = {
        "ALPHAPULSE_COINBASE_KEY": "",
        "ALPHAPULSE_COINBASE_SECRET": "",
        "ALPHAPULSE_COINBASE_PASSPHRASE": "",
    }
    r = run_collect(*args, "--url", "ws://127.0.0.1:9", env=env)
    assert r.returncode == 2, r.stderr.decode()
    assert log_lines(r.stderr) == []


@pytest.mark.parametrize("mode", ["-", "jsonl"])
def test_closed_stdout_ends_the_capture_quietly_with_a_complete_log(tmp_path, mode):
    import subprocess

    from tests.helpers.collect import collect_cmd

    args = ["-o", "-"] if mode == "-" else ["-o", str(tmp_path), "--jsonl"]
    with ExchangeThread("kraken", rate=2000) as ex:
        p = subprocess.Popen(
            collect_cmd("kraken", "BTC-USD", "--url", ex.url, *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert p.stdout is not None
        p.stdout.read(100)
        p.stdout.close()  # like `| head -c 100`
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err.decode()
    assert b"Traceback" not in err
    assert stopped(err)["stop_reason"] == "stdout closed"
    if mode == "jsonl":
        ev = sessions(records(tmp_path))
        assert ev[-2:] == [{"event": "disconnect", "reason": "stdout closed"}, {"event": "end"}]
