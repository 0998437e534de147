"""query: the research API (alphapulse_cli.research.Lake) over a generated lake of 30 days x
2 symbols x 500k trades a day, each figure beside its reference from the same run (#15).

- trades, one hour -> Arrow, warm: against the same hand-written DuckDB SQL over the same
  files (target: ours <= 1.25x its time), and against `replay --format events --symbol
  BTC-USD` of that hour's raw log (target: >= 50x faster);
- trades, one day -> Arrow: rows/s (target >= 5M), the hand-written SQL beside it;
- book_at on a 1,000-level book with 60 s checkpoints (target <= 100 ms), at random instants
  and at the worst one (just before a checkpoint), all in the captured hour: compact exports
  each hourly log on its own, and a log after the first of a connection starts without a
  snapshot, so the lake holds a valid book only in the hour after a connect;
- 1-minute bars over one day (target <= 100 ms), a hand-written time_bucket query beside it.

The lake (lakegen.py) is built on the first run and cached; the hour is the one captured
from the local exchange and exported by `compact --parquet`, so that hour's trades, book
updates and checkpoints come from the real code path and its raw log is the replay input.
Every figure is the median of --repeats samples after one untimed warm-up.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir
from alphapulse_cli.bench.suites.lakegen import LakeSpec, describe, ensure
from alphapulse_cli.compact.lake import DAY_NS

SYMBOL = "BTC-USD"
BOOK_INSTANTS = 10  # random book_at instants per sample


def spec_for(ctx: BenchContext) -> LakeSpec:
    """The issue's size; --quick: a tenth of the days, trades and market rate."""
    full = LakeSpec()
    return LakeSpec(
        days=ctx.scale(full.days),
        trades_per_day=ctx.scale(full.trades_per_day),
        rate=float(ctx.scale(int(full.rate))),
    )


def _ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


def _reference_sql(lake: Path, lo: int, hi: int) -> str:
    return (
        f"SELECT * FROM read_parquet('{lake}/trades/**/*.parquet', hive_partitioning=true) "
        f"WHERE symbol = '{SYMBOL}' AND ts BETWEEN make_timestamp_ns({lo}) "
        f"AND make_timestamp_ns({hi})"
    )


def _bars_sql(lake: Path, lo: int, hi: int) -> str:
    return (
        "SELECT time_bucket(INTERVAL 1 minute, ts) AS ts, first(price ORDER BY ts) AS open, "
        "max(price) AS high, min(price) AS low, last(price ORDER BY ts) AS close, "
        "sum(size) AS volume, count(*) AS trades "
        f"FROM read_parquet('{lake}/trades/**/*.parquet', hive_partitioning=true) "
        f"WHERE symbol = '{SYMBOL}' AND ts BETWEEN make_timestamp_ns({lo}) "
        f"AND make_timestamp_ns({hi}) GROUP BY 1 ORDER BY 1"
    )


def _pairs(
    ctx: BenchContext, ours: Callable[[], Any], con: Any, ref_sql: str
) -> tuple[list[float], list[float], int]:
    """Alternating samples (ms) of `ours` and the reference query after one warm-up of each,
    and the rows of ours, which must be as many as the reference's."""
    a: list[float] = []
    b: list[float] = []
    rows = 0
    for i in range(ctx.repeats + 1):
        t_ours, got = _ms(ours)
        t_ref, want = _ms(lambda: con.sql(ref_sql).to_arrow_table())
        rows = got.num_rows
        if rows != want.num_rows:
            raise RuntimeError(f"bench query: {rows} rows, the reference {want.num_rows}")
        if i:
            a.append(t_ours)
            b.append(t_ref)
    return a, b, rows


def _replay_ms(ctx: BenchContext, raw_log: Path, d: Path) -> tuple[list[float], float]:
    """`alphapulse replay LOG --format events --symbol BTC-USD > /dev/null`, its start-up
    (the same command on an empty log) taken off; returns the samples and the start-up."""
    from alphapulse_cli.bench.suites.traffic import coinbase_frames, write_log

    empty = d / "empty.wslog"
    write_log(empty, coinbase_frames(1), 1)
    base = [sys.executable, "-m", "alphapulse_cli", "replay"]
    args = ["--format", "events", "--symbol", SYMBOL]
    out, startups = [], []
    for i in range(ctx.repeats + 1):
        t0 = time.perf_counter()
        subprocess.run([*base, str(empty), *args], stdout=subprocess.DEVNULL, check=True)
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([*base, str(raw_log), *args], stdout=subprocess.DEVNULL, check=True)
        dt = time.perf_counter() - t0
        if i:
            startups.append(startup * 1e3)
            out.append(max(dt - startup, 1e-9) * 1e3)
    return out, statistics.median(startups)


