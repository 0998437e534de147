"""The ring in one process: layout on disk (read back by an independent numpy reader built
from the documented C structs), names, modes, truncation, lapping, takeover paths."""

from __future__ import annotations

import os
import stat
import struct

import numpy as np
import pytest

from alphapulse_cli.errors import ResourceBusyError, RingError, UsageError
from alphapulse_cli.shm import ShmBookReader, ShmBookWriter
from alphapulse_cli.shm import layout as L
from tests.helpers.shm_docstruct import doc_dtypes, documented_structs


def test_documented_layout_is_packed_and_matches_the_code():
    s = documented_structs()
    assert set(s) == {"ap_ring_header", "ap_book_entry", "ap_slot"}
    for name in ("ap_ring_header", "ap_book_entry"):
        pos = 0
        for ctype, field, dims, off in s[name]:
            assert off == pos, (name, field, off, pos)  # packed: each field follows the last
            size = int(np.prod(dims)) if dims else 1
            pos += size * (1 if ctype in ("char", "uint8_t") else 8 if ctype == "uint64_t" else 4)
        if name == "ap_book_entry":
            assert pos == L.ENTRY_SIZE == 828
        else:
            assert pos == L.HEADER.size
    header, entry, _ = doc_dtypes(L.SLOT_STRIDE)
    assert entry.itemsize == 828
    assert header.fields["write_seq"][1] == L.OFF_WRITE_SEQ
    assert header.fields["writer_pid"][1] == L.OFF_WRITER_PID
    assert header.fields["symbol_count"][1] == L.OFF_SYMBOL_COUNT
    assert entry.fields["sequence"][1] == L.E_SEQUENCE
    assert [f[1] for f in s["ap_slot"]] == ["lock", "entry"]
    assert s["ap_slot"][1][3] == L.ENTRY_OFFSET


def test_numpy_reader_from_the_documented_structs_reads_what_we_write(ring_name):
    bids = [["67123.45", "0.1"], ["67123.40", "2"], ["67000", "0.00012345"]]
    asks = [["67124", "1.5"]]
    with ShmBookWriter.open(ring_name, capacity=4) as w:
        w.write_book(1_700_000_000_000_000_001, "coinbase", "BTC-USD", bids, asks)
        w.write_book(1_700_000_000_000_000_002, "kraken", "ETH-USD", [["3000.1", "10"]], [])
        for k in range(4):  # wrap: slots 0 and 1 are rewritten, entries 3..6 remain
            w.write_book(1_700_000_000_000_000_010 + k, "kraken", "BTC-USD", bids[:1], asks)
        pid = os.getpid()
    raw = np.fromfile(L.ring_path(ring_name), dtype=np.uint8)
    h = raw[:92].view(doc_dtypes(896)[0])[0]
    assert h["magic"] == b"\x93APSHM\r\n" and h["version"] == 1
    assert (h["entry_size"], h["capacity"], h["max_levels"], h["name_size"]) == (828, 4, 50, 32)
    assert h["write_seq"] == 6 and h["writer_pid"] == pid and h["writer_open"] == 0
    _, _, slot = doc_dtypes(int(h["slot_stride"]))
    ex_off, sym_off = int(h["exchange_table_offset"]), int(h["symbol_table_offset"])
    exchanges = raw[ex_off : ex_off + 32 * int(h["exchange_rows"])].view("S32")
    symbols = raw[sym_off : sym_off + 32 * int(h["symbol_count"])].view("S32")
    assert exchanges[1] == b"coinbase" and exchanges[2] == b"kraken" and exchanges[0] == b""
    assert list(symbols) == [b"BTC-USD", b"ETH-USD"]
    hs = int(h["header_size"])
    slots = raw[hs : hs + int(h["slot_stride"]) * 4].view(slot)
    seqs = sorted(int(s["entry"]["sequence"]) for s in slots)
    assert seqs == [3, 4, 5, 6]
    for s in slots:
        n = int(s["entry"]["sequence"]) - 1
        assert s["lock"] == 2 * n + 2
        e = s["entry"]
        assert e["timestamp_ns"] == 1_700_000_000_000_000_010 + n - 2
        assert (symbols[e["symbol_id"]], exchanges[e["exchange_id"]]) == (b"BTC-USD", b"kraken")
        assert e["bids"][0].tolist() == [np.float32(67123.45), np.float32(0.1)]
        assert not e["bids"][1:].any() and e["asks"][0].tolist() == [67124.0, 1.5]
        assert not e["padding"].any()


