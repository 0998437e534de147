"""End to end: the local exchange -> `collect --redis --shm --metrics-port -o DIR` ->
`dashboard`, read through /api/state and through a real headless chromium. After the
collector is killed, its health row turns red within 5 s, and /api/state holds exactly
what the collector published: the newest trades of each Redis stream, trade for trade, and
the ring's newest book per symbol, book for book."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alphapulse_cli.dashboard.tape import KEEP
from alphapulse_cli.shm.reader import ShmBookReader
from tests.helpers.browser import CHROMIUM, Browser
from tests.helpers.dashboard import DashboardProc
from tests.helpers.redis_streams import RedisServer, free_port
from tests.helpers.shm import new_ring_name, remove_ring_files
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow

SYMBOLS = ("BTC-USD", "ETH-USD")
KNOWN = {  # a trade the browser test adds itself; its future timestamp keeps it on top
    "timestamp": str((time.time_ns() // 1000) + 3_600_000_000),
    "price": "4242.42",
    "volume": "0.4242",
    "side": "buy",
    "trade_id": "dashboard-known-4242",
    "received": str(time.time_ns() // 1000),
}


class Capture:
    def __init__(self, root: Path) -> None:
        (root / "redis").mkdir()
        self.redis = RedisServer(root / "redis").start()
        self.ring = new_ring_name()
        self.data = root / "data"
        self.metrics_port = free_port()
        self.collect_log = root / "collect.err"
        with open(self.collect_log, "wb") as err:
            self.collect = subprocess.Popen(
                [
                    *(sys.executable, "-m", "alphapulse_cli", "collect", "coinbase", *SYMBOLS),
                    *("--simulate", "--rate", "300", "-o", str(self.data), "-q"),
                    *("--redis", self.redis.url, "--shm", self.ring),
                    *("--metrics-port", str(self.metrics_port)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.collector_url = f"http://127.0.0.1:{self.metrics_port}"
        self.dash = DashboardProc(
            root / "dashboard.err",
            "--data", str(self.data), "--redis", self.redis.url, "--shm", self.ring,
            "--collector", self.collector_url,
        )  # fmt: skip

    def close(self) -> None:
        if self.collect.poll() is None:
            self.collect.kill()
        self.collect.wait(10)
        self.dash.stop()
        self.redis.stop()
        remove_ring_files(self.ring)


@pytest.fixture(scope="module")
def cap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    c = Capture(tmp_path_factory.mktemp("dashboard"))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (scripts/test.sh installs it)")
    b = Browser()
    try:
        yield b
    finally:
        b.close()


def _live(state: dict[str, Any]) -> bool:
    [row] = state["collectors"]
    return (
        row["status"] == "connected"
        and row["msgs_per_s"] > 0
        and row["venue"] == "coinbase"
        and len(state["trades"]) > 5
        and {f"coinbase:{s}" for s in SYMBOLS} <= set(state["books"])
        and any(f["venue"] == "coinbase" and f["kind"] == "in" for f in state["firehose"])
        and bool(state["system"].get("collectors"))
    )


def test_every_source_is_live(cap: Capture) -> None:
    state = wait_until(lambda: (s := cap.dash.state()) and _live(s) and s, timeout=30, interval=0.2)
    assert state["status"] == {
        "tape": "ok",
        "depth": "ok",
        "depth_source": "ring",
        "firehose": "ok",
    }
    assert state["system"]["collectors"][0]["pid"] == cap.collect.pid
    assert state["firehose_rates"]["coinbase"]["seen_per_s"] > 0
    book = state["books"]["coinbase:BTC-USD"]
    assert book["bids"][0][0] < book["asks"][0][0]


def test_page_shows_a_known_trade_and_draws_the_depth_chart(
    cap: Capture, browser: Browser, tmp_path: Path
) -> None:
    cap.redis.client().xadd("trades:coinbase:DASH-USD", KNOWN)
    browser.navigate(cap.dash.url)
    found = "document.querySelector('[data-trade-id=\"dashboard-known-4242\"]') !== null"
    wait_until(lambda: browser.evaluate(found), timeout=15, interval=0.1, what="known trade shown")
    drawn = """(() => {
        const c = document.getElementById('depth');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n;
    })()"""
    assert wait_until(lambda: browser.evaluate(drawn) > 5000, timeout=10, interval=0.1)
    firehose = "document.getElementById('firehose').textContent.includes(' coinbase in {')"
    assert wait_until(lambda: browser.evaluate(firehose), timeout=5, interval=0.1)
    rate = wait_until(lambda: browser.evaluate("window.dash.perSecond"), timeout=5, interval=0.1)
    assert rate >= 10
    shot = browser.screenshot(tmp_path / "dashboard.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    if os.environ.get("ALPHAPULSE_DASHBOARD_SCREENSHOT"):
        shutil.copy(shot, os.environ["ALPHAPULSE_DASHBOARD_SCREENSHOT"])


def _tape_matches_redis(cap: Capture, state: dict[str, Any]) -> bool:
    r = cap.redis.client()
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for t in state["trades"]:
        by_stream.setdefault(f"trades:{t['exchange']}:{t['symbol']}", []).append(t)
    total = 0
    for key in r.scan_iter("trades:*"):
        entries = [f for _id, f in r.xrange(key)]
        total += len(entries)
        shown = by_stream.get(key, [])
        want = [
            {
                "exchange": key.split(":")[1],
                "symbol": key.split(":")[2],
                "price": f["price"],
                "size": f["volume"],
                "side": f["side"],
                "trade_id": f["trade_id"] or None,
                "ts": int(f["timestamp"]) * 1000,
            }
            for f in entries[len(entries) - len(shown) :]
        ]
        if shown != want:
            return False
    return len(state["trades"]) == min(KEEP, total)


def _books_match_ring(cap: Capture, state: dict[str, Any]) -> bool:
    with ShmBookReader.open(cap.ring) as reader:
        want = {
            f"{e.exchange}:{e.symbol}": {
                "ts": e.ts_ns,
                "bids": [list(level) for level in e.bids()],
                "asks": [list(level) for level in e.asks()],
            }
            for e in reader.latest()
        }
    return state["books"] == want and len(want) == len(SYMBOLS)


def test_killed_collector_turns_red_and_state_is_what_it_published(
    cap: Capture, browser: Browser
) -> None:
    cap.collect.send_signal(signal.SIGKILL)
    cap.collect.wait(10)
    killed = time.monotonic()
    wait_until(
        lambda: cap.dash.state()["collectors"][0]["status"] == "unreachable",
        timeout=5,
        interval=0.1,
        what="health row unreachable",
    )
    red = "document.querySelector('#health tbody tr').className === 'unreachable'"
    wait_until(lambda: browser.evaluate(red), timeout=5, interval=0.1, what="row red in the page")
    assert time.monotonic() - killed < 5
    # Nothing moves any more: what the dashboard shows must be exactly what was published.
    wait_until(lambda: _tape_matches_redis(cap, cap.dash.state()), timeout=5, interval=0.2)
    wait_until(lambda: _books_match_ring(cap, cap.dash.state()), timeout=5, interval=0.2)
    stream_trades = [t for t in cap.dash.state()["trades"] if t["symbol"] in SYMBOLS]
    assert stream_trades and all(t["trade_id"] for t in stream_trades)
