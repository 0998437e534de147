"""redis: publisher and tail-stream entries/s, each against `redis-benchmark` XADD.

The suite starts its own redis-server (free port, scratch dir, no persistence). Every
repeat measures, back to back on that server:

- the reference: `redis-benchmark -c 1 -P 64 -n N XADD key MAXLEN ~ 1000000 * <the six
  trade fields>`, one connection pipelining 64 commands, as the publisher uses one;
- the publisher: N trade events through SyncRedisPublisher (the queue, the encoder and the
  pipelined writes of replay and collect), timed until Redis has answered every XADD;
- tail-stream: `alphapulse tail-stream KEY --group G --consumer c --from 0 --count N >
  /dev/null` in a fresh group each time, so every entry is read, written and acknowledged;
  its start-up (the same command with --count 1) is taken off.

Then publishing must not slow capture: `collect` of the local exchange (Coinbase, 5,000
events/s) for a few seconds with `--redis` and without, alternately; the figure is the
collector's own p99 receive-to-written latency (from its summary).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir
from alphapulse_cli.errors import AlphapulseError
from alphapulse_cli.redis_streams.conn import SyncConnection
from alphapulse_cli.redis_streams.sync import SyncRedisPublisher
from alphapulse_cli.redis_streams.url import parse_url

KEY = "trades:bench:BTC-USD"
REF_KEY = "bench:redis-benchmark"
T0_NS = 1_767_225_600_000_000_000


@contextmanager
def _server(d: Path) -> Iterator[int]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise AlphapulseError("bench redis: redis-server is not on PATH; install redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*args, "--dir", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AlphapulseError("bench redis: redis-server did not start") from None
                time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _trades(n: int, symbols: tuple[str, ...] = ("BTC-USD",)) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        ts = T0_NS + i * 1_000_000
        out.append(
            {
                "type": "trade",
                "exchange": "bench",
                "symbol": symbols[i % len(symbols)],
                "ts_local": ts + 7_000,
                "ts_exchange": ts,
                "price": f"{67_000 + i % 500}.{i % 100:02d}",
                "size": f"0.{i % 99_999_999 + 1:08d}",
                "side": "buy" if i % 2 else "sell",
                "trade_id": str(900_000_000 + i),
            }
        )
    return out


def _redis_benchmark(port: int, n: int, fields: list[str], key: str = REF_KEY) -> float:
    exe = shutil.which("redis-benchmark")
    if exe is None:
        raise AlphapulseError("bench redis: redis-benchmark is not on PATH; install redis-tools")
    cmd = [exe, "-p", str(port), "-c", "1", "-P", "64", "-n", str(n), "--csv"]
    cmd += ["XADD", key, "MAXLEN", "~", "1000000", "*", *fields]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    last = out.strip().splitlines()[-1]
    return float(last.split('","')[1])


def _publish(url: str, events: list[dict[str, Any]]) -> float:
    t0 = time.perf_counter()
    pub = SyncRedisPublisher(url, block=True, maxlen=None)
    for ev in events:
        pub.publish(ev)
    stats = pub.close(timeout=60)
    dt = time.perf_counter() - t0
    if stats["published"] != len(events):
        raise AlphapulseError(f"bench redis: published {stats['published']} of {len(events)}")
    return len(events) / dt


def _tail_seconds(url: str, group: str, count: int) -> float:
    cmd = [sys.executable, "-m", "alphapulse_cli", "tail-stream", KEY, "--group", group]
    cmd += ["--consumer", "c", "--from", "0", "--count", str(count), "--redis", url]
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def _collect_p99(ws_url: str, out: Path, redis_url: str | None, seconds: float) -> float:
    cmd = [sys.executable, "-m", "alphapulse_cli", "collect", "coinbase", "BTC-USD", "ETH-USD"]
    cmd += ["--url", ws_url, "-o", str(out), "--duration", str(seconds)]
    if redis_url:
        cmd += ["--redis", redis_url]
    p = subprocess.run(cmd, capture_output=True, timeout=seconds + 60)
    stopped = [x for x in p.stderr.splitlines() if b'"event": "stopped"' in x]
    if p.returncode != 0 or not stopped:
        raise AlphapulseError(f"bench redis: collect failed ({p.returncode}): {p.stderr[-300:]!r}")
    summary = json.loads(stopped[-1])
    if redis_url and summary["sinks"]["redis"]["published"] == 0:
        raise AlphapulseError("bench redis: collect --redis published nothing")
    return float(summary["latency"]["p99_ms"])


def _collect_latency(ctx: BenchContext, url: str, d: Path) -> list[Result]:
    from alphapulse_cli.exchange.thread import ExchangeThread

    seconds = 1.5 if ctx.quick else 3.0
    on, off = [], []
    with ExchangeThread("coinbase", rate=5000, trade_share=0.3) as ex:
        for i in range(ctx.repeats):
            off.append(_collect_p99(ex.url, d / f"off{i}", None, seconds))
            on.append(_collect_p99(ex.url, d / f"on{i}", url, seconds))
            ctx.log(f"redis: collect p99 {off[-1]} ms without --redis, {on[-1]} ms with")
    return [
        Result(
            "collect p99 receive-to-written, --redis",
            "ms",
            on,
            higher_is_better=False,
            reference=Result("the same without --redis", "ms", off, higher_is_better=False),
            note=f"local Coinbase exchange, 5,000 events/s, {seconds:g} s runs",
        )
    ]


def suite(ctx: BenchContext) -> list[Result]:
    """Publisher and tail-stream (group, acks) entries/s against redis-benchmark XADD -P 64."""
    n = ctx.scale(200_000)
    events = _trades(n)
    from alphapulse_cli.redis_streams.entries import trade_fields

    fields = trade_fields(events[0])
    ref, pub, tail = [], [], []
    with scratch_dir(ctx, "redis") as d, _server(d) as port:
        url = f"redis://127.0.0.1:{port}"
        conn = SyncConnection(parse_url(url))
        try:
            for i in range(ctx.repeats + 1):
                conn.call("DEL", REF_KEY, KEY)
                r = _redis_benchmark(port, n, fields)
                conn.call("DEL", REF_KEY)
                p = _publish(url, events)
                startup = _tail_seconds(url, f"s{i}", 1)
                full = _tail_seconds(url, f"g{i}", n)
                t = n / max(full - startup, 1e-9)
                ctx.log(f"redis: benchmark {r:,.0f}/s publisher {p:,.0f}/s tail {t:,.0f}/s")
                if i:
                    ref.append(r)
                    pub.append(p)
                    tail.append(t)
        finally:
            conn.close()
        latency = _collect_latency(ctx, url, d)
    reference = Result("redis-benchmark -c 1 -P 64 XADD", "entries/s", ref)
    return [
        Result(
            "publisher (one connection)",
            "entries/s",
            pub,
            reference=reference,
            note=f"{n:,} trades, timed until every XADD was answered",
        ),
        Result(
            "tail-stream --group (acks)",
            "entries/s",
            tail,
            reference=reference,
            note=f"{n:,} entries as JSON lines to /dev/null, start-up taken off",
        ),
        *latency,
    ]
