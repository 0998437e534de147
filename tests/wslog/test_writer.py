"""The writer: framing per the spec, flushing, locking, rotation, end events."""

from __future__ import annotations

import fcntl
import json
import struct

import pytest

from alphapulse_cli.errors import ResourceBusyError
from alphapulse_cli.wslog.format import Kind, make_tag
from alphapulse_cli.wslog.reader import iter_records
from alphapulse_cli.wslog.writer import HOUR_NS, RotatingWriter, WslogWriter
from tests.helpers.wslog_spec import spec_log


def test_bytes_match_the_spec_encoding(tmp_path, sample_records):
    p = tmp_path / "w.wslog"
    w = WslogWriter(p)
    for ts, venue, kind, payload in sample_records:
        w.write(ts, make_tag(venue, kind), payload)
    w.close(end=False)
    assert p.read_bytes() == spec_log(sample_records)


def test_close_writes_end_event_and_releases_lock(tmp_path):
    p = tmp_path / "w.wslog"
    w = WslogWriter(p)
    w.write(5, make_tag(2, Kind.IN, conn=3), b"x")
    with open(p, "rb") as f, pytest.raises(BlockingIOError):
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    w.close(ts_ns=9, venue=2)
    recs = list(iter_records(p))
    assert recs[0] == (5, 2 | (3 << 8), b"x")
    assert recs[-1][1] >> 12 == Kind.EVENT and json.loads(recs[-1][2]) == {"event": "end"}
    with open(p, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_buffer_flushes_by_size_and_by_record_time(tmp_path):
    p = tmp_path / "f.wslog"
    w = WslogWriter(p, flush_bytes=1000, flush_interval_ns=100_000_000)
    w.write(1_000_000_000, 1, b"a")  # first record: the interval has passed since 0
    size0 = p.stat().st_size
    w.write(1_000_000_001, 1, b"b" * 10)
    assert p.stat().st_size == size0  # buffered
    w.write(1_200_000_000, 1, b"c")  # 200 ms later in record time
    assert p.stat().st_size == size0 + 14 + 10 + 14 + 1
    w.write(1_200_000_001, 1, b"d" * 2000)  # past the byte limit
    assert w.pending == 0
    w.close()


def test_second_writer_on_same_file_is_refused(tmp_path):
    p = tmp_path / "x.wslog"
    w = WslogWriter(p)
    with pytest.raises(FileExistsError):
        WslogWriter(p)
    w.close()


def test_rotation_is_hourly_and_carries_connect(tmp_path):
    rw = RotatingWriter(tmp_path, "kraken")
    h = 1_767_225_600_000_000_000  # 2026-01-01T00:00Z
    rw.write_event(h + 1, {"event": "connect", "url": "wss://ws.kraken.com/v2"}, conn=1)
    rw.write(h + 2, make_tag(2, Kind.IN, 1), b"a")
    rw.write(h + HOUR_NS + 5, make_tag(2, Kind.IN, 1), b"b")
    rw.close(ts_ns=h + HOUR_NS + 6)
    first = tmp_path / "kraken" / "20260101_00.wslog"
    second = tmp_path / "kraken" / "20260101_01.wslog"
    assert rw.files == [first, second]
    r1 = list(iter_records(first))
    r2 = list(iter_records(second))
    assert [r[2] for r in r1][1] == b"a" and json.loads(r1[-1][2])["event"] == "end"
    cont = json.loads(r2[0][2])
    assert cont == {"event": "continue", "url": "wss://ws.kraken.com/v2"}
    assert (r2[0][1] >> 8) & 0xF == 1
    assert r2[1][2] == b"b"


def test_each_file_closes_with_the_summaries_on_close_gives(tmp_path):
    h = 1_767_225_600_000_000_000
    closed: list[int] = []

    def summaries() -> list[tuple[int, dict]]:
        closed.append(len(closed))
        return [(1, {"event": "summary", "file": len(closed)})]

    rw = RotatingWriter(tmp_path, "kraken", on_close=summaries)
    rw.write(h + 2, make_tag(2, Kind.IN, 1), b"a")
    rw.write(h + HOUR_NS + 5, make_tag(2, Kind.IN, 1), b"b")
    rw.close(ts_ns=h + HOUR_NS + 6)
    for n, path in enumerate(rw.files, 1):
        recs = list(iter_records(path))
        assert [json.loads(r[2]) for r in recs[-2:]] == [
            {"event": "summary", "file": n},
            {"event": "end"},
        ]
        assert recs[-2][1] == make_tag(2, Kind.EVENT, 1)
    assert len(closed) == 2


def test_restart_within_the_hour_gets_a_sibling_file(tmp_path):
    h = 1_767_225_600_000_000_000
    a = RotatingWriter(tmp_path, "coinbase")
    a.write(h, 1, b"x")
    b = RotatingWriter(tmp_path, "coinbase")
    b.write(h + 1, 1, b"y")  # a still holds 20260101_00.wslog
    assert b.path is not None and b.path.name == "20260101_00.1.wslog"
    a.close()
    b.close()


def test_header_struct_is_14_bytes():
    assert struct.calcsize("<QHI") == 14
    with pytest.raises(ResourceBusyError.__mro__[1]):  # AlphapulseError
        from alphapulse_cli.venues_table import venue_id

        venue_id("binance")


def test_hour_of_name_inverts_hour_path(tmp_path):
    from alphapulse_cli.wslog.writer import hour_of_name, hour_path

    hour = 1_796_317_200_000_000_000  # 2026-12-03T17:00Z
    for ts in (hour, hour + 3_599_999_999_999):
        name = hour_path(tmp_path, "kraken", ts).name
        assert name == "20261203_17.wslog"
        assert hour_of_name(name) == hour_of_name(name + ".zst") == hour
    assert hour_of_name("20261203_17.2.wslog") == hour  # a restart's numbered sibling
    assert hour_of_name("20261303_17.wslog") is None  # month 13
    assert hour_of_name("capture.wslog") is None
