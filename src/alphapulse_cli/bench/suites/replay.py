"""replay-merge, replay-bulk and replay-pacing."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir
from alphapulse_cli.bench.suites.traffic import T0, coinbase_frames, write_log
from alphapulse_cli.replay.merge import merge, open_inputs, pace


def merge_suite(ctx: BenchContext) -> list[Result]:
    """Records/s merging 4 files by timestamp (interleaved times), in-process."""
    n = ctx.scale(500_000)
    frames = coinbase_frames(1000)
    with scratch_dir(ctx, "replay-merge") as d:
        paths = []
        for k in range(4):
            p = d / f"m{k}.wslog"
            write_log(p, frames, n, gap_ns=200_000, start=T0 + k * 50_000)
            paths.append(str(p))
        samples = []
        for i in range(ctx.repeats + 1):
            t0 = time.perf_counter()
            count = 0
            for _rec in merge(open_inputs(paths, files=paths)):
                count += 1
            dt = time.perf_counter() - t0
            if i:
                samples.append(count / dt)
    return [Result("records/s (4 files)", "rec/s", samples)]


def bulk_suite(ctx: BenchContext) -> list[Result]:
    """`alphapulse replay FILE --format wslog > /dev/null` GB/s, against `cat` in the same run."""
    n = ctx.scale(4_000_000)
    with scratch_dir(ctx, "replay-bulk") as d:
        path = d / "b.wslog"
        size = write_log(path, coinbase_frames(1000), n)
        ours, cat = [], []
        cmd = [sys.executable, "-m", "alphapulse_cli", "replay", str(path), "--format", "wslog"]
        # Start-up is measured once with an empty log and taken off.
        empty = d / "e.wslog"
        write_log(empty, coinbase_frames(1), 1)
        for i in range(ctx.repeats + 1):
            t0 = time.perf_counter()
            subprocess.run([*cmd[:4], str(empty), *cmd[5:]], stdout=subprocess.DEVNULL, check=True)
            startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
            dt = max(time.perf_counter() - t0 - startup, 1e-9)
            t0 = time.perf_counter()
            subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
            dc = time.perf_counter() - t0
            if i:
                ours.append(size / dt / 1e9)
                cat.append(size / dc / 1e9)
        os.unlink(path)
    return [
        Result(
            "replay --format wslog",
            "GB/s",
            ours,
            reference=Result("cat FILE > /dev/null", "GB/s", cat),
            note=f"{size / 1e6:.0f} MB file, start-up taken off",
        )
    ]


def pacing_suite(ctx: BenchContext) -> list[Result]:
    """Mean absolute pacing error (ms) at --speed 10 over recorded gaps of 0-50 ms."""
    rnd = random.Random(3)
    seconds = 1.0 if ctx.quick else 3.0
    speed = 10.0
    records = []
    ts = T0
    while ts - T0 < seconds * speed * 1e9:
        records.append((ts, 1, b"{}"))
        ts += int(rnd.expovariate(1 / 20e6))
    errors_ms = []
    for _ in range(ctx.repeats):
        t_first = None
        total = 0.0
        count = 0
        start_wall = 0
        for rec in pace(records, speed):
            now = time.perf_counter_ns()
            if t_first is None:
                t_first, start_wall = rec[0], now
                continue
            due = start_wall + (rec[0] - t_first) / speed
            total += abs(now - due)
            count += 1
        errors_ms.append(total / max(count, 1) / 1e6)
    return [
        Result(
            "mean |error| at --speed 10",
            "ms",
            errors_ms,
            higher_is_better=False,
            note=f"{len(records)} records over {seconds:.0f}s",
        )
    ]
