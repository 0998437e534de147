"""End to end: a capture by `collect` from the local exchange, served by `replay --serve`,
collected again with `collect --url`, is the same inbound traffic, frame for frame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alphapulse_cli.exchange.thread import ExchangeThread
from tests.helpers.cli import run_cli
from tests.helpers.collect import stopped
from tests.helpers.serve import start_server

pytestmark = pytest.mark.slow  # replay --serve and collect as processes


def _collect(venue: str, url: str, out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "alphapulse_cli", "collect", venue, "BTC-USD", "ETH-USD"]
    r = subprocess.run(
        [*cmd, "--url", url, "-o", str(out), "-q", *args],
        capture_output=True,
        timeout=90,
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return r


def _inbound(directory: Path) -> list[str]:
    r = run_cli("replay", str(directory), "--kind", "in", "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    return [json.loads(line)["msg"] for line in r.stdout.splitlines()]


def _capture(venue: str, out: Path, frames: int, v1: bool = False) -> tuple[list[str], str]:
    with ExchangeThread(venue, rate=4000, seed=21) as ex:
        url = ex.url_v1 if v1 else ex.url
        _collect(venue, url, out, "--max-messages", str(frames))
    source = _inbound(out)
    assert len(source) == frames
    return source, "" if v1 or venue == "coinbase" else "/v2"


@pytest.mark.parametrize(("venue", "frames"), [("kraken", 3000), ("coinbase", 800)])
def test_collect_records_exactly_the_frames_served(tmp_path: Path, venue: str, frames: int) -> None:
    source, path = _capture(venue, tmp_path / "src", frames)
    srv = start_server(str(tmp_path / "src"))
    try:
        _collect(venue, srv.url + path, tmp_path / "dst", "--max-messages", str(frames))
        rc, err = srv.wait()
    finally:
        srv.stop()
    assert rc == 0, err
    assert f"{frames} {venue} frames" in err
    assert _inbound(tmp_path / "dst") == source


def test_a_served_log_ends_the_capture(tmp_path: Path) -> None:
    """After the last frame the server closes with 'end of log' (a code no venue sends):
    collect ends there with exit 0 and its summary, without reconnecting, and with -q
    prints nothing at all. The copy holds the served frames once (Kraken v1 here)."""
    source, _ = _capture("kraken", tmp_path / "src", 1500, v1=True)
    for quiet in (True, False):
        dst = tmp_path / f"dst-{quiet}"
        srv = start_server(str(tmp_path / "src"), "--speed", "max")
        try:
            cmd = [sys.executable, "-m", "alphapulse_cli", "collect", "kraken", "BTC-USD"]
            r = subprocess.run(
                [*cmd, "--url", srv.url, "-o", str(dst), "--protocol", "v1"]
                + (["-q"] if quiet else []),
                capture_output=True,
                timeout=60,
            )
            rc, err = srv.wait()
        finally:
            srv.stop()
        assert rc == 0, err
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        assert _inbound(dst) == source
        if quiet:
            assert r.stderr == b""
        else:
            summary = stopped(r.stderr)
            assert summary["stop_reason"] == "end of log" and summary["connects"] == 1
