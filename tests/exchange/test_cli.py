"""`alphapulse local-exchange` as a user runs it, and ExchangeThread for synchronous callers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from alphapulse_cli.exchange import ExchangeThread, Faults

pytestmark = pytest.mark.slow  # the local-exchange CLI as a process

LISTENING = re.compile(r"^listening on (ws://\S+) \((\S+)\)$")


def read_all(ws) -> list:
    frames = []
    try:
        while True:
            frames.append(ws.recv(timeout=10))
    except ConnectionClosed:
        return frames


def start_cli(*args: str) -> tuple[subprocess.Popen, dict[str, str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphapulse_cli", "local-exchange", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    urls: dict[str, str] = {}
    assert proc.stderr is not None
    while len(urls) < (2 if args[0] == "kraken" else 1):
        line = proc.stderr.readline()
        assert line, f"exited early: {proc.wait()} {proc.stderr.read()}"
        m = LISTENING.match(line.strip())
        if m:
            urls[m.group(2)] = m.group(1)
    return proc, urls


def test_cli_serves_drops_and_reports_exact_counts(tmp_path: Path):
    stats = tmp_path / "sent.json"
    proc, urls = start_cli(
        "kraken", "--rate", "2000", "--seed", "3", "--drop-after", "300", "--stats-file", str(stats)
    )
    try:
        assert urls["kraken-v2"].endswith("/v2") and urls["kraken-v1"].count("/") == 2
        with connect(urls["kraken-v1"]) as ws:
            ws.send(
                json.dumps(
                    {
                        "event": "subscribe",
                        "pair": ["XBT/USD", "ETH/USD"],
                        "subscription": {"name": "book", "depth": 10},
                    }
                )
            )
            frames = read_all(ws)
        assert len(frames) == 300
        assert json.loads(frames[0])["event"] == "systemStatus"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == ""
    assert "conn 1 kraken-v1 closed: fault: connection dropped; 300 frames" in err
    report = json.loads(stats.read_text())
    [conn] = report["connections"]
    assert conn["frames_sent"] == 300 and conn["dropped"] and conn["dialect"] == "kraken-v1"
    assert conn["bytes_sent"] == sum(len(f.encode()) for f in frames)
    assert conn["by_type"]["book_snapshot"] == 2


def test_cli_usage_errors():
    for args in (["binance"], ["coinbase", "--corrupt-checksum", "3"], ["kraken", "--skip", "0"]):
        r = subprocess.run(
            [sys.executable, "-m", "alphapulse_cli", "local-exchange", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.strip() and "Traceback" not in r.stderr


def test_exchange_thread_for_synchronous_callers():
    with ExchangeThread("coinbase", rate=1000, faults=Faults(drop_after=120)) as ex:
        with connect(ex.url) as ws:
            ws.send(
                json.dumps(
                    {
                        "type": "subscribe",
                        "product_ids": ["BTC-USD"],
                        "channels": ["level2_batch", "matches", "heartbeat"],
                    }
                )
            )
            frames = read_all(ws)
        report = ex.stats(wait_closed=1)
    [conn] = report["connections"]
    assert len(frames) == conn["frames_sent"] == 120
    assert conn["by_type"]["subscriptions"] == 1
    assert json.loads(frames[0])["type"] == "subscriptions"
