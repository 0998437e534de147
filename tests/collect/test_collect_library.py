"""collect as a library: sinks get every event and their failures never stop capture;
credentials sign the Coinbase subscribe and never reach the log; the backoff stays
inside the venues' limits."""

from __future__ import annotations

import base64
import json
import random
import re
from typing import Any

import pytest

from alphapulse_cli.collect import CollectConfig
from alphapulse_cli.collect import run_collect as collect_in_process
from alphapulse_cli.collect.backoff import Backoff
from alphapulse_cli.collect.counters import LatencyHistogram
from alphapulse_cli.collect.status import JsonLinesReporter
from alphapulse_cli.exchange.thread import ExchangeThread
from tests.helpers.collect import inbound, outbound, records, run_collect, sent_frames, stopped


class FlakySink:
    """Fails on every third message; remembers the events it took."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0
        self.events: list[dict[str, Any]] = []
        self.closed = False

    def handle(self, adapter: Any, ts_local: int, events: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("sink trouble")
        self.events += events

    def close(self) -> dict[str, Any]:
        self.closed = True
        return {"calls": self.calls}


@pytest.mark.slow
def test_sink_failures_are_counted_and_capture_continues(tmp_path):
    import io

    sink = FlakySink()
    err = io.StringIO()
    with ExchangeThread("kraken", rate=2000) as ex:
        cfg = CollectConfig("kraken", ["BTC-USD"], output=str(tmp_path), url=ex.url, duration=1.5)
        summary = collect_in_process(cfg, [sink], JsonLinesReporter(err))
        stats = ex.stats(wait_closed=1)
    assert sink.closed and summary["sinks"] == {"flaky": {"calls": sink.calls}}
    assert summary["sink_errors"] == {"flaky": sink.calls // 3} and sink.calls > 100
    assert len(inbound(records(tmp_path))) == sent_frames(stats) == summary["frames_in"]
    types = {e["type"] for e in sink.events}
    assert {"connect", "book_snapshot", "book_update", "trade"} <= types
    assert '"event": "sink_error"' in err.getvalue()


@pytest.mark.slow
def test_coinbase_credentials_sign_the_subscribe_and_stay_out_of_the_log(tmp_path):
    secret = base64.b64encode(b"s3cr3t-bytes-for-the-test").decode()
    env = {
        "ALPHAPULSE_COINBASE_KEY": "key-visible-nowhere",
        "ALPHAPULSE_COINBASE_SECRET": secret,
        "ALPHAPULSE_COINBASE_PASSPHRASE": "pass-visible-nowhere",
    }
    with ExchangeThread("coinbase", rate=2000) as ex:
        r = run_collect(
            "coinbase", "BTC-USD", "--url", ex.url, "-o", str(tmp_path), "-n", "300", env=env
        )
        stats = ex.stats(wait_closed=1)
    assert r.returncode == 0, r.stderr.decode()
    raw = b"".join(f.read_bytes() for f in tmp_path.rglob("*.wslog"))
    for text in (b"key-visible-nowhere", b"pass-visible-nowhere", secret.encode()):
        assert text not in raw and text not in r.stderr
    [sub] = outbound(records(tmp_path))
    assert sub["channels"] == ["level2", "matches", "heartbeat"]
    assert sub["key"] == sub["passphrase"] == sub["signature"] == "<redacted>"
    assert sub["timestamp"].isdigit()
    # The exchange accepted the signed level2 subscribe: l2update frames, no error.
    by_type = stats["connections"][0]["by_type"]
    assert by_type.get("l2update", 0) > 0 and "error" not in by_type
    assert stopped(r.stderr)["venue_errors"] == 0
    assert len(inbound(records(tmp_path))) == 300


def test_backoff_grows_with_jitter_to_the_cap_and_resets_after_a_stable_connection():
    b = Backoff("coinbase", rng=random.Random(1))
    delays = [b.delay(0.0, 0.0) for _ in range(12)]
    assert delays[0] < 0.25 and all(d <= b.cap for d in delays)
    assert delays[8] >= b.cap / 2  # doubled up to the cap, jitter never below half
    assert len({round(d, 6) for d in delays[9:]}) == 3  # jittered, not fixed
    assert b.delay(0.0, 60.0) < 0.25  # a connection that lived a minute starts over


def test_backoff_keeps_kraken_attempts_under_its_window_limit():
    b = Backoff("kraken", rng=random.Random(2))
    t = 0.0
    for _ in range(b.limit):
        b.attempted(t)
        t += 0.1
    wait = b.delay(t, 60.0)
    assert t + wait >= b.window  # the next attempt waits for the oldest to leave the window


def test_latency_histogram_percentiles_are_within_an_eighth():
    h = LatencyHistogram()
    values = [1000 * (i + 1) for i in range(1000)]  # 1 us .. 1 ms
    h.observe_many(2_000_000, [2_000_000 - v for v in values])
    for q, exact in ((50, 500_000), (99, 990_000)):
        got = h.percentile(q)
        assert got is not None and exact <= got <= exact * 1.125
    assert h.count == 1000 and h.sum_ns == sum(values)
    assert h.cumulative([1_000_000_000]) == [1000]


@pytest.mark.slow
def test_quiet_prints_nothing_on_a_clean_run(tmp_path):
    with ExchangeThread("kraken", rate=500) as ex:
        r = run_collect("kraken", "--url", ex.url, "-o", str(tmp_path), "-n", "50", "--quiet")
    assert r.returncode == 0
    assert r.stderr == b""


@pytest.mark.slow
def test_status_rows_and_views_show_books_trades_and_rates(tmp_path):
    import io
    from decimal import Decimal

    from rich.console import Console

    from alphapulse_cli.cli.collect_view import LiveReporter

    class Both:
        """Feeds the JSON-lines reporter and the terminal view the same calls."""

        def __init__(self) -> None:
            self.json = JsonLinesReporter(io.StringIO(), progress_interval=0.2)
            self.screen = io.StringIO()
            console = Console(file=self.screen, force_terminal=True, width=160, highlight=False)
            self.live = LiveReporter(console=console)

        def event(self, *a: Any) -> None:
            self.json.event(*a)
            self.live.event(*a)

        def tick(self, *a: Any) -> None:
            self.json.tick(*a)
            self.live.tick(*a)

        def close(self, *a: Any) -> None:
            self.json.close(*a)
            self.live.close(*a)

    rep = Both()
    with ExchangeThread("kraken", rate=2000) as ex:
        cfg = CollectConfig(
            "kraken", ["BTC-USD", "ETH-USD"], output=str(tmp_path), url=ex.url, duration=1.6
        )
        collect_in_process(cfg, [], rep)
    lines = [json.loads(x) for x in rep.json.stream.getvalue().splitlines()]
    progress = [x for x in lines if x["event"] == "progress"]
    assert progress and progress[-1]["bytes_written"] > 1000
    rows = {r["symbol"]: r for r in progress[-1]["symbols"]}
    assert set(rows) == {"BTC-USD", "ETH-USD"}
    for r in rows.values():
        assert r["msgs_per_s"] > 0 and r["messages"] > 0 and r["trades"] > 0
        assert Decimal(r["ask"]) - Decimal(r["bid"]) == Decimal(r["spread"]) > 0
        assert r["last_trade"]["type"] == "trade"
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", rep.screen.getvalue())
    assert "BTC-USD" in screen and "msg/s" in screen and "cksum fail" in screen
    assert "written " in screen
    assert "connect" in screen and "stopped (duration reached)" in screen


class ListSink:
    name = "list"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def handle(self, adapter: Any, ts_local: int, events: list[dict[str, Any]]) -> None:
        self.events += events

    def close(self) -> dict[str, Any]:
        return {"events": len(self.events)}


@pytest.mark.slow
def test_parsing_behind_recording_gives_the_events_the_log_replays_to(tmp_path, monkeypatch):
    """Frames are parsed in slices behind the recording, and a backlog beyond the limit is
    parsed down at once; either way the live events are exactly the log's events."""
    import io

    from alphapulse_cli.collect import connection
    from alphapulse_cli.core.derive import iter_event_lines
    from alphapulse_cli.exchange import Faults
    from alphapulse_cli.wslog.reader import iter_records

    monkeypatch.setattr(connection, "PARSE_SLICE", 7)
    monkeypatch.setattr(connection, "MAX_PARSE_BACKLOG", 60)
    sink = ListSink()
    err = io.StringIO()
    with ExchangeThread("kraken", rate=20_000, faults=Faults(skip=(300,))) as ex:
        cfg = CollectConfig(
            "kraken", ["BTC-USD", "ETH-USD"], output=str(tmp_path), url=ex.url, duration=1.5
        )
        summary = collect_in_process(cfg, [sink], JsonLinesReporter(err))
        stats = ex.stats(wait_closed=1)
    assert summary["frames_in"] == sent_frames(stats)
    assert summary["parse_backlog_max"] > 60
    assert '"event": "parse_backlog"' in err.getvalue()
    assert summary["checksum_mismatch"] >= 1 and summary["resubscribes"] >= 1
    recs = [r for f in sorted(tmp_path.rglob("*.wslog")) for r in iter_records(f)]
    lines = b"".join(iter_event_lines(recs)).splitlines()
    replayed = [json.loads(x) for x in lines]
    assert replayed == json.loads(json.dumps(sink.events))


