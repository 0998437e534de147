"""collect: the local exchange -> `alphapulse collect` (a subprocess) -> .wslog.

For each rate the local exchange (Kraken v2, three symbols, in a thread of the bench
process) feeds a collector for a fixed time; then the frames the exchange sent are
compared with the inbound records in the log (zero loss means equal), and the collector's
own summary gives the receive-to-written latency (from its histogram: at most 12.5 % high).
The collector's RSS is sampled while it runs. The highest sustained rate is the highest
rate tried that lost nothing and delivered at least 95 % of the requested messages.

The collector's own ceiling is measured apart: a recorded capture served by `replay
--serve` at full speed, so that the local exchange (Python, in this process) is not the
limit; recording runs ahead of parsing (see collect/connection.py), so both the recording
rate and the recorded-and-parsed rate are given.

The issue's targets are zero loss at 20,000 msg/s for 60 s, p99 <= 1 ms at 10,000 msg/s,
and RSS <= 150 MB; the full suite runs 20,000 msg/s for 60 s once, --quick runs 4 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from alphapulse_cli.bench.core import BenchContext, Result, require, scratch_dir

SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD"]
DELIVERED_MIN = 0.95
BACKLOG_MAX_S = 0.5


def _count_inbound(root: Path) -> int:
    from alphapulse_cli.wslog.reader import iter_records

    n = 0
    for f in sorted(root.rglob("*.wslog")):
        for _ts, tag, _p in iter_records(f):
            if tag >> 12 == 0:
                n += 1
    return n


def run_once(ctx: BenchContext, rate: float, duration: float) -> dict[str, Any]:
    """One collector run at `rate` market events/s; the figures of that run."""
    psutil = require("psutil")

    from alphapulse_cli.exchange.thread import ExchangeThread

    with scratch_dir(ctx, "collect") as d, ExchangeThread("kraken", rate=rate) as ex:
        cmd = [
            sys.executable,
            "-m",
            "alphapulse_cli",
            "collect",
            "kraken",
            *SYMBOLS,
            "--url",
            ex.url,
            "-o",
            str(d),
            "--duration",
            str(duration),
        ]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        proc = psutil.Process(p.pid)
        rss = 0
        while p.poll() is None:
            try:
                rss = max(rss, proc.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.25)
        _, err = p.communicate()
        stats = ex.stats(wait_closed=1)
        recorded = _count_inbound(d)
    summary: dict[str, Any] = {}
    for line in err.decode(errors="replace").splitlines():
        if '"event": "stopped"' in line:
            summary = json.loads(line)
    if p.returncode != 0 or not summary:
        raise RuntimeError(f"collect at {rate:.0f}/s failed ({p.returncode}): {err[-300:]!r}")
    sent = int(stats["frames_sent"])
    return {
        "rate": rate,
        "sent": sent,
        "recorded": recorded,
        "lost": sent - recorded,
        "delivered_per_s": sent / duration,
        "backlog": sum(c["backlog"] for c in stats["connections"]),
        "latency": summary["latency"],
        "parse_backlog_max": summary.get("parse_backlog_max", 0),
        "rss_mb": rss / 1e6,
    }


def sustained(run: dict[str, Any]) -> bool:
    """Zero loss, at least 95 % of the rate delivered, and no growing backlog: parsing
    never fell more than half a second of traffic behind recording."""
    return (
        run["lost"] == 0
        and run["delivered_per_s"] >= DELIVERED_MIN * run["rate"]
        and run["parse_backlog_max"] <= run["rate"] * BACKLOG_MAX_S
    )


def ceiling(ctx: BenchContext, frames: int) -> tuple[float, float]:
    """The collector's own ceiling: a recorded Kraken capture served by `replay --serve` at
    full speed (it writes faster than a `websockets` client reads), collected with
    --max-messages. Two figures: frames/s recorded (between the first and the last inbound
    record's receive stamps), and frames/s recorded and parsed (up to the disconnect
    event, which is written once the parse backlog is done)."""
    from alphapulse_cli.exchange.thread import ExchangeThread
    from alphapulse_cli.wslog.reader import iter_records

    with scratch_dir(ctx, "collect-ceiling") as d:
        src, dst = d / "src", d / "dst"
        base = [sys.executable, "-m", "alphapulse_cli"]
        with ExchangeThread("kraken", rate=20_000) as ex:
            rec = ["collect", "kraken", *SYMBOLS, "--url", ex.url, "-o", str(src)]
            subprocess.run(
                [*base, *rec, "-q", "-n", str(frames)], check=True, stderr=subprocess.DEVNULL
            )
        server = subprocess.Popen(
            [*base, "replay", str(src), "--serve", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert server.stderr is not None
            line = server.stderr.readline().decode()
            if not line.startswith("listening on ws://"):
                raise RuntimeError(f"replay --serve did not start: {line!r}")
            url = line.split()[2] + "/v2"
            again = ["collect", "kraken", *SYMBOLS, "--url", url, "-o", str(dst)]
            subprocess.run(
                [*base, *again, "-q", "-n", str(frames)],
                check=True,
                timeout=300,
                stderr=subprocess.DEVNULL,
            )
        finally:
            server.kill()
            server.wait()
        stamps = []
        done = 0
        for f in sorted(dst.rglob("*.wslog")):
            for ts, tag, payload in iter_records(f):
                if tag >> 12 == 0:
                    stamps.append(ts)
                elif tag >> 12 == 2 and b'"disconnect"' in payload:
                    done = ts
    if len(stamps) < 2 or done <= stamps[0]:
        return 0.0, 0.0
    recorded = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9)
    parsed = len(stamps) / ((done - stamps[0]) / 1e9)
    return recorded, parsed


def collect_suite(ctx: BenchContext) -> list[Result]:
    """Zero loss, highest sustained rate, receive-to-written latency and RSS of collect."""
    duration = 4.0 if ctx.quick else 15.0
    rates = [5_000, 10_000, 20_000] if ctx.quick else [5_000, 10_000, 20_000, 40_000, 80_000]
    runs = []
    for rate in rates:
        run = run_once(ctx, rate, duration)
        ctx.log(
            f"collect @{rate}/s: sent {run['sent']} recorded {run['recorded']} "
            f"delivered {run['delivered_per_s']:.0f}/s p99 {run['latency']['p99_ms']} ms "
            f"rss {run['rss_mb']:.0f} MB"
        )
        runs.append(run)
        if not sustained(run):
            break
    results = []
    good = [r["delivered_per_s"] for r in runs if sustained(r)]
    results.append(
        Result(
            "highest sustained rate (zero loss, no growing backlog)",
            "msg/s",
            [max(good, default=0.0)],
            note=f"rates tried {', '.join(str(r['rate']) for r in runs)}, {duration:.0f} s each",
        )
    )
    for r in runs:
        results.append(
            Result(
                f"frames lost @{r['rate']}/s",
                "frames",
                [float(r["lost"])],
                higher_is_better=False,
                note=f"{r['sent']} sent, {r['recorded']} recorded, "
                f"{r['delivered_per_s']:.0f} msg/s delivered, exchange backlog {r['backlog']}, "
                f"parse backlog max {r['parse_backlog_max']}, "
                f"p99 {r['latency']['p99_ms']} ms, RSS {r['rss_mb']:.0f} MB",
            )
        )
    at10k = next((r for r in runs if r["rate"] == 10_000), None)
    if at10k is not None:
        for key in ("p50_ms", "p99_ms", "p999_ms"):
            value = at10k["latency"][key]
            if value is not None:
                results.append(
                    Result(
                        f"receive-to-written {key[:-3]} @10k/s",
                        "ms",
                        [value],
                        higher_is_better=False,
                    )
                )
    frames = 60_000 if ctx.quick else 200_000
    recorded, parsed = ceiling(ctx, frames)
    ctx.log(f"collect ceiling: recorded {recorded:.0f}/s, parsed {parsed:.0f}/s ({frames})")
    results.append(
        Result(
            "collector ceiling, recorded and parsed",
            "msg/s",
            [parsed],
            note=f"{frames} Kraken v2 frames served by replay --serve, 3 symbols, "
            "books and checksums kept",
        )
    )
    results.append(
        Result(
            "collector ceiling, recorded (parsing catching up behind)",
            "msg/s",
            [recorded],
            note="how fast frames reach the log when they arrive faster than they parse",
        )
    )
    if at10k is not None:
        results.append(
            Result(
                "collector max RSS @10k/s",
                "MB",
                [at10k["rss_mb"]],
                higher_is_better=False,
                note=f"sampled every 0.25 s over {duration:.0f} s",
            )
        )
    if not ctx.quick:
        long = run_once(ctx, 20_000, 60.0)
        ctx.log(f"collect @20000/s for 60 s: lost {long['lost']} rss {long['rss_mb']:.0f} MB")
        results.append(
            Result(
                "frames lost @20000/s for 60 s",
                "frames",
                [float(long["lost"])],
                higher_is_better=False,
                note=f"{long['sent']} sent, p99 {long['latency']['p99_ms']} ms, "
                f"RSS {long['rss_mb']:.0f} MB",
            )
        )
    return results
