"""The research API's fast paths give what the plain SQL gives: rows in ORDER BY ts,
filename, file_row_number without DuckDB's sort, bars from the time-ordered trades,
book_at from each level's last write, decimals as the nearest doubles."""

from __future__ import annotations

import random
from decimal import Decimal, getcontext
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from alphapulse_cli.compact.lake import (
    DAY_NS,
    ROW_GROUP,
    _schema,
    date_text,
    open_writer,
    partition_dir,
)
from alphapulse_cli.research import Lake
from alphapulse_cli.research.floats import nearest_doubles

T = 1_767_229_200_000_000_000  # 2026-01-01T01:00Z
SEC = 1_000_000_000
DEC = pa.decimal128(38, 18)


def _write(lake: Path, venue: str, symbol: str, name: str, ts: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(ts)
    price = [Decimal(int(p)) / 100 for p in 6_700_000 + rng.integers(-500, 500, n)]
    size = [Decimal(int(q)) / 10**8 for q in rng.integers(1, 10**9, n)]
    table = pa.table(
        {
            "ts": pa.array(ts, pa.timestamp("ns")),
            "ts_exchange": pa.array(ts - 1000, pa.timestamp("ns")),
            "price": pa.array(price, DEC),
            "size": pa.array(size, DEC),
            "side": pa.array(["buy" if x else "sell" for x in rng.integers(0, 2, n)]),
            "trade_id": pa.array([f"{seed}-{i}" for i in range(n)]),
            "venue_symbol": pa.array([symbol] * n),
        },
        schema=_schema("trades"),
    )
    d = partition_dir(lake, "trades", venue, symbol, date_text(int(ts.min()) // DAY_NS))
    d.mkdir(parents=True, exist_ok=True)
    w = open_writer(d / f"{name}.parquet", "trades")
    w.write_table(table, row_group_size=ROW_GROUP)
    w.close()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two venues trading at the same times (equal ts across files), equal ts within a file,
    an unsorted file, and file names out of time order."""
    root = tmp_path_factory.mktemp("lake")
    rng = np.random.default_rng(7)
    a = np.sort(rng.integers(T, T + 600 * SEC, 3000))
    a[100:110] = a[100]
    b = np.sort(rng.integers(T, T + 600 * SEC, 3000))
    b[0], b[5] = a[0], a[200]
    _write(root, "coinbase", "BTC-USD", "ffff", a, 1)
    _write(root, "kraken", "BTC-USD", "0000", b, 2)
    _write(root, "coinbase", "BTC-USD", "aaaa", np.sort(a + 600 * SEC), 3)
    _write(root, "coinbase", "ETH-USD", "bbbb", rng.integers(T, T + 600 * SEC, 2000), 4)
    e1 = np.sort(rng.integers(T, T + 100 * SEC, 1000))
    e2 = np.sort(rng.integers(T + 100 * SEC, T + 200 * SEC, 1000))
    e2[:3] = e2[0]
    _write(root, "coinbase", "SOL-USD", "9999", e1, 5)
    _write(root, "coinbase", "SOL-USD", "1111", e2, 6)
    _write(root, "kraken", "SOL-USD", "5555", np.concatenate([e1[:10], e2[:10]]), 7)
    return root


def _reference(lake: Path, symbol: str, venue: str | None, lo: int, hi: int) -> pa.Table:
    where = (
        f"symbol = '{symbol}' AND ts BETWEEN make_timestamp_ns({lo}) AND make_timestamp_ns({hi})"
    )
    if venue:
        where += f" AND venue = '{venue}'"
    sql = (
        "SELECT ts, ts_exchange, venue, symbol, price, size, side, trade_id FROM "
        f"read_parquet('{lake}/trades/*/*/*/*.parquet', hive_partitioning=true, "
        f"filename=true, file_row_number=true) WHERE {where} "
        "ORDER BY ts, filename, file_row_number"
    )
    return duckdb.connect().sql(sql).to_arrow_table()


@pytest.mark.parametrize("symbol", ["BTC-USD", "ETH-USD", "SOL-USD"])
@pytest.mark.parametrize("venue", [None, "coinbase", "kraken"])
def test_trades_in_sql_order(lake: Path, symbol: str, venue: str | None) -> None:
    rnd = random.Random(f"{symbol}{venue}")
    with Lake(lake) as lk:
        for lo, hi in [(T, T + 1300 * SEC)] + [
            tuple(sorted(rnd.randrange(T, T + 1300 * SEC) for _ in range(2))) for _ in range(5)
        ]:
            got = lk.trades(symbol, lo, hi, venue)
            want = _reference(lake, symbol, venue, lo, hi)
            assert got.num_rows == want.num_rows
            for name in want.column_names:
                assert (
                    got.column(name).cast(want.schema.field(name).type).equals(want.column(name))
                ), name


def _rows(table: pa.Table) -> list[dict]:
    """Rows with times as ns (a datetime cannot hold them)."""
    for name in ("ts", "ts_exchange"):
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, table.column(name).cast(pa.int64()))
    return table.to_pylist()


def test_bars_from_ordered_trades(lake: Path) -> None:
    minute = 60 * SEC
    with Lake(lake) as lk:
        for venue in (None, "coinbase"):
            trades = _rows(lk.trades("BTC-USD", None, None, venue))
            bars = _rows(lk.bars("BTC-USD", "1m", None, None, venue))
            assert sum(b["trades"] for b in bars) == len(trades)
            for bar in bars:
                mine = [
                    t
                    for t in trades
                    if t["venue"] == bar["venue"] and bar["ts"] <= t["ts"] < bar["ts"] + minute
                ]
                assert bar["open"] == mine[0]["price"] and bar["close"] == mine[-1]["price"]
                assert bar["high"] == max(t["price"] for t in mine)
                assert bar["low"] == min(t["price"] for t in mine)
                assert bar["volume"] == sum(t["size"] for t in mine)
                vwap = sum(float(t["price"]) * float(t["size"]) for t in mine) / sum(
                    float(t["size"]) for t in mine
                )
                assert bar["vwap"] == pytest.approx(vwap, rel=1e-12)


def test_nearest_doubles_are_correctly_rounded() -> None:
    getcontext().prec = 60
    rnd = random.Random(3)
    values = [
        Decimal(0),
        Decimal("99999999999999999999.999999999999999999"),
        Decimal("0.000000000000000001"),
        Decimal(2**53),
        Decimal(2**53 + 1),
        Decimal("9007199254740993.5"),
    ]
    for _ in range(20_000):
        kind = rnd.randrange(5)
        if kind == 0:
            v = Decimal(rnd.randrange(10**9)) / 100
        elif kind == 1:
            v = Decimal(rnd.randrange(10**12)) / 10**8
        elif kind == 2:
            v = Decimal(rnd.randrange(10**38)) / 10**18
        elif kind == 3:
            v = Decimal(rnd.randrange(2**53)).scaleb(-rnd.randrange(19))
        else:
            v = Decimal(rnd.randrange(10 ** rnd.randrange(1, 21))) / 10 ** rnd.randrange(19)
        values.append(-v if rnd.random() < 0.2 else v)
    values = [v.quantize(Decimal("1e-18")) for v in values]
    arr = pa.array(values, DEC)
    want = np.array([float(v) for v in values])
    assert np.array_equal(nearest_doubles(arr), want)
    assert np.array_equal(nearest_doubles(arr.slice(100, 500)), want[100:600])
    chunked = pa.chunked_array([arr.slice(0, 10), arr.slice(10, 20)])
    assert np.array_equal(nearest_doubles(chunked), want[:30])
    # What DuckDB's CAST gives, which the bars' vwap used before.
    con = duckdb.connect()
    con.register("values_t", pa.table({"x": arr}))
    duck = con.sql("SELECT CAST(x AS DOUBLE) AS y FROM values_t").to_arrow_table()
    assert np.array_equal(duck.column("y").to_numpy(), want)


def test_book_at_from_last_writes_equals_replay(tmp_path: Path, monkeypatch) -> None:
    from alphapulse_cli.compact.run import CompactRequest, run_compact
    from alphapulse_cli.research import book as book_mod
    from tests.helpers.compact_data import make_data_dir

    data, lake = tmp_path / "data", tmp_path / "lake"
    make_data_dir(data, hours=1)
    run_compact(CompactRequest(data_dir=data, lake=lake, checkpoint_every_ns=SEC))
    with Lake(lake) as lk:
        ts = lk.sql(
            "SELECT epoch_ns(ts) AS t FROM book_updates WHERE venue = 'coinbase' ORDER BY t"
        ).column("t")
        instants = [
            ts[i].as_py() + d for i in range(0, len(ts), max(1, len(ts) // 40)) for d in (-1, 0, 1)
        ]
        fast = [lk.book_at("BTC-USD", at, depth, "coinbase") for at in instants for depth in (0, 5)]
    monkeypatch.setattr(book_mod, "_last_levels", lambda *a: None)
    with Lake(lake) as lk:
        slow = [lk.book_at("BTC-USD", at, depth, "coinbase") for at in instants for depth in (0, 5)]
    assert fast == slow
    assert sum(b["valid"] for b in fast) > len(fast) // 2
