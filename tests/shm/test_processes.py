"""Writer and reader in separate processes: no torn entry under continuous writing, exact
lap counts, takeover of a dead writer's ring, refusal beside a live one."""

from __future__ import annotations

import signal
import time

import pytest

from alphapulse_cli.errors import ResourceBusyError
from alphapulse_cli.shm import ShmBookReader, ShmBookWriter
from tests.helpers.ring_proc import levels
from tests.helpers.shm import run_writer, wait_ready, writer_proc

pytestmark = pytest.mark.slow  # ring writers in other processes


def check_whole(e) -> None:
    """Every value of entry k is a function of k: a torn copy cannot pass."""
    k = e.ts_ns
    b, a = levels(k)
    assert e.sequence == k + 1
    assert list(e.levels()) == b + a, f"torn entry at sequence {e.sequence}"
    assert (e.exchange, e.symbol) == ("coinbase", "BTC-USD")


def test_no_torn_entry_while_the_writer_laps_a_tiny_ring(ring_name):
    # Two slots and a writer at full speed: the reader is lapped over and over, often while
    # copying the very slot being rewritten.
    total = 150_000
    with ShmBookWriter.open(ring_name, capacity=2):
        pass
    r = ShmBookReader.open(ring_name, start="end")
    p = writer_proc(ring_name, 2, total, "close")
    seen, last = 0, 0
    while True:
        e = r.read_next()
        if e is None:
            if p.poll() is not None and r.position >= r.write_seq:
                break
            continue
        check_whole(e)
        assert e.sequence > last
        last = e.sequence
        seen += 1
    assert p.returncode == 0, p.stderr.read()
    assert seen > 0 and r.write_seq == total
    assert seen + r.lost == total  # every entry was either read whole or counted as lost
    r.close()


def test_slow_reader_gets_every_entry_or_counts_it(ring_name):
    total = 60_000
    with ShmBookWriter.open(ring_name, capacity=16):
        pass
    r = ShmBookReader.open(ring_name, start="end")
    p = writer_proc(ring_name, 16, total, "close")
    got: list[int] = []
    while True:
        e = r.read_next()
        if e is None:
            if p.poll() is not None and r.position >= r.write_seq:
                break
            time.sleep(0.0002)  # an idle reader's poll, not a wait for a result
            continue
        check_whole(e)
        got.append(e.sequence)
        if len(got) % 64 == 0:
            time.sleep(0.001)  # far slower than the writer
    assert p.returncode == 0
    gaps = sum(b - a - 1 for a, b in zip([0, *got[:-1]], got, strict=True))
    assert gaps == r.lost and len(got) + r.lost == total
    assert got == sorted(set(got)) and got[-1] == total


def test_reader_that_never_read_sees_exactly_the_last_capacity_entries(ring_name):
    with ShmBookWriter.open(ring_name, capacity=64):
        pass
    r = ShmBookReader.open(ring_name, start="oldest")
    assert r.position == 0
    run_writer(ring_name, 64, 1000)
    entries = r.poll()
    assert [e.sequence for e in entries] == list(range(937, 1001))
    for e in entries:
        check_whole(e)
    assert (r.lost, r.returned, r.write_seq) == (936, 64, 1000)


def test_dead_writers_ring_is_taken_over_and_continued(ring_name):
    p = writer_proc(ring_name, 32, 10, "die")
    wait_ready(p)
    with ShmBookReader.open(ring_name) as r:
        assert r.writer_alive() and r.writer_pid == p.pid
        with pytest.raises(ResourceBusyError, match=rf"live process {p.pid}"):
            ShmBookWriter.open(ring_name)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        assert not r.writer_alive()
        assert r.writer_open  # it died without closing
        with ShmBookWriter.open(ring_name) as w:
            assert (w.write_seq, w.capacity) == (10, 32)
            assert r.writer_alive() and r.writer_pid != p.pid
            b, a = levels(10)
            w.write_levels(10, *w.ids("coinbase", "BTC-USD"), b, a)
        entries = r.poll()
    assert [e.sequence for e in entries] == list(range(1, 12))
    for e in entries:
        check_whole(e)


def test_writer_killed_mid_entry_never_yields_the_half_written_entry(ring_name):
    run_writer(ring_name, 8, 5, "midwrite")  # entry 5 left with an odd lock and scribbles
    r = ShmBookReader.open(ring_name)
    assert [e.sequence for e in r.poll()] == [1, 2, 3, 4, 5]
    assert r.read_next() is None and r.write_seq == 5
    run_writer(ring_name, 8, 2)  # takes over, rewrites entry 5 whole
    entries = r.poll()
    assert [e.sequence for e in entries] == [6, 7]
    for e in entries:
        check_whole(e)
    assert r.lost == 0
    r.close()


def test_refused_beside_a_live_writer_then_free_after_it_closes(ring_name):
    p = writer_proc(ring_name, 8, 3, "hold")
    wait_ready(p)
    with pytest.raises(ResourceBusyError) as err:
        ShmBookWriter.open(ring_name, capacity=8)
    msg = str(err.value)
    assert "\n" not in msg and str(p.pid) in msg and ring_name in msg
    with pytest.raises(ResourceBusyError):
        ShmBookWriter.open(ring_name, capacity=64)  # not even to replace it
    p.communicate("\n", timeout=30)
    assert p.returncode == 0
    with ShmBookReader.open(ring_name) as r:
        assert not r.writer_open and not r.writer_alive()
    with ShmBookWriter.open(ring_name) as w:
        assert w.write_seq == 3
