"""collect on Coinbase Advanced Trade (served by the local exchange): a skipped
sequence_num is a gap, invalidates the connection's books and resubscribes level2 and
market_trades; the fresh snapshots make the books valid again and no trade is emitted twice."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.collect import outbound, records, run_collect, sessions, stopped

pytestmark = pytest.mark.slow  # runs collect against a local WebSocket exchange


def test_a_skipped_sequence_number_resubscribes_and_books_recover(tmp_path):
    r = run_collect(
        "coinbase", "BTC-USD", "ETH-USD", "--simulate", "--protocol", "advanced",
        "--skip", "60", "-n", "1500", "-o", str(tmp_path),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    assert stopped(r.stderr)["gaps"] == 1
    recs = records(tmp_path)
    resyncs = [e for e in sessions(recs) if e["event"] == "resync"]
    assert sorted(e["symbol"] for e in resyncs) == ["BTC-USD", "ETH-USD"]
    renewals = outbound(recs)[3:]  # after the three subscribes
    assert sorted((m["type"], m["channel"], tuple(m["product_ids"])) for m in renewals) == sorted(
        (kind, ch, (p,))
        for kind in ("subscribe", "unsubscribe")
        for ch in ("level2", "market_trades")
        for p in ("BTC-USD", "ETH-USD")
    )
    [summary] = [e for e in sessions(recs, summaries=True) if e["event"] == "summary"]
    assert summary["integrity"]["gaps"] == 1
    out = run_cli("replay", str(tmp_path), "--format", "events")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    [gap] = [e for e in events if e["type"] == "gap"]
    assert (gap["source"], gap["expected"], gap["got"]) == ("sequence_num", 60, 61)
    after = events[events.index(gap) :]
    snaps = {e["symbol"] for e in after if e["type"] == "book_snapshot"}
    assert snaps == {"BTC-USD", "ETH-USD"}  # both books were rebuilt from fresh snapshots
    ids = [(e["symbol"], e["trade_id"]) for e in events if e["type"] == "trade"]
    assert ids and len(ids) == len(set(ids))  # the resubscribe's trade snapshot repeats none
    books = run_cli("replay", str(tmp_path), "--format", "books")
    assert books.returncode == 0 and books.stdout
    last = {}
    for line in books.stdout.splitlines():
        b = json.loads(line)
        last[b["symbol"]] = b["ts_local"]
    assert set(last) == {"BTC-USD", "ETH-USD"} and min(last.values()) > gap["ts_local"]
