"""`alphapulse query` against the research module it wraps, and its bad-input exits."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alphapulse_cli.research import Lake
from alphapulse_cli.research.output import iter_csv, iter_jsonl
from tests.helpers.cli import run_cli
from tests.helpers.compact_data import make_data_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("query")
    make_data_dir(root / "data", hours=1)
    r = run_cli("compact", str(root / "data"), "--parquet", str(root / "lake"), "-q")
    assert r.returncode == 0, r.stderr
    return root / "lake"


def query(*args: str) -> tuple[int, bytes, str]:
    r = run_cli("query", *args)
    return r.returncode, r.stdout, r.stderr.decode()


def test_trades_as_json_lines_are_the_module_s_rows(lake: Path) -> None:
    rc, out, err = query("trades", "btc/usd", "--lake", str(lake), "-e", "kraken")
    assert rc == 0, err
    table = Lake(lake).trades("BTC-USD", venue="kraken")
    assert out == b"".join(iter_jsonl(table))
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == table.num_rows > 100
    assert set(rows[0]) == {
        "ts",
        "ts_exchange",
        "venue",
        "symbol",
        "price",
        "size",
        "side",
        "trade_id",
    }
    from decimal import Decimal

    prices = table.column("price").to_pylist()
    assert all(isinstance(r["ts"], int) for r in rows)
    assert [Decimal(r["price"]) for r in rows] == prices  # exact text, no float on the way
    assert not any(r["price"].endswith("0") and "." in r["price"] for r in rows)


def test_csv_parquet_and_count(lake: Path, tmp_path: Path) -> None:
    table = Lake(lake).trades("BTC-USD", venue="coinbase")
    rc, out, _ = query("trades", "BTC-USD", "--lake", str(lake), "-e", "coinbase", "-f", "csv")
    assert rc == 0 and out == b"".join(iter_csv(table))
    assert out.splitlines()[0] == b"ts,ts_exchange,venue,symbol,price,size,side,trade_id"
    assert out.splitlines()[1].startswith(b"20") and out.splitlines()[1][29:30] == b"Z"
    dest = tmp_path / "t.parquet"
    rc, out, _ = query(
        "trades", "BTC-USD", "--lake", str(lake), "-e", "coinbase", "-f", "parquet", "-o", str(dest)
    )
    assert rc == 0 and out == b""
    assert pq.read_table(dest).equals(table)
    rc, out, _ = query("trades", "BTC-USD", "--lake", str(lake), "-e", "coinbase", "-c", "3")
    assert out.splitlines() == b"".join(iter_jsonl(table)).splitlines()[:3]


def test_book_bars_and_sql(lake: Path) -> None:
    lk = Lake(lake)
    at = lk.book_updates("ETH-USD", venue="kraken").column("ts").cast("int64")[-1].as_py()
    rc, out, err = query(
        "book", "ETH-USD", "--lake", str(lake), "-e", "kraken", "--at", str(at), "-d", "3"
    )
    assert rc == 0, err
    got = json.loads(out)
    want = lk.book_at("ETH-USD", at, depth=3, venue="kraken")
    assert got["valid"] and got["ts"] == want["ts"]
    assert got["bids"] == [[format(p, "f"), format(s, "f")] for p, s in want["bids"]]
    assert len(got["asks"]) == 3
    rc, out, _ = query("bars", "BTC-USD", "1s", "--lake", str(lake), "-e", "coinbase")
    assert out == b"".join(iter_jsonl(lk.bars("BTC-USD", "1s", venue="coinbase")))
    rc, out, _ = query(
        "sql",
        "SELECT venue, count(*) AS n FROM trades GROUP BY venue ORDER BY venue",
        "--lake",
        str(lake),
    )
    assert [json.loads(line)["venue"] for line in out.splitlines()] == ["coinbase", "kraken"]


def test_no_data_is_not_an_error(lake: Path) -> None:
    rc, out, err = query("trades", "DOGE-USD", "--lake", str(lake))
    assert (rc, out) == (0, b"")
    assert err == "alphapulse: no trades for DOGE-USD in that range\n"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("trades", "BTC-USD", "--lake", "{lake}", "--from", "-1m", "--to", "-2h"), 2, "swap"),
        (("candles", "BTC-USD", "--lake", "{lake}"), 2, "KIND"),
        (("bars", "BTC-USD", "--lake", "{lake}"), 2, "bars SYMBOL INTERVAL"),
        (("bars", "BTC-USD", "1x", "--lake", "{lake}"), 2, "interval"),
        (("book", "BTC-USD", "--lake", "{lake}"), 2, "--at"),
        (("sql", "SELEC 1", "--lake", "{lake}"), 2, "sql:"),
        (("trades", "BTC-USD", "--lake", "{missing}"), 3, "does not exist"),
        (("trades", "BTC-USD", "--lake", "{notlake}"), 3, "not an alphapulse lake"),
    ],
)
def test_bad_input_exits(lake: Path, tmp_path: Path, args, code, needle) -> None:
    (tmp_path / "notlake").mkdir()
    (tmp_path / "notlake" / "x.txt").write_text("x")
    subs = {
        "lake": str(lake),
        "missing": str(tmp_path / "nope"),
        "notlake": str(tmp_path / "notlake"),
    }
    rc, _, err = query(*(a.format(**subs) for a in args))
    assert rc == code, err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_cut_parquet_file_exits_3_naming_it(lake: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    victim = sorted(copy.glob("trades/venue=kraken/symbol=BTC-USD/date=*/*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:-100])
    before = sorted(p.stat().st_size for p in copy.rglob("*.parquet"))
    rc, _, err = query("trades", "BTC-USD", "--lake", str(copy))
    assert rc == 3 and str(victim) in err and "not a whole Parquet file" in err
    assert sorted(p.stat().st_size for p in copy.rglob("*.parquet")) == before  # nothing lost
    # Another symbol's files are whole: it still answers.
    assert query("trades", "ETH-USD", "--lake", str(copy))[0] == 0


def test_redis_down_warns_and_returns_history_or_exits_4(lake: Path) -> None:
    url = "redis://127.0.0.1:1"
    rc, out, err = query("trades", "BTC-USD", "--lake", str(lake), "--redis", url)
    assert rc == 0 and out == b"".join(iter_jsonl(Lake(lake).trades("BTC-USD")))
    assert err.startswith("alphapulse: warning: Redis unreachable") and "history" in err
    rc, out, err = query(
        "trades", "BTC-USD", "--lake", str(lake), "--redis", url, "--redis-required"
    )
    assert rc == 4 and out == b"" and err.count("\n") == 1


def test_pandas_and_the_repository(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    pd = pytest.importorskip("pandas")
    from alphapulse_cli.research import MarketDataRepository, to_pandas

    lk = Lake(lake)
    table = lk.trades("BTC-USD")
    df = asyncio.run(MarketDataRepository(lk).get_trades("BTC-USD", None, None))
    assert len(df) == table.num_rows and str(df["ts"].dt.tz) == "UTC"
    assert df["price"].iloc[0] == table.column("price")[0].as_py()  # Decimal, exact
    fast = to_pandas(table, decimals="float")
    assert fast["price"].dtype == "float64"
    assert isinstance(pd.Timestamp(df["ts"].iloc[0]), pd.Timestamp)
    from alphapulse_cli.errors import UsageError

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(UsageError, match=r"alphapulse-cli\[research\]"):
        to_pandas(table)


def test_the_example_script_runs(lake: Path) -> None:
    import subprocess

    script = Path(__file__).parents[2] / "examples" / "research.py"
    r = subprocess.run([sys.executable, str(script), str(lake)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "trades" in out and "bars" in out and "book" in out