def _book_at(ctx: BenchContext, lake: Any, hour: tuple[int, int]) -> list[Result]:
    """Random instants in the captured hour (after its first checkpoint), and the worst
    instant of a checkpoint interval: 59.9 s of updates to apply."""
    rnd = random.Random(15)
    lo, hi = hour
    first = lo + 60_000_000_000
    minutes = (hi - first) // 60_000_000_000

    def check(book: dict[str, Any], depth: int) -> None:
        if not book["valid"] or (depth and len(book["bids"]) != depth):
            raise RuntimeError(f"bench query: book_at gave no valid book: {book['reason']}")

    def timed(at: int, depth: int) -> tuple[float, dict[str, Any]]:
        t0 = time.perf_counter()
        book = lake.book_at(SYMBOL, at, depth=depth)
        dt = (time.perf_counter() - t0) * 1e3
        check(book, depth)
        return dt, book

    randoms, worst, full = [], [], []
    levels = 0
    for i in range(ctx.repeats + 1):
        instants = [rnd.randrange(first, hi) for _ in range(BOOK_INSTANTS)]
        r = statistics.median(timed(at, 10)[0] for at in instants)
        late = lo + rnd.randrange(1, minutes) * 60_000_000_000 + 59_900_000_000
        w, _ = timed(late, 10)
        f, book = timed(late, 0)
        levels = min(len(book["bids"]), len(book["asks"]))
        if i:
            randoms.append(r)
            worst.append(w)
            full.append(f)
    note = f"{levels:,}+ levels a side, 60 s checkpoints; target <= 100 ms"
    return [
        Result(
            f"book_at depth 10, random instant (median of {BOOK_INSTANTS})",
            "ms",
            randoms,
            higher_is_better=False,
            note=note,
        ),
        Result(
            "book_at depth 10, 59.9 s after a checkpoint",
            "ms",
            worst,
            higher_is_better=False,
            note=note,
        ),
        Result(
            "book_at whole book (depth 0), 59.9 s after one",
            "ms",
            full,
            higher_is_better=False,
            note=note,
        ),
    ]


def suite(ctx: BenchContext) -> list[Result]:
    """Research API over a 30-day lake: trades 1h vs DuckDB SQL and replay, 1d rows/s,
    book_at, 1m bars."""
    import duckdb

    from alphapulse_cli.research import Lake

    t0 = time.perf_counter()
    gen = ensure(spec_for(ctx), ctx.log)
    took = time.perf_counter() - t0
    how = "cached" if took < 1 else f"built in {took:.0f}s ({gen.meta['seconds']})"
    ctx.log(f"query: lake {how}: {describe(gen)} ({gen.root})")
    lake_dir = gen.lake
    lake = Lake(lake_dir)
    con = duckdb.connect()
    results: list[Result] = []
    try:
        lo, hi = gen.hour
        day_lo = lo // DAY_NS * DAY_NS
        day_hi = day_lo + DAY_NS - 1
        same = "hand-written DuckDB SQL, same files"

        ours, ref, rows = _pairs(
            ctx, lambda: lake.trades(SYMBOL, lo, hi), con, _reference_sql(lake_dir, lo, hi)
        )
        results.append(
            Result(
                "trades 1h -> Arrow (Lake.trades)",
                "ms",
                ours,
                higher_is_better=False,
                reference=Result(same, "ms", ref),
                note=f"{rows:,} rows; target ratio <= 1.25",
            )
        )
        with scratch_dir(ctx, "query") as d:
            replay, startup = _replay_ms(ctx, gen.raw_log, d)
        speedup = statistics.median(replay) / statistics.median(ours)
        results.append(
            Result(
                "trades 1h -> Arrow vs replay of the hour",
                "ms",
                ours,
                higher_is_better=False,
                reference=Result(f"replay --format events --symbol {SYMBOL}", "ms", replay),
                note=(
                    f"{speedup:.0f}x faster; target >= 50x; "
                    f"{gen.raw_log.stat().st_size / 1e6:.0f} MB raw log, replay start-up "
                    f"{startup:.0f} ms taken off"
                ),
            )
        )

        ours, ref, rows = _pairs(
            ctx,
            lambda: lake.trades(SYMBOL, day_lo, day_hi),
            con,
            _reference_sql(lake_dir, day_lo, day_hi),
        )
        results.append(
            Result(
                "trades 1d -> Arrow (Lake.trades)",
                "rows/s",
                [rows / t * 1e3 for t in ours],
                reference=Result(same, "rows/s", [rows / t * 1e3 for t in ref]),
                note=f"{rows:,} rows; target >= 5M rows/s",
            )
        )

        results += _book_at(ctx, lake, gen.hour)

        ours, ref, bars = _pairs(
            ctx,
            lambda: lake.bars(SYMBOL, "1m", day_lo, day_hi),
            con,
            _bars_sql(lake_dir, day_lo, day_hi),
        )
        results.append(
            Result(
                "bars 1m over 1 day (Lake.bars)",
                "ms",
                ours,
                higher_is_better=False,
                reference=Result("hand-written DuckDB time_bucket SQL", "ms", ref),
                note=f"{rows:,} trades -> {bars:,} bars; target <= 100 ms",
            )
        )
    finally:
        lake.close()
        con.close()
    return results