@pytest.mark.slow
def test_hourly_rotation_during_a_capture_keeps_every_frame(tmp_path, monkeypatch):
    """With the hour shortened to 0.5 s: several files, each a complete log; the later ones
    open with a `continue` event naming the connection's URL."""
    import io

    from alphapulse_cli.wslog import writer

    monkeypatch.setattr(writer, "HOUR_NS", 500_000_000)
    with ExchangeThread("coinbase", rate=2000) as ex:
        cfg = CollectConfig("coinbase", ["BTC-USD"], output=str(tmp_path), url=ex.url, duration=1.6)
        summary = collect_in_process(cfg, [], JsonLinesReporter(io.StringIO()))
        stats = ex.stats(wait_closed=1)
    files = [tmp_path / f for f in summary["files"]]
    assert len(files) >= 3 and all(f.parent == tmp_path / "coinbase" for f in files)
    total = 0
    for i, f in enumerate(files):
        recs = records(f)  # tail=raise: each file is complete
        ev = [json.loads(p) for _, k, p in recs if k == "event"]
        assert ev[-1] == {"event": "end"}
        if i:
            assert ev[0] == {"event": "continue", "url": ex.url}
        total += len(inbound(recs))
    assert total == sent_frames(stats) == summary["frames_in"]


def test_protocol_follows_the_url_unless_given():
    from alphapulse_cli.adapters import make_adapter

    def proto(venue: str, url: str | None, given: str | None = None) -> str | None:
        return CollectConfig(venue, url=url, protocol=given).protocol

    assert proto("kraken", None) == "v2"
    assert proto("kraken", "ws://127.0.0.1:9/v2") == "v2"
    assert proto("kraken", "ws://127.0.0.1:9") == "v1"
    assert proto("kraken", "ws://127.0.0.1:9/kraken", "v2") == "v2"
    assert proto("coinbase", None) == "exchange"
    assert proto("coinbase", "wss://advanced-trade-ws.coinbase.com") == "advanced"
    cfg = CollectConfig("kraken", ["BTC-USD"], protocol="v1", depth=25)
    [book, trade] = [json.loads(m) for m in cfg.subscribe_messages(make_adapter("kraken"))]
    assert book["pair"] == ["XBT/USD"]
    assert book["subscription"] == {"name": "book", "depth": 25}
    assert trade["subscription"] == {"name": "trade"}
    assert cfg.endpoint(make_adapter("kraken")) == "wss://ws.kraken.com"