def test_reader_decodes_names_levels_and_keeps_best_first(ring_name):
    bids = [[f"{100 - i}.5", f"{i + 1}"] for i in range(60)]  # 60 levels: the top 50 are kept
    asks = [["101.25", "0.5"]]
    with ShmBookWriter.open(ring_name, capacity=8) as w:
        assert w.write_book(7, "coinbase", "SOL-USD", bids, asks) == 1
    with ShmBookReader.open(ring_name) as r:
        (e,) = r.poll()
    assert (e.sequence, e.ts_ns, e.exchange, e.symbol) == (1, 7, "coinbase", "SOL-USD")
    assert e.bids() == [(100.5 - i, float(i + 1)) for i in range(50)]
    assert e.asks() == [(101.25, 0.5)]
    assert e.bids(3) == e.bids()[:3]
    assert e.raw[L.E_SEQUENCE : L.E_SEQUENCE + 4] == (1).to_bytes(4, "little")


def test_modes_default_0600_and_shm_mode(ring_name):
    old = os.umask(0o077)  # the mode asked for wins over the umask
    try:
        with ShmBookWriter.open(ring_name) as w:
            assert stat.S_IMODE(os.stat(w.path).st_mode) == 0o600
        os.unlink(L.ring_path(ring_name))
        with ShmBookWriter.open(ring_name, mode=0o640) as w:
            assert stat.S_IMODE(os.stat(w.path).st_mode) == 0o640
    finally:
        os.umask(old)


def test_reopen_after_clean_close_continues_the_sequence_and_keeps_names(ring_name):
    with ShmBookWriter.open(ring_name, capacity=8) as w:
        w.write_book(1, "kraken", "ETH-USD", [["1", "1"]], [])
        w.write_book(2, "coinbase", "BTC-USD", [["2", "1"]], [])
    with ShmBookWriter.open(ring_name) as w:
        assert (w.capacity, w.write_seq) == (8, 2)
        assert w.ids("coinbase", "BTC-USD") == (1, 1)
        assert w.write_book(3, "coinbase", "BTC-USD", [["3", "1"]], []) == 3
    with ShmBookReader.open(ring_name) as r:
        assert [(e.sequence, e.symbol) for e in r.poll()] == [
            (1, "ETH-USD"),
            (2, "BTC-USD"),
            (3, "BTC-USD"),
        ]


def test_takeover_keeps_an_entry_completed_but_not_yet_counted(ring_name):
    w = ShmBookWriter.open(ring_name, capacity=8)
    for k in range(4):
        w.write_book(k, "coinbase", "BTC-USD", [[str(100 + k), "1"]], [])
    # The writer dies between entry 3's closing lock store and the write_seq store.
    struct.pack_into("<Q", w._mm, L.OFF_WRITE_SEQ, 3)
    w._release()
    r = ShmBookReader.open(ring_name)
    assert [e.sequence for e in r.poll()] == [1, 2, 3, 4]  # entry 4's lock says complete
    with ShmBookWriter.open(ring_name) as w2:
        assert w2.write_seq == 4
        w2.write_book(9, "coinbase", "BTC-USD", [["109", "1"]], [])
    entries = r.poll()
    assert [(e.sequence, e.ts_ns) for e in entries] == [(5, 9)] and r.lost == 0
    with ShmBookReader.open(ring_name) as r2:
        assert [e.bids()[0][0] for e in r2.poll()] == [100, 101, 102, 103, 109]
    r.close()


def test_new_capacity_replaces_the_file_and_old_readers_can_tell(ring_name):
    with ShmBookWriter.open(ring_name, capacity=8) as w:
        w.write_book(1, "kraken", "ETH-USD", [["1", "1"]], [])
    r = ShmBookReader.open(ring_name)
    assert not r.replaced()
    with ShmBookWriter.open(ring_name, capacity=16) as w:
        assert (w.capacity, w.write_seq) == (16, 0)
    assert r.replaced()
    assert len(r.poll()) == 1  # the old mapping stays readable
    r.close()
    with ShmBookReader.open(ring_name) as r2:
        assert r2.capacity == 16 and r2.poll() == []


def test_second_writer_in_the_same_process_is_refused(ring_name):
    with (
        ShmBookWriter.open(ring_name, capacity=4),
        pytest.raises(ResourceBusyError, match=rf"live process {os.getpid()}"),
    ):
        ShmBookWriter.open(ring_name)


def test_lapped_reader_counts_lost_entries_exactly(ring_name):
    with ShmBookWriter.open(ring_name, capacity=4) as w:
        r = ShmBookReader.open(ring_name)
        for k in range(10):
            w.write_book(k, "coinbase", "BTC-USD", [[str(k + 1), "1"]], [])
        assert r.read_next().sequence == 7  # entries 1-6 were overwritten
        assert r.lost == 6
        assert [e.sequence for e in r.poll()] == [8, 9, 10]
        assert r.read_next() is None
        w.write_book(10, "coinbase", "BTC-USD", [["11", "1"]], [])
        assert r.read_next().sequence == 11
        assert (r.lost, r.returned) == (6, 5)
        r.close()


