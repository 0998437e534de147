"""compact: compression MB/s and ratio against the `zstd` tool in the same run; a whole
`compact DATA_DIR` run against `zstd` (and, with a lake, against `replay --format events`)
on the same files; Parquet export rows/s, and a warm DuckDB time-range query over the lake."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir
from alphapulse_cli.bench.suites.recorded import record_local
from alphapulse_cli.bench.suites.traffic import T0, coinbase_frames, write_log
from alphapulse_cli.compact.compress import DEFAULT_LEVEL, compress_fd

QUERY_TRADES = 1_000_000
QUERY_ROWS = 100_000


def _ours(path: Path, out: Path, threads: int, verify: bool) -> tuple[float, int]:
    fd = os.open(path, os.O_RDONLY)
    try:
        t0 = time.perf_counter()
        c = compress_fd(fd, str(path), out, level=DEFAULT_LEVEL, threads=threads, verify=verify)
        return time.perf_counter() - t0, c.compressed_bytes
    finally:
        os.close(fd)


def _zstd(path: Path, out: Path, threads: int) -> tuple[float, int]:
    cmd = [
        "zstd",
        f"-{DEFAULT_LEVEL}",
        f"-T{max(threads, 1)}",
        "-q",
        "-f",
        str(path),
        "-o",
        str(out),
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0, out.stat().st_size


def _compression(ctx: BenchContext, path: Path, label: str, d: Path) -> list[Result]:
    size = path.stat().st_size
    out, ref = d / "ours.zst", d / "ref.zst"
    results = []
    for threads in (0, 2):
        ours, theirs, full = [], [], []
        ratio = ref_ratio = 0.0
        for i in range(ctx.repeats + 1):
            dt, csize = _ours(path, out, threads, verify=False)
            full_dt, _ = _ours(path, out, threads, verify=True)
            zdt, zsize = _zstd(path, ref, threads)
            if i:
                ours.append(size / dt / 1e6)
                full.append(size / full_dt / 1e6)
                theirs.append(size / zdt / 1e6)
                ratio, ref_ratio = size / csize, size / zsize
        t = "1 thread" if threads == 0 else f"{threads} threads"
        zt = f"zstd -{DEFAULT_LEVEL} -T{max(threads, 1)}"
        results.append(
            Result(
                f"{label}: compress level {DEFAULT_LEVEL}, {t}",
                "MB/s",
                ours,
                reference=Result(zt, "MB/s", theirs),
                note="compress, sha256, fsync, rename; no verify",
            )
        )
        results.append(Result(f"{label}: compress + verify, {t}", "MB/s", full))
        if threads == 0:
            results.append(
                Result(
                    f"{label}: ratio level {DEFAULT_LEVEL}",
                    "x",
                    [ratio],
                    reference=Result(f"zstd -{DEFAULT_LEVEL} ratio", "x", [ref_ratio]),
                )
            )
    return results


def _events_pass(path: Path) -> float:
    """`replay --format events` of one file, in-process: seconds to read and encode it all."""
    from alphapulse_cli.core.derive import iter_event_lines
    from alphapulse_cli.wslog.reader import iter_records

    t0 = time.perf_counter()
    for _ in iter_event_lines(iter_records(path)):
        pass
    return time.perf_counter() - t0


def _end_to_end(ctx: BenchContext, logs: dict[str, Path], d: Path) -> list[Result]:
    """A whole `compact DATA_DIR` run in-process (compress, verify, index with its integrity
    counters, read from the logs' summaries), beside `zstd -3` on the same file in the same
    round; and with a Parquet lake (which must parse every frame) beside `replay --format
    events` of the same file."""
    from alphapulse_cli.compact.run import CompactRequest, run_compact

    out = []
    for label, log in logs.items():
        size = log.stat().st_size
        for lake in (False, True):
            ours, ref = [], []
            for i in range(ctx.repeats + 1):
                data = d / f"e2e-{label}-{lake}-{i}"
                (data / "v").mkdir(parents=True)
                shutil.copyfile(log, data / "v" / "20260101_00.wslog")
                req = CompactRequest(data_dir=data, lake=d / f"lake-{i}" if lake else None)
                t0 = time.perf_counter()
                run_compact(req)
                dt = time.perf_counter() - t0
                rdt = _events_pass(log) if lake else _zstd(log, d / "ref.zst", 0)[0]
                shutil.rmtree(data)
                if i:
                    ours.append(size / dt / 1e6)
                    ref.append(size / rdt / 1e6)
            if lake:
                what, ref_name = "compress, verify, index, Parquet lake", "replay --format events"
            else:
                what, ref_name = "compress, verify, index", f"zstd -{DEFAULT_LEVEL} -T1"
            out.append(
                Result(
                    f"{label}: compact DATA_DIR whole run ({what})",
                    "MB/s",
                    ours,
                    reference=Result(f"{ref_name}, same file", "MB/s", ref),
                    note=f"{size / 1e6:.1f} MB",
                )
            )
    return out


def _trade_events(n: int) -> list[tuple[int, list[dict[str, Any]]]]:
    """n trades, one per message, 36 ms apart (1M trades span 10 hours of one day)."""
    out = []
    mid = 6_700_000
    for i in range(n):
        mid += (i * 7919) % 7 - 3
        ts = T0 + i * 36_000_000
        ev = {
            "type": "trade",
            "exchange": "coinbase",
            "symbol": "BTC-USD",
            "venue_symbol": "BTC-USD",
            "ts_exchange": ts - 1_500_000,
            "ts_local": ts,
            "price": f"{mid // 100}.{mid % 100:02d}",
            "size": f"0.{(i * 104_729) % 100_000_000:08d}",
            "side": "buy" if i % 3 else "sell",
            "trade_id": str(900_000_000 + i),
        }
        out.append((ts, [ev]))
    return out


def _export(lake: Path, messages: list[tuple[int, list[dict[str, Any]]]]) -> float:
    from alphapulse_cli.compact.lake import LakeExport

    t0 = time.perf_counter()
    ex = LakeExport(lake, "bench", "bench", checkpoint_every_ns=0)  # trades only: no books
    handle = ex.handle
    for ts, events in messages:
        handle(None, ts, events)
    ex.commit()
    return time.perf_counter() - t0


def _query(ctx: BenchContext, lake: Path, n: int) -> list[Result]:
    import duckdb

    # The middle tenth of the trades: QUERY_ROWS rows of QUERY_TRADES.
    lo = T0 + (n // 2) * 36_000_000
    hi = lo + (n // 10 - 1) * 36_000_000
    src = f"read_parquet('{lake}/trades/**/*.parquet', hive_partitioning=true)"
    where = f"symbol = 'BTC-USD' AND ts BETWEEN make_timestamp_ns({lo}) AND make_timestamp_ns({hi})"
    rows_sql = f"SELECT ts, price, size, side, trade_id FROM {src} WHERE {where}"
    agg_sql = f"SELECT count(*), min(price), max(price) FROM {src} WHERE {where}"
    con = duckdb.connect()
    rows_ms, agg_ms = [], []
    got = 0
    for i in range(ctx.repeats * 3 + 1):
        t0 = time.perf_counter()
        table: Any = con.sql(rows_sql).to_arrow_table()
        got = table.num_rows
        t1 = time.perf_counter()
        count = con.execute(agg_sql).fetchall()[0][0]
        t2 = time.perf_counter()
        if i:  # the first run warms the page cache and DuckDB's metadata cache
            rows_ms.append((t1 - t0) * 1e3)
            agg_ms.append((t2 - t1) * 1e3)
    if got != n // 10 or count != n // 10:
        raise RuntimeError(f"bench query returned {got}/{count} rows, expected {n // 10}")
    return [
        Result(
            f"DuckDB warm range query, {n} trades -> {got} rows (Arrow)",
            "ms",
            rows_ms,
            higher_is_better=False,
        ),
        Result(
            "DuckDB warm count/min/max over the same range", "ms", agg_ms, higher_is_better=False
        ),
    ]


def suite(ctx: BenchContext) -> list[Result]:
    """compact: MB/s vs `zstd` (same files, same run), also for a whole `compact DATA_DIR` run,
    with a lake vs replay events; Parquet rows/s, DuckDB range-query ms."""
    results: list[Result] = []
    with scratch_dir(ctx, "compact") as d:
        gen = d / "generated.wslog"
        write_log(gen, coinbase_frames(ctx.scale(200_000)), ctx.scale(600_000))
        if shutil.which("zstd"):
            results += _compression(ctx, gen, "generated coinbase traffic", d)
            recs = {}
            for venue, depth in (("coinbase", None), ("kraken", 1000)):
                label = f"local-exchange {venue}" + (f" book-{depth}" if depth else "")
                rec = record_local(
                    venue, d / f"{venue}.wslog", ctx.scale(40_000), rate=50_000, depth=depth
                )
                results += _compression(ctx, rec, label, d)
                recs[label] = rec
            results += _end_to_end(ctx, recs, d)
        else:
            ctx.log("compact: no `zstd` tool on PATH; compression figures left out")
        n = ctx.scale(QUERY_TRADES)
        messages = _trade_events(n)
        rates = []
        lake = d / "lake"
        for i in range(ctx.repeats + 1):
            shutil.rmtree(lake, ignore_errors=True)
            dt = _export(lake, messages)
            if i:
                rates.append(n / dt)
        results.append(
            Result("Parquet export (events -> lake)", "trades/s", rates, note=f"{n} trades")
        )
        results += _query(ctx, lake, n)
    return results
