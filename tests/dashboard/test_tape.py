"""The trade tape against a real redis-server: the newest trades of every trades:* stream,
in order, and a clear status while Redis is down; and the depth chart's Redis fallback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from alphapulse_cli.dashboard.depth import DepthSource
from alphapulse_cli.dashboard.redis_link import RedisLink
from alphapulse_cli.dashboard.tape import KEEP, TapeSource
from tests.helpers.redis_streams import RedisServer, free_port
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    s = RedisServer(tmp_path_factory.mktemp("redis-tape")).start()
    try:
        yield s
    finally:
        s.stop()


def _add(r: redis.Redis, key: str, i: int, side: str = "buy") -> None:
    r.xadd(
        key,
        {
            "timestamp": str(1_700_000_000_000_000 + i),
            "price": f"100.{i:02d}",
            "volume": "0.5",
            "side": side,
            "trade_id": str(i),
            "received": str(1_700_000_000_000_100 + i),
        },
    )


def test_tape_reads_history_then_new_trades(server: RedisServer) -> None:
    r = server.client()
    r.flushall()
    for i in range(KEEP + 10):
        _add(r, "trades:coinbase:BTC-USD", i)
    src = TapeSource(server.url)
    src.poll()
    trades = src.view["trades"]
    assert src.view["status"] == "ok" and len(trades) == KEEP
    assert [t["trade_id"] for t in trades] == [str(i) for i in range(10, KEEP + 10)]
    _add(r, "trades:kraken:ETH-USD", KEEP + 10, side="sell")

    def kraken_seen() -> bool:
        src.poll()  # a stream that appears later is found by the next rescan
        return src.view["trades"][-1]["exchange"] == "kraken"

    wait_until(kraken_seen, timeout=5, interval=0.1)
    newest = src.view["trades"][-1]
    assert newest == {
        "exchange": "kraken",
        "symbol": "ETH-USD",
        "price": f"100.{KEEP + 10:02d}",
        "size": "0.5",
        "side": "sell",
        "trade_id": str(KEEP + 10),
        "ts": (1_700_000_000_000_000 + KEEP + 10) * 1000,
    }
    assert set(src.view["prices"]) == {"coinbase:BTC-USD", "kraken:ETH-USD"}


def test_tape_says_redis_is_down() -> None:
    src = TapeSource(f"redis://127.0.0.1:{free_port()}")
    src.poll()
    assert src.view["trades"] == []
    assert src.view["status"].startswith("redis unreachable:")
    assert "connection refused" in src.view["status"]


def test_depth_falls_back_to_redis_books(server: RedisServer) -> None:
    r = server.client()
    r.flushall()
    bids, asks = [["100.5", "1.25"], ["100", "2"]], [["101", "0.5"]]
    r.xadd(
        "book:kraken:BTC-USD",
        {
            "timestamp": "1700000000000000",
            "received": "1700000000000100",
            "bid_price": "100.5",
            "bid_size": "1.25",
            "ask_price": "101",
            "ask_size": "0.5",
            "bids": json.dumps(bids),
            "asks": json.dumps(asks),
        },
    )
    src = DepthSource("no-such-ring-for-dashboard", RedisLink(server.url, "test"))
    src.poll()
    assert src.view["source"] == "redis"
    assert "no such ring" in src.view["status"] and "from Redis" in src.view["status"]
    assert src.view["books"] == {
        "kraken:BTC-USD": {
            "ts": 1_700_000_000_000_100_000,
            "bids": [[100.5, 1.25], [100.0, 2.0]],
            "asks": [[101.0, 0.5]],
        }
    }