@pytest.mark.slow
def test_a_crashing_parser_is_counted_and_capture_goes_on(tmp_path, monkeypatch):
    import io

    from alphapulse_cli.adapters.kraken import KrakenAdapter

    real = KrakenAdapter.feed
    calls = {"n": 0}

    def flaky(self: Any, payload: bytes, ts: int) -> Any:
        calls["n"] += 1
        if calls["n"] % 50 == 0:
            raise RuntimeError("parser bug")
        return real(self, payload, ts)

    monkeypatch.setattr(KrakenAdapter, "feed", flaky)
    # The compiled path replaces the adapter's feed on the instance: keep it off here.
    monkeypatch.setenv("ALPHAPULSE_NO_SPEEDUPS", "1")
    err = io.StringIO()
    with ExchangeThread("kraken", rate=2000) as ex:
        cfg = CollectConfig("kraken", ["BTC-USD"], output=str(tmp_path), url=ex.url, duration=1.2)
        summary = collect_in_process(cfg, [], JsonLinesReporter(err))
        stats = ex.stats(wait_closed=1)
    assert summary["parser_errors"] == calls["n"] // 50 > 5
    assert len(inbound(records(tmp_path))) == sent_frames(stats) == summary["frames_in"]
    assert '"event": "parser_error"' in err.getvalue() and "parser bug" in err.getvalue()
