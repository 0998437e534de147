"""Each dashboard source on its own, against the real thing it reads: a growing .wslog, a
ring, a Prometheus endpoint, Redis, psutil."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from alphapulse_cli.dashboard.depth import DepthSource
from alphapulse_cli.dashboard.firehose import FirehoseSource, find_boundary
from alphapulse_cli.dashboard.health import HealthSource, p99_ms, parse_metrics
from alphapulse_cli.dashboard.system import SystemSource
from alphapulse_cli.shm import ShmBookWriter
from alphapulse_cli.venues_table import VENUE_IDS
from alphapulse_cli.wslog import format as F
from alphapulse_cli.wslog.writer import WslogWriter


def _frame(i: int) -> bytes:
    return json.dumps({"type": "match", "trade_id": i, "pad": "x" * 40}).encode()


def test_firehose_follows_a_growing_log_and_samples(tmp_path: Path) -> None:
    src = FirehoseSource(tmp_path)
    src.poll()
    assert src.view["frames"] == [] and src.view["status"] == "waiting for .wslog files"
    (tmp_path / "coinbase").mkdir()
    tag = F.make_tag(VENUE_IDS["coinbase"], F.Kind.IN)
    w = WslogWriter(tmp_path / "coinbase" / "20260101_00.wslog")
    now = time.time_ns()
    for i in range(3):
        w.write(now + i, tag, _frame(i))
    w.flush()
    src.poll()
    texts = [f["text"] for f in src.view["frames"]]
    assert texts == [_frame(i).decode() for i in range(3)]
    assert {f["venue"] for f in src.view["frames"]} == {"coinbase"}
    assert {f["kind"] for f in src.view["frames"]} == {"in"}
    # A burst: only the newest frames of a poll are kept, and the rates say so.
    for i in range(3, 103):
        w.write(now + i, tag, _frame(i))
    w.flush()
    src.poll()
    assert src.view["frames"][-1]["text"] == _frame(102).decode()
    rate = src.view["rates"]["coinbase"]
    assert rate["seen_per_s"] == 103 and rate["shown_per_s"] < rate["seen_per_s"]
    w.close()


def test_firehose_opens_a_large_log_near_its_end(tmp_path: Path) -> None:
    (tmp_path / "kraken").mkdir()
    tag = F.make_tag(VENUE_IDS["kraken"], F.Kind.IN)
    now = time.time_ns()
    with WslogWriter(tmp_path / "kraken" / "20260101_00.wslog") as w:
        for i in range(8000):  # ~600 kB: more than the tail the firehose starts from
            w.write(now + i, tag, _frame(i))
    src = FirehoseSource(tmp_path)
    src.poll()
    frames = src.view["frames"]
    assert frames[-1]["kind"] == "event" and json.loads(frames[-1]["text"])["event"] == "end"
    assert frames[-2]["text"] == _frame(7999).decode()
    assert all(f["text"].startswith("{") for f in frames)


def test_find_boundary_skips_a_cut_record() -> None:
    now = time.time_ns()
    recs = b"".join(F.encode_record(now + i, 1, _frame(i)) for i in range(5))
    cut = recs[7:]
    first = len(F.encode_record(now, 1, _frame(0))) - 7
    assert find_boundary(cut, now) == first


def test_firehose_without_a_directory(tmp_path: Path) -> None:
    src = FirehoseSource(tmp_path / "nope")
    src.poll()
    assert "no such directory" in src.view["status"]


def test_depth_keeps_the_newest_book_from_the_ring(ring_name: str) -> None:
    w = ShmBookWriter.open(ring_name, capacity=64)
    try:
        w.write_book(1, "coinbase", "BTC-USD", [["100.5", "1"]], [["101", "2"]])
        src = DepthSource(ring_name, None)
        src.poll()
        assert src.view["source"] == "ring"
        assert src.view["books"]["coinbase:BTC-USD"]["bids"] == [[100.5, 1.0]]
        # Entries written after the reader opened, more than the ring holds.
        for i in range(100):
            w.write_book(2 + i, "coinbase", "BTC-USD", [["100", str(i + 1)]], [["101", "2"]])
        w.write_book(200, "kraken", "ETH-USD", [["3000", "1.5"], ["2999", "2"]], [])
        src.poll()
        books = src.view["books"]
        assert books["coinbase:BTC-USD"] == {
            "ts": 101,
            "bids": [[100.0, 100.0]],
            "asks": [[101.0, 2.0]],
        }
        assert books["kraken:ETH-USD"]["bids"] == [[3000.0, 1.5], [2999.0, 2.0]]
        assert books["kraken:ETH-USD"]["asks"] == []
    finally:
        w.close()


def test_depth_says_why_without_a_ring() -> None:
    src = DepthSource("no-such-ring-dashboard", None)
    src.poll()
    assert src.view["books"] == {} and "no such ring" in src.view["status"]


METRICS = """\
# TYPE alphapulse_collect_frames_total counter
alphapulse_collect_frames_total{venue="kraken",direction="in"} 1000.0
alphapulse_collect_frames_total{venue="kraken",direction="out"} 3.0
alphapulse_collect_gaps_total{venue="kraken",symbol="BTC-USD"} 2.0
alphapulse_collect_gaps_total{venue="kraken",symbol="ETH-USD"} 1.0
alphapulse_collect_checksums_total{venue="kraken",symbol="BTC-USD",result="ok"} 50.0
alphapulse_collect_checksums_total{venue="kraken",symbol="BTC-USD",result="mismatch"} 4.0
alphapulse_collect_resyncs_total{venue="kraken",symbol="BTC-USD"} 4.0
# TYPE alphapulse_collect_parse_backlog_frames gauge
alphapulse_collect_parse_backlog_frames{venue="kraken"} 7.0
# TYPE alphapulse_collect_receive_to_written_seconds histogram
alphapulse_collect_receive_to_written_seconds_bucket{venue="kraken",le="0.0001"} 900.0
alphapulse_collect_receive_to_written_seconds_bucket{venue="kraken",le="0.001"} 995.0
alphapulse_collect_receive_to_written_seconds_bucket{venue="kraken",le="+Inf"} 1000.0
"""


def test_parse_metrics_sums_what_the_row_shows() -> None:
    m = parse_metrics(METRICS)
    assert m["venue"] == "kraken"
    assert (m["frames_in"], m["gaps"], m["checksum_mismatch"]) == (1000, 3, 4)
    assert (m["resyncs"], m["parse_backlog"]) == (4, 7)
    assert p99_ms(m["buckets"], []) == 1.0
    # Between two scrapes only the new observations count.
    later = [(0.0001, 950.0), (0.001, 1010.0), (float("inf"), 2000.0)]
    assert p99_ms(later, m["buckets"]) is None  # the new 1000: p99 beyond the last bound


@pytest.mark.slow
def test_health_scrapes_a_collectors_metrics() -> None:
    from alphapulse_cli.collect.counters import Counters
    from alphapulse_cli.collect.metrics import serve_metrics

    counters = Counters("coinbase")
    counters.frames_in = 10
    counters.symbol("BTC-USD").gaps = 2
    server = serve_metrics(0, "127.0.0.1", counters)
    url = f"http://127.0.0.1:{server.port}/metrics"
    src = HealthSource([url, "127.0.0.1:1"])
    try:
        src.poll()
        counters.frames_in = 110
        time.sleep(0.2)  # the rate is frames over the time between two scrapes
        src.poll()
        up, down = src.view
        assert (up["venue"], up["status"], up["gaps"]) == ("coinbase", "connected", 2)
        assert 100 < up["msgs_per_s"] < 100 / 0.2 + 1
        assert down["status"] == "unreachable" and down["url"] == "http://127.0.0.1:1"
        counters.connect_failures += 1  # the collector is failing to connect again
        src.poll()
        assert src.view[0]["status"] == "reconnecting"
    finally:
        server.shutdown()
    src.poll()
    assert src.view[0]["status"] == "unreachable"


def test_system_reports_host_and_own_process() -> None:
    src = SystemSource([])
    src.poll()
    v = src.view
    assert v["host"]["cpus"] >= 1 and v["host"]["mem_total_mb"] > 0
    assert v["dashboard"]["rss_mb"] > 1 and v["collectors"] == []