def test_latest_is_the_newest_entry_per_book(ring_name):
    with ShmBookWriter.open(ring_name, capacity=16) as w:
        w.write_book(1, "coinbase", "BTC-USD", [["1", "1"]], [])
        w.write_book(2, "kraken", "BTC-USD", [["2", "1"]], [])
        w.write_book(3, "coinbase", "BTC-USD", [["3", "1"]], [])
        w.write_book(4, "coinbase", "ETH-USD", [["4", "1"]], [])
    with ShmBookReader.open(ring_name) as r:
        got = [(e.sequence, e.exchange, e.symbol, e.bids()[0][0]) for e in r.latest()]
    assert got == [
        (2, "kraken", "BTC-USD", 2.0),
        (3, "coinbase", "BTC-USD", 3.0),
        (4, "coinbase", "ETH-USD", 4.0),
    ]


def test_bad_input_is_refused_with_one_line_errors(ring_name):
    with ShmBookWriter.open(ring_name, capacity=4) as w:
        with pytest.raises(UsageError, match="symbol name"):
            w.write_book(1, "coinbase", "X" * 40, [], [])
        with pytest.raises(Exception, match="not a number"):
            w.write_book(1, "coinbase", "BTC-USD", [["abc", "1"]], [])
        with pytest.raises(Exception, match="pairs"):
            w.write_book(1, "coinbase", "BTC-USD", [["1", "1", "3"]], [])
        assert w.write_seq == 0
    with pytest.raises(UsageError):
        L.ring_path("")
    with pytest.raises(UsageError):
        L.ring_path(".hidden")


def test_missing_and_foreign_files_are_ring_errors(ring_name):
    with pytest.raises(RingError, match="no such ring"):
        ShmBookReader.open(ring_name)
    path = L.ring_path(ring_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"{}" * 5000)
    with pytest.raises(RingError, match="bad magic"):
        ShmBookReader.open(ring_name)
    with pytest.raises(RingError, match="bad magic"):
        ShmBookWriter.open(ring_name)  # a writer never clobbers a file that is not a ring
    assert path.read_bytes() == b"{}" * 5000
    path.write_bytes(b"x")
    with pytest.raises(RingError, match="not a ring"):
        ShmBookReader.open(ring_name)
    with ShmBookWriter.open(ring_name + "-ok", capacity=4):
        pass
    ok = L.ring_path(ring_name + "-ok")
    data = ok.read_bytes()
    try:
        path.write_bytes(data[:-100])
        with pytest.raises(RingError, match="cut short"):
            ShmBookReader.open(ring_name)
        path.write_bytes(data[:8] + (2).to_bytes(4, "little") + data[12:])
        with pytest.raises(RingError, match="version 2"):
            ShmBookReader.open(ring_name)
    finally:
        ok.unlink()


def test_write_entry_takes_a_ready_tuple_and_a_bad_one_leaves_the_ring_untouched(ring_name):
    with ShmBookWriter.open(ring_name, capacity=4) as w:
        eid, sid = w.ids("kraken", "ETH-USD")
        assert w.write_entry(2, 1, (7, sid, eid, 3000.5, 1.25, 3000.0, 2.0, 3001.0, 0.5)) == 1
        lock_before = bytes(w._mm[: w.geometry.file_size])
        with pytest.raises(struct.error):
            w.write_entry(2, 1, (8, sid, eid, 3000.5, 1.25))  # too few values for 2+1 levels
        with pytest.raises(UsageError, match="at most 50"):
            w.write_entry(51, 0, (8, sid, eid, *([1.0] * 102)))
        assert w.write_seq == 1
        assert bytes(w._mm[: w.geometry.file_size]) == lock_before
        w.write_levels(9, eid, sid, [2999.0, 1.0], [])
    with ShmBookReader.open(ring_name) as r:
        first, second = r.poll()
    assert (first.ts_ns, first.exchange, first.symbol) == (7, "kraken", "ETH-USD")
    assert first.sequence == 1
    assert first.bids() == [(3000.5, 1.25), (3000.0, 2.0)]
    assert first.asks() == [(3001.0, 0.5)]
    assert first.raw[L.E_SEQUENCE : L.E_SEQUENCE + 4] == struct.pack("<I", 1)
    assert (second.ts_ns, second.bids(), second.asks()) == (9, [(2999.0, 1.0)], [])
