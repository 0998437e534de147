"""The Parquet lake, read back by DuckDB and compared with `replay --format events`."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.helpers.cli import run_cli
from tests.helpers.compact_data import make_data_dir, recorded

pytestmark = pytest.mark.slow  # logs recorded from a local WebSocket exchange; the CLI


def events_of(path: Path) -> list[dict]:
    r = run_cli("replay", str(path), "--format", "events")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def iso_us(ns: int) -> str:
    import datetime as dt

    t = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.timezone.utc)
    return f"{t:%Y-%m-%d %H:%M:%S}.{(ns % 1_000_000_000) // 1000:06d}"


def query(sql: str) -> list[tuple]:
    return duckdb.connect().execute(sql).fetchall()


def test_duckdb_range_query_matches_the_events(tmp_path):
    data, lake = tmp_path / "data", tmp_path / "lake"
    make_data_dir(data, hours=1)
    r = run_cli("compact", str(data), "--parquet", str(lake))
    assert r.returncode == 0, r.stderr
    for venue in ("coinbase", "kraken"):
        events = events_of(data / venue / "20260101_00.wslog.zst")
        trades = [e for e in events if e["type"] == "trade" and e["symbol"] == "BTC-USD"]
        assert len(trades) > 100
        ts = sorted(e["ts_local"] for e in trades)
        # Whole microseconds, so the SQL literal and the ns comparison mean the same.
        lo = ts[len(ts) // 4] // 1000 * 1000
        hi = ts[3 * len(ts) // 4] // 1000 * 1000
        want = [Decimal(e["price"]) for e in trades if lo <= e["ts_local"] <= hi]
        got = query(
            f"SELECT count(*), min(price), max(price) FROM read_parquet("
            f"'{lake}/trades/**/*.parquet', hive_partitioning=true) "
            f"WHERE venue = '{venue}' AND symbol = 'BTC-USD' "
            f"AND ts BETWEEN '{iso_us(lo)}' AND '{iso_us(hi)}'"
        )
        assert got == [(len(want), min(want), max(want))]
        # Every trade, exactly: price, size, side, id and both times.
        rows = query(
            f"SELECT epoch_ns(ts), epoch_ns(ts_exchange), price, size, side, trade_id "
            f"FROM read_parquet('{lake}/trades/**/*.parquet', hive_partitioning=true) "
            f"WHERE venue = '{venue}' AND symbol = 'BTC-USD' ORDER BY ts, trade_id"
        )
        expect = sorted(
            (
                e["ts_local"],
                e["ts_exchange"],
                Decimal(e["price"]),
                Decimal(e["size"]),
                e["side"],
                e["trade_id"],
            )
            for e in trades
        )
        by_time_id = lambda r: (r[0], r[5])  # noqa: E731
        assert sorted(rows, key=by_time_id) == sorted(expect, key=by_time_id)
        levels = sum(
            len(e["bids"]) + len(e["asks"])
            for e in events
            if e["type"] in ("book_update", "book_snapshot")
        )
        got_levels = query(
            f"SELECT count(*) FROM read_parquet('{lake}/book_updates/**/*.parquet', "
            f"hive_partitioning=true) WHERE venue = '{venue}'"
        )
        assert got_levels == [(levels,)]


def test_schema_is_exact_decimals_and_ns_times(tmp_path):
    data, lake = tmp_path / "data", tmp_path / "lake"
    make_data_dir(data, hours=1)
    assert run_cli("compact", str(data), "--parquet", str(lake)).returncode == 0
    cols = dict(
        (name, typ)
        for name, typ, *_ in query(
            f"DESCRIBE SELECT * FROM read_parquet('{lake}/trades/**/*.parquet', "
            "hive_partitioning=true)"
        )
    )
    assert cols["price"] == cols["size"] == "DECIMAL(38,18)"
    assert cols["ts"] == "TIMESTAMP_NS" and cols["date"] == "DATE"
    meta = query(f"SELECT DISTINCT compression FROM parquet_metadata('{lake}/trades/**/*.parquet')")
    assert meta == [("ZSTD",)]


def test_exporting_later_and_again_never_duplicates(tmp_path):
    data, lake = tmp_path / "data", tmp_path / "lake"
    make_data_dir(data, hours=2)
    assert run_cli("compact", str(data)).returncode == 0  # no lake yet
    (data / "kraken" / "20260101_09.wslog").write_bytes(recorded("kraken")[:-1])  # cut off
    assert run_cli("compact", str(data), "--parquet", str(lake)).returncode == 0
    index = json.loads((data / "index.json").read_bytes())["files"]
    assert len(index) == 5 and all("lake" in e for e in index.values())
    sql = f"SELECT count(*) FROM read_parquet('{lake}/trades/**/*.parquet')"
    total = sum(e["integrity"]["trades"] for e in index.values())
    assert query(sql) == [(total,)]
    assert run_cli("compact", str(data), "--parquet", str(lake)).returncode == 0
    assert query(sql) == [(total,)]
    # The lake lost a file: the next run exports that log again, once.
    victim = next(lake.rglob("*.parquet"))
    victim.unlink()
    assert run_cli("compact", str(data), "--verify").returncode == 3
    assert run_cli("compact", str(data), "--parquet", str(lake)).returncode == 0
    assert query(sql) == [(total,)]
    assert run_cli("compact", str(data), "--verify").returncode == 0
