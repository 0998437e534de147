"""`replay --shm` of traffic recorded from the local exchange: what the ring holds against
`replay --format books --depth 50`, through shm-dump and through a numpy reader built from
the documented C structs alone; the interval; a writer killed mid-run and taken over."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alphapulse_cli.core import derive, sinks
from alphapulse_cli.errors import ResourceBusyError
from alphapulse_cli.shm import ShmBookReader
from alphapulse_cli.shm.layout import ring_path
from alphapulse_cli.shm.sink import ShmSink, parse_mode
from alphapulse_cli.wslog.reader import iter_records
from tests.helpers.cli import run_cli
from tests.helpers.record import record_local
from tests.helpers.shm_docstruct import doc_dtypes
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow  # replay --shm as a process, on a log from a local WebSocket exchange


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    return record_local(tmp_path_factory.mktemp("shm") / "local.wslog")


@pytest.fixture(scope="module")
def book_lines(recorded) -> list[dict]:
    r = run_cli("replay", str(recorded), "--format", "books", "--depth", "50")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def f32(levels) -> list[list[np.float32]]:
    """Decimal strings (books) or JSON numbers (shm-dump) as the float32 the ring holds."""
    return [[np.float32(float(p)), np.float32(float(s))] for p, s in levels]


def same_book(entry: dict, line: dict) -> bool:
    return (
        (entry["exchange"], entry["symbol"], entry["ts"])
        == (line["exchange"], line["symbol"], line["ts_local"])
        and f32(entry["bids"]) == f32(line["bids"])
        and f32(entry["asks"]) == f32(line["asks"])
    )


def last_per_book(lines: list[dict]) -> dict[tuple[str, str], dict]:
    return {(x["exchange"], x["symbol"]): x for x in lines}


def dump(*args: str) -> list[dict]:
    r = run_cli("shm-dump", *args, "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def replay_shm(log: Path, name: str, *extra: str) -> dict:
    r = run_cli("replay", str(log), "--shm", name, "--stats", *extra)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""  # with --shm, nothing on stdout
    return json.loads(r.stderr)["sinks"]["shm"]


def test_replay_shm_holds_every_book_line_and_latest_matches(recorded, book_lines, ring_name):
    books = last_per_book(book_lines)
    assert len(books) == 4 and any(len(x["bids"]) == 50 for x in books.values())
    stats = replay_shm(recorded, ring_name)
    assert stats["written"] == stats["write_seq"] == len(book_lines)
    assert (stats["errors"], stats["invalid"]) == (0, 0)
    entries = dump(ring_name)
    assert len(entries) == len(book_lines)  # the ring (8192 slots) holds them all
    assert [e["sequence"] for e in entries] == list(range(1, len(book_lines) + 1))
    for e, line in zip(entries, book_lines, strict=True):
        assert same_book(e, line), (e, line)
    latest = dump(ring_name, "--latest")
    assert len(latest) == 4
    for e in latest:
        assert same_book(e, books[(e["exchange"], e["symbol"])])
    (only,) = dump(ring_name, "--latest", "--exchange", "kraken", "--symbol", "ETH-USD")
    assert same_book(only, books[("kraken", "ETH-USD")])
    assert stat.S_IMODE(os.stat(ring_path(ring_name)).st_mode) == 0o600


def test_numpy_reader_from_the_man_page_structs_sees_the_same_books(
    recorded, book_lines, ring_name
):
    replay_shm(recorded, ring_name)
    raw = np.fromfile(ring_path(ring_name), dtype=np.uint8)
    h = raw[:92].view(doc_dtypes(896)[0])[0]
    cap, stride, hs = int(h["capacity"]), int(h["slot_stride"]), int(h["header_size"])
    _, _, slot = doc_dtypes(stride)
    slots = raw[hs : hs + cap * stride].view(slot)
    ex_off, sym_off = int(h["exchange_table_offset"]), int(h["symbol_table_offset"])
    exchanges = raw[ex_off : ex_off + 32 * int(h["exchange_rows"])].view("S32")
    symbols = raw[sym_off : sym_off + 32 * int(h["symbol_count"])].view("S32")
    n = int(h["write_seq"])
    newest: dict[tuple[str, str], np.void] = {}
    for k in range(max(0, n - cap), n):  # oldest first, so the newest per book wins
        s = slots[k % cap]
        assert s["lock"] == 2 * k + 2  # complete, and entry k
        e = s["entry"]
        assert e["sequence"] == k + 1
        key = (exchanges[e["exchange_id"]].decode(), symbols[e["symbol_id"]].decode())
        newest[key] = e
    books = last_per_book(book_lines)
    assert set(newest) == set(books)
    for key, e in newest.items():
        line = books[key]
        assert e["timestamp_ns"] == line["ts_local"]
        for side in ("bids", "asks"):
            want = np.array(f32(line[side]), dtype="<f4").reshape(-1, 2)
            got = e[side]
            assert (got[: len(want)] == want).all(), (key, side)
            assert not got[len(want) :].any()  # levels past the book's depth are 0, 0


def test_interval_writes_fewer_entries_each_a_real_state_and_the_last_one(
    recorded, book_lines, ring_name
):
    stats = replay_shm(recorded, ring_name, "--shm-interval", "250ms")
    entries = dump(ring_name)
    assert 4 <= len(entries) == stats["written"] < len(book_lines) / 4
    assert stats["coalesced"] > 0
    by_time = {(x["exchange"], x["symbol"], x["ts_local"]): x for x in book_lines}
    for e in entries:  # every entry is the book as it stood after some message
        assert same_book(e, by_time[(e["exchange"], e["symbol"], e["ts"])])
    span = (book_lines[-1]["ts_local"] - book_lines[0]["ts_local"]) / 250e6
    per_book: dict[tuple[str, str], int] = {}
    for e in entries:
        key = (e["exchange"], e["symbol"])
        per_book[key] = per_book.get(key, 0) + 1
    assert max(per_book.values()) <= span + 2
    books = last_per_book(book_lines)
    for e in dump(ring_name, "--latest"):  # held changes are written at the end
        assert same_book(e, books[(e["exchange"], e["symbol"])])


def test_sink_driven_as_collect_drives_it(recorded, book_lines, ring_name):
    sink = ShmSink(ring_name, 0, 0o640, capacity=64)
    with pytest.raises(ResourceBusyError, match="live process"):
        ShmSink(ring_name)
    r = ShmBookReader.open(ring_name)  # reads nothing until the end: lapped many times
    sinks.drive(
        iter_records(recorded),
        derive.Normalizer(),
        [sink],
    )
    summary = sinks.close_all([sink])["shm"]
    assert summary["written"] == len(book_lines) and sink.closed
    assert stat.S_IMODE(os.stat(ring_path(ring_name)).st_mode) == 0o640
    got = r.poll()
    assert r.lost == len(book_lines) - 64 and len(got) == 64
    assert not r.writer_alive()
    r.close()
    assert got[-1].ts_ns == book_lines[-1]["ts_local"]


def test_writer_killed_mid_replay_is_taken_over(recorded, book_lines, ring_name):
    # Paced at half speed the recording lasts about 6 s: kill it part way through.
    p = subprocess.Popen(
        [
            sys.executable, "-m", "alphapulse_cli", "replay", str(recorded),
            "--shm", ring_name, "--speed", "0.5",
        ],
        stderr=subprocess.PIPE,
    )  # fmt: skip

    def written_20() -> bool:
        if not ring_path(ring_name).exists():
            return False
        with ShmBookReader.open(ring_name) as r:
            return r.write_seq >= 20

    try:
        wait_until(written_20, timeout=30, interval=0.01)
        busy = run_cli("replay", str(recorded), "--shm", ring_name)
        assert busy.returncode == 1 and b"live process" in busy.stderr
        assert busy.stderr.count(b"\n") == 1
        p.send_signal(signal.SIGKILL)
    finally:
        p.kill()
        p.wait(timeout=30)
    (before,) = [json.loads(run_cli("shm-dump", ring_name, "--stats", "--count", "0").stderr)]
    assert not before["writer_alive"] and 20 <= before["write_seq"] < len(book_lines)
    stats = replay_shm(recorded, ring_name)
    assert stats["write_seq"] == before["write_seq"] + len(book_lines)
    books = last_per_book(book_lines)
    for e in dump(ring_name, "--latest"):
        assert same_book(e, books[(e["exchange"], e["symbol"])])


def test_bad_shm_options_exit_2(recorded, ring_name):
    for args in (("--shm-mode", "9"), ("--shm-interval", "soon")):
        r = run_cli("replay", str(recorded), "--shm", ring_name, *args)
        assert r.returncode == 2 and r.stderr.count(b"\n") == 1, r.stderr
        assert not ring_path(ring_name).exists()
    assert parse_mode("0640") == parse_mode("0o640") == parse_mode("640") == 0o640
    # Ring options without a ring are a mistake worth saying, not silently ignored.
    for cmd in (("replay", str(recorded)), ("collect", "kraken")):
        r = run_cli(*cmd, "--shm-interval", "1s", "--shm-mode", "640")
        assert r.returncode == 2, r.stderr
        assert r.stderr == b"alphapulse: --shm-interval and --shm-mode need --shm NAME\n"


def test_tick_writes_held_changes_once_their_interval_ends(recorded, ring_name):
    # Feed records until a book has changed again inside its 10 s interval.
    sink = ShmSink(ring_name, 10_000_000_000)
    norm = derive.Normalizer()
    ts = 0
    for ts, tag, payload in iter_records(recorded):
        events = norm.process(ts, tag, payload)
        if events and norm.last_adapter is not None:
            sink.handle(norm.last_adapter, ts, events)
        if sink.coalesced:
            break
    before = sink.written
    assert before >= 1
    sink.tick(ts)  # no interval has ended yet
    assert sink.written == before
    sink.tick(ts + 10_000_000_000)
    assert sink.written > before
    with ShmBookReader.open(ring_name) as r:
        newest = r.latest()
    books = {(a.venue, sym): a.books[sym] for a in norm.adapters.values() if a for sym in a.books}
    assert {(e.exchange, e.symbol) for e in newest} == set(books)
    for e in newest:  # the ring now shows every book as it stands
        bids, asks = books[(e.exchange, e.symbol)].top(50)
        assert e.bids() == [(np.float32(float(p)), np.float32(float(q))) for p, q in bids]
        assert e.asks() == [(np.float32(float(p)), np.float32(float(q))) for p, q in asks]
    assert sink.close()["written"] == sink.written  # nothing was left held
