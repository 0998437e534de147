"""wslog-write and wslog-read: the codec's records/s and MB/s."""

from __future__ import annotations

import subprocess
import time

from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir
from alphapulse_cli.bench.suites.traffic import T0, coinbase_frames, write_log
from alphapulse_cli.wslog.format import Kind, make_tag
from alphapulse_cli.wslog.reader import iter_records
from alphapulse_cli.wslog.writer import WslogWriter


def write_suite(ctx: BenchContext) -> list[Result]:
    """Writer records/s and MB/s on ~160-byte frames (buffered, no fsync)."""
    n = ctx.scale(2_000_000)
    frames = coinbase_frames(1000)
    tag = make_tag(1, Kind.IN)
    per_s, mb_s = [], []
    with scratch_dir(ctx, "wslog-write") as d:
        for i in range(ctx.repeats + 1):
            path = d / f"w{i}.wslog"
            t0 = time.perf_counter()
            w = WslogWriter(path)
            write = w.write
            for j in range(n):
                write(T0 + j * 50_000, tag, frames[j % 1000])
            w.close()
            dt = time.perf_counter() - t0
            size = path.stat().st_size
            path.unlink()
            if i:  # the first run warms the page cache and allocator
                per_s.append(n / dt)
                mb_s.append(size / dt / 1e6)
    return [Result("records/s", "rec/s", per_s), Result("throughput", "MB/s", mb_s)]


def _cat_mb_s(path: str, size: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
    return size / (time.perf_counter() - t0) / 1e6


def read_suite(ctx: BenchContext) -> list[Result]:
    """Reader records/s yielding (ts, tag, bytes), MB/s, and `cat FILE > /dev/null` as reference."""
    n = ctx.scale(2_000_000)
    with scratch_dir(ctx, "wslog-read") as d:
        path = d / "r.wslog"
        size = write_log(path, coinbase_frames(1000), n)
        per_s, mb_s, cat = [], [], []
        for i in range(ctx.repeats + 1):
            t0 = time.perf_counter()
            count = 0
            for _rec in iter_records(path):
                count += 1
            dt = time.perf_counter() - t0
            c = _cat_mb_s(str(path), size)
            if i:
                per_s.append(count / dt)
                mb_s.append(size / dt / 1e6)
                cat.append(c)
    ref = Result("cat FILE > /dev/null", "MB/s", cat)
    return [
        Result("records/s", "rec/s", per_s),
        Result("throughput", "MB/s", mb_s, reference=ref),
    ]
