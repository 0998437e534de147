"""collect under each fault the local exchange injects: it reconnects, resynchronises only
the affected symbol, counts what is broken, and never stops capturing."""

from __future__ import annotations

import json

import pytest

from alphapulse_cli.exchange import Faults
from alphapulse_cli.exchange.thread import ExchangeThread
from tests.helpers.collect import (
    inbound,
    log_lines,
    outbound,
    records,
    run_collect,
    sent_frames,
    sessions,
    stopped,
)

pytestmark = pytest.mark.slow  # every test runs collect against a local WebSocket exchange


def test_drop_reconnects_with_connect_and_disconnect_events(tmp_path):
    with ExchangeThread("kraken", rate=3000, faults=Faults(drop_after=400)) as ex:
        r = run_collect(
            "kraken", "BTC-USD", "--url", ex.url, "-o", str(tmp_path), "--duration", "3"
        )
        stats = ex.stats(wait_closed=2)
    assert r.returncode == 0, r.stderr.decode()
    recs = records(tmp_path)
    ev = sessions(recs)
    kinds = [e["event"] for e in ev]
    assert kinds[:3] == ["connect", "disconnect", "connect"]
    assert ev[1]["reason"] == "connection lost (no close frame)"
    assert kinds[-2:] == ["disconnect", "end"]
    assert len(stats["connections"]) == 2
    assert len(inbound(recs)) == sent_frames(stats)
    # Frames of the first connection come before its disconnect event.
    cut = next(i for i, rec in enumerate(recs) if rec[1] == "event" and b"disconnect" in rec[2])
    assert sum(1 for rec in recs[:cut] if rec[1] == "in") == 400
    summary = stopped(r.stderr)
    assert summary["reconnects"] == 1
    assert any(x["event"] == "disconnect" and x["level"] == "warning" for x in log_lines(r.stderr))


def test_coinbase_trade_gap_resubscribes_only_that_product(tmp_path):
    faults = Faults(skip=(5,))
    with ExchangeThread("coinbase", rate=3000, trade_share=0.3, faults=faults) as ex:
        r = run_collect(
            "coinbase",
            "BTC-USD",
            "ETH-USD",
            "--url",
            ex.url,
            "-o",
            str(tmp_path),
            "--duration",
            "2.5",
        )
        stats = ex.stats(wait_closed=1)
    assert r.returncode == 0, r.stderr.decode()
    [gap] = stats["connections"][0]["gaps"]
    product = gap["symbol"]
    recs = records(tmp_path)
    assert len(inbound(recs)) == sent_frames(stats)
    resyncs = [e for e in sessions(recs) if e["event"] == "resync"]
    assert resyncs == [{"event": "resync", "symbol": product, "reason": "gap"}]
    renewals = outbound(recs)[1:]
    assert [m["type"] for m in renewals] == ["unsubscribe", "subscribe"]
    assert all(m["product_ids"] == [product] for m in renewals)
    lines = log_lines(r.stderr)
    assert [x["symbol"] for x in lines if x["event"] == "gap"] == [product]
    summary = stopped(r.stderr)
    assert summary["gaps"] == 1 and summary["resubscribes"] == 1
    # The product got a fresh snapshot after its resubscribe.
    ix = next(i for i, rec in enumerate(recs) if rec[1] == "event" and b"resync" in rec[2])
    assert any(
        b'"type":"snapshot"' in p and product.encode() in p for _, k, p in recs[ix:] if k == "in"
    )


