"""Lake.trades and bars: every trade once, exact, in receive order, across the seams between
the lake, the raw logs it does not hold yet, and Redis."""

from __future__ import annotations

import json
import warnings
from decimal import Decimal
from pathlib import Path

import pytest

from alphapulse_cli.exchange.thread import ExchangeThread
from alphapulse_cli.research import Lake, LakeWarning
from tests.helpers.cli import run_cli
from tests.helpers.redis_streams import RedisServer, free_port
from tests.helpers.research import collect, compact

pytestmark = pytest.mark.slow


def events(path: Path) -> list[dict]:
    r = run_cli("replay", str(path), "--format", "events")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def plain(table) -> list[dict]:
    """Rows with ns ints for times (pyarrow gives ns timestamps to Python only via pandas)."""
    import pyarrow as pa

    cols = {
        n: (c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c).to_pylist()
        for n, c in zip(table.column_names, table.columns, strict=True)
    }
    return [dict(zip(cols, row, strict=True)) for row in zip(*cols.values(), strict=True)]


@pytest.fixture(scope="module")
def seam(tmp_path_factory: pytest.TempPathFactory):
    """One market, three captures: A compacted into the lake, B left raw (and published to
    Redis), C published to Redis only."""
    root = tmp_path_factory.mktemp("seam")
    server = RedisServer(root).start()
    try:
        with ExchangeThread("coinbase", rate=1500, seed=11, trade_share=0.4) as ex:
            collect("coinbase", ex.url, root / "data", 2.5)
            compact(root / "data", root / "lake")
            collect("coinbase", ex.url, root / "data", 2.5, "--redis", server.url)
            collect("coinbase", ex.url, root / "other", 2.0, "--redis", server.url)
        yield root, server
    finally:
        server.stop()


def captured_trades(root: Path, symbol: str) -> list[dict]:
    """Each trade the three captures hold, once: a capture's first trade can be the last
    one the previous capture saw (Coinbase's last_match on subscribe)."""
    every = []
    for p in [*(root / "data").rglob("*.wslog*"), *(root / "other").rglob("*.wslog")]:
        every += [e for e in events(p) if e["type"] == "trade" and e["symbol"] == symbol]
    out: dict[str, dict] = {}
    for e in sorted(every, key=lambda e: e["ts_local"]):
        out.setdefault(e["trade_id"], e)  # the first copy: the lake's, older than the raw one
    return list(out.values())


def test_every_trade_once_exact_in_order_across_lake_raw_and_redis(seam) -> None:
    root, server = seam
    want = captured_trades(root, "BTC-USD")
    ids = [e["trade_id"] for e in want]
    assert len(ids) > 30
    got = plain(Lake(root / "lake", raw=root / "data", redis=server.url).trades("BTC-USD"))
    assert [r["trade_id"] for r in got] == sorted(ids, key=int)
    by_id = {e["trade_id"]: e for e in want}
    for r in got:
        e = by_id[r["trade_id"]]
        exact = (Decimal(e["price"]), Decimal(e["size"]), e["side"])
        assert (r["price"], r["size"], r["side"]) == exact
        # Redis keeps µs: only trades that reached us through Redis alone lose the ns digits.
        assert r["ts"] // 1000 == e["ts_local"] // 1000
        assert (r["venue"], r["symbol"]) == ("coinbase", "BTC-USD")
    assert [r["ts"] for r in got] == sorted(r["ts"] for r in got)


def test_history_and_the_gap_when_redis_is_down(seam) -> None:
    root, _ = seam
    down = f"redis://127.0.0.1:{free_port()}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = Lake(root / "lake", raw=root / "data", redis=down).trades("ETH-USD")
    history = {
        e["trade_id"]
        for p in (root / "data").rglob("*.wslog*")
        for e in events(p)
        if e["type"] == "trade" and e["symbol"] == "ETH-USD"
    }
    assert sorted(got.column("trade_id").to_pylist()) == sorted(history)
    msgs = [str(w.message) for w in caught if w.category is LakeWarning]
    assert len(msgs) == 1 and "unreachable" in msgs[0] and "missing" in msgs[0]

    from alphapulse_cli.errors import UpstreamError

    with pytest.raises(UpstreamError):
        Lake(root / "lake", raw=root / "data", redis=down, redis_required=True).trades("ETH-USD")


def test_a_time_range_selects_on_receive_time_inclusive(seam) -> None:
    root, server = seam
    lake = Lake(root / "lake", raw=root / "data", redis=server.url)
    everything = plain(lake.trades("BTC-USD"))
    lo, hi = everything[5]["ts"], everything[-6]["ts"]
    got = plain(lake.trades("BTC-USD", lo, hi))
    assert got == [r for r in everything if lo <= r["ts"] <= hi]
    assert plain(lake.trades("BTC-USD", venue="kraken")) == []
    assert plain(lake.trades("SOL-USD")) == []


def test_bars_agree_with_the_trades(seam) -> None:
    root, server = seam
    lake = Lake(root / "lake", raw=root / "data", redis=server.url)
    trades = plain(lake.trades("BTC-USD"))
    n = 1_000_000_000
    buckets: dict[int, list[dict]] = {}
    for t in trades:
        buckets.setdefault(t["ts"] // n * n, []).append(t)
    bars = plain(lake.bars("BTC-USD", "1s"))
    assert [b["ts"] for b in bars] == sorted(buckets)
    for b in bars:
        ts = buckets[b["ts"]]
        prices = [t["price"] for t in ts]
        assert (b["open"], b["close"]) == (prices[0], prices[-1])
        assert (b["high"], b["low"]) == (max(prices), min(prices))
        assert b["volume"] == sum(t["size"] for t in ts)
        assert b["trades"] == len(ts)
        exact = sum(t["price"] * t["size"] for t in ts) / b["volume"]
        assert abs(Decimal(repr(b["vwap"])) - exact) < Decimal("1e-6")
    # The lake alone (no tail) takes the direct SQL path: the same bars for what it holds.
    alone = plain(Lake(root / "lake").bars("BTC-USD", "1s"))
    lake_trades = plain(Lake(root / "lake").trades("BTC-USD"))
    assert sum(b["trades"] for b in alone) == len(lake_trades) > 0
