"""dashboard: the dashboard's own cost while collect runs at 10,000 msg/s.

The local exchange (Kraken v2, three symbols, in a thread of the bench process) feeds one
`collect --redis --shm --metrics-port -o DIR` per run. Runs come in pairs, one without the
dashboard and one with `alphapulse dashboard` reading all of collect's outputs and a
WebSocket client taking every push (as the page does); the order alternates between pairs.
Per run with the dashboard: its CPU (share of one core, from its CPU time over the run)
and peak RSS, and the pushes a second the client received. Per pair: collect's
receive-to-written p99 with the dashboard, against the same without it in the same pair.

Targets (issue #18): CPU <= 10 % of a core, RSS <= 150 MB, >= 10 updates/s, and collect's
p99 at most 10 % higher with the dashboard.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from alphapulse_cli.bench.core import BenchContext, Result, require, scratch_dir
from alphapulse_cli.errors import AlphapulseError

SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD"]
RATE = 10_000


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _count_pushes(url: str, stop: threading.Event, out: list[int]) -> None:
    from websockets.asyncio.client import connect

    async def run() -> None:
        async with connect(url, max_size=None) as ws:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(ws.recv(), 0.5)
                except asyncio.TimeoutError:
                    continue
                out[0] += 1

    asyncio.run(run())


def _start_dashboard(d: Path, args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    log = d / "dashboard.err"
    cmd = [sys.executable, "-m", "alphapulse_cli", "dashboard", "--port", "0", *args]
    with open(log, "wb") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = re.search(r"dashboard: http://([^/\s]+)/", log.read_text())
        if m:
            return p, m.group(1)
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    raise AlphapulseError(f"bench dashboard: dashboard did not start: {log.read_text()[-300:]}")


def run_once(
    ctx: BenchContext, ex_url: str, redis_url: str, seconds: float, with_dash: bool, tag: str
) -> dict[str, Any]:
    psutil = require("psutil")

    with scratch_dir(ctx, f"dashboard-{tag}") as d:
        ring = f"bench-dashboard-{tag}-{time.monotonic_ns()}"
        port = _free_port()
        cmd = [sys.executable, "-m", "alphapulse_cli", "collect", "kraken", *SYMBOLS]
        cmd += ["--url", ex_url, "-o", str(d / "data"), "--duration", str(seconds)]
        cmd += ["--redis", redis_url, "--shm", ring, "--metrics-port", str(port)]
        collect = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        out: dict[str, Any] = {}
        dash = None
        try:
            if with_dash:
                dash, host = _start_dashboard(
                    d,
                    [
                        *("--data", str(d / "data"), "--redis", redis_url, "--shm", ring),
                        *("--collector", f"http://127.0.0.1:{port}"),
                    ],
                )
                proc = psutil.Process(dash.pid)
                stop = threading.Event()
                pushes = [0]
                client = threading.Thread(
                    target=_count_pushes, args=(f"ws://{host}/ws", stop, pushes), daemon=True
                )
                client.start()
                # Measure the steady state: skip the first second (start-up, ring scan).
                time.sleep(1.0)
                t0, c0, p0 = time.monotonic(), sum(proc.cpu_times()[:2]), pushes[0]
                rss = 0
                while collect.poll() is None:
                    rss = max(rss, proc.memory_info().rss)
                    time.sleep(0.25)
                t1, c1, p1 = time.monotonic(), sum(proc.cpu_times()[:2]), pushes[0]
                stop.set()
                client.join(5)
                out.update(
                    cpu_percent=100 * (c1 - c0) / (t1 - t0),
                    rss_mb=rss / 1e6,
                    updates_per_s=(p1 - p0) / (t1 - t0),
                )
            _, err = collect.communicate(timeout=seconds + 60)
        finally:
            if collect.poll() is None:
                collect.kill()
                collect.wait()
            if dash is not None:
                dash.terminate()
                dash.wait(10)
            from alphapulse_cli.shm.layout import ring_path

            ring_path(ring).unlink(missing_ok=True)
    stopped = [x for x in err.splitlines() if b'"event": "stopped"' in x]
    if collect.returncode != 0 or not stopped:
        raise AlphapulseError(
            f"bench dashboard: collect failed ({collect.returncode}): {err[-300:]!r}"
        )
    summary = json.loads(stopped[-1])
    out["p99_ms"] = float(summary["latency"]["p99_ms"])
    out["frames"] = int(summary.get("frames_in", 0) or 0)
    return out


def suite(ctx: BenchContext) -> list[Result]:
    """Dashboard CPU, RSS and updates/s with collect at 10k msg/s; collect's p99 with/without."""
    from alphapulse_cli.bench.suites.redis import _server
    from alphapulse_cli.exchange.thread import ExchangeThread

    seconds = 5.0 if ctx.quick else 15.0
    pairs = 1 if ctx.quick else max(1, min(ctx.repeats, 3))
    cpu, rss, ups, p99_on, p99_off = [], [], [], [], []
    with (
        scratch_dir(ctx, "dashboard-redis") as rd,
        _server(rd) as rport,
        ExchangeThread("kraken", rate=RATE) as ex,
    ):
        redis_url = f"redis://127.0.0.1:{rport}"
        for i in range(pairs):
            order = [False, True] if i % 2 == 0 else [True, False]
            for with_dash in order:
                r = run_once(ctx, ex.url, redis_url, seconds, with_dash, f"{i}{int(with_dash)}")
                if with_dash:
                    cpu.append(r["cpu_percent"])
                    rss.append(r["rss_mb"])
                    ups.append(r["updates_per_s"])
                    p99_on.append(r["p99_ms"])
                else:
                    p99_off.append(r["p99_ms"])
                ctx.log(f"dashboard pair {i} with={with_dash}: {r}")
    note = f"collect kraken {len(SYMBOLS)} symbols @{RATE}/s, --redis --shm, {seconds:g} s runs"
    return [
        Result("dashboard CPU", "% of a core", cpu, higher_is_better=False, note=note),
        Result("dashboard peak RSS", "MB", rss, higher_is_better=False, note=note),
        Result("dashboard pushes received by a client", "updates/s", ups, note=note),
        Result(
            "collect p99 receive-to-written, dashboard running",
            "ms",
            p99_on,
            higher_is_better=False,
            reference=Result("the same without the dashboard", "ms", p99_off, False),
            note=note + "; pairs alternate which run goes first",
        ),
    ]