def test_kraken_skip_and_corrupt_resubscribe_only_the_broken_book(tmp_path):
    for n, (faults, url_attr) in enumerate(
        [(Faults(skip=(50,)), "url"), (Faults(corrupt=(60,)), "url_v1")]
    ):
        out = tmp_path / str(n)
        with ExchangeThread("kraken", rate=3000, faults=faults) as ex:
            url = getattr(ex, url_attr)
            r = run_collect(
                "kraken", "BTC-USD", "ETH-USD", "--url", url, "-o", str(out), "--duration", "2.5"
            )
            stats = ex.stats(wait_closed=1)
        assert r.returncode == 0, r.stderr.decode()
        recs = records(out)
        assert len(inbound(recs)) == sent_frames(stats)
        summary = stopped(r.stderr)
        assert summary["checksum_mismatch"] >= 1, summary
        resyncs = [e for e in sessions(recs) if e["event"] == "resync"]
        assert resyncs and all(e["reason"] == "checksum_mismatch" for e in resyncs)
        broken = {e["symbol"] for e in resyncs}
        assert len(broken) == 1
        renewals = outbound(recs)[(3 if url_attr == "url" else 2) :]
        assert renewals, "no resubscribe was sent"
        for m in renewals:
            pairs = m["params"]["symbol"] if "params" in m else m["pair"]
            assert pairs == sorted(broken)
        mismatched = [x for x in log_lines(r.stderr) if x["event"] == "checksum_mismatch"]
        assert mismatched and {x["symbol"] for x in mismatched} <= {
            s.replace("/", "-").replace("XBT", "BTC") for s in broken
        }
        # After the resubscribe the book checks out again.
        assert summary["checksum_ok"] > 100


def test_malformed_frame_is_counted_and_capture_goes_on(tmp_path):
    faults = Faults(malformed_after=(100, 300))
    with ExchangeThread("coinbase", rate=3000, faults=faults) as ex:
        r = run_collect(
            "coinbase", "BTC-USD", "--url", ex.url, "-o", str(tmp_path), "--duration", "2"
        )
        stats = ex.stats(wait_closed=1)
    assert r.returncode == 0, r.stderr.decode()
    recs = records(tmp_path)
    frames = inbound(recs)
    assert len(frames) == sent_frames(stats) > 400
    assert stopped(r.stderr)["malformed"] == 2
    bad = [x for x in log_lines(r.stderr) if x["event"] == "malformed"]
    assert len(bad) == 2 and all(x["reason"] for x in bad)
    # The cut-off frames are in the log as received.
    assert sum(1 for p in frames if not _is_json(p)) == 2


def _is_json(p: bytes) -> bool:
    try:
        json.loads(p)
        return True
    except ValueError:
        return False


def test_refused_symbol_is_reported_and_the_others_are_captured(tmp_path):
    with ExchangeThread("kraken", rate=2000, faults=Faults(refuse=("ETH/USD",))) as ex:
        r = run_collect(
            "kraken", "BTC-USD", "ETH-USD", "--url", ex.url, "-o", str(tmp_path), "--duration", "2"
        )
    assert r.returncode == 0, r.stderr.decode()
    errors = [x for x in log_lines(r.stderr) if x["event"] == "venue_error"]
    assert errors and all("ETH/USD" in x["message"] for x in errors)
    summary = stopped(r.stderr)
    assert summary["venue_errors"] == len(errors)
    assert summary["trades"] > 0


def test_every_symbol_refused_exits_4(tmp_path):
    faults = Faults(refuse=("BTC-USD",), connections=0)
    with ExchangeThread("coinbase", rate=1000, faults=faults) as ex:
        r = run_collect(
            "coinbase", "BTC-USD", "--url", ex.url, "-o", str(tmp_path), "--watchdog", "1"
        )
    assert r.returncode == 4, r.stderr.decode()
    assert b"refused the subscription" in r.stderr and b"BTC-USD is not a valid product" in r.stderr
    ev = sessions(records(tmp_path))
    assert [e["event"] for e in ev] == ["connect", "disconnect", "end"]


def test_watchdog_reconnects_a_stalled_connection(tmp_path):
    faults = Faults(stall_after=300, stall_for=3.0)
    with ExchangeThread("kraken", rate=2000, faults=faults) as ex:
        r = run_collect(
            "kraken",
            "BTC-USD",
            "--url",
            ex.url_v1,
            "-o",
            str(tmp_path),
            "--duration",
            "3",
            "--watchdog",
            "0.8",
        )
    assert r.returncode == 0, r.stderr.decode()
    ev = sessions(records(tmp_path))
    assert ev[1]["event"] == "disconnect" and ev[1]["reason"].startswith("watchdog: no frame for")
    assert ev[2]["event"] == "connect"
    summary = stopped(r.stderr)
    assert summary["watchdog_timeouts"] == 1 and summary["reconnects"] == 1
