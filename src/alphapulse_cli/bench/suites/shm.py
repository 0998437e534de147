"""shm: the ring's write cost per entry, and writer-to-reader latency across processes
pinned to different CPUs (p50/p99/p999).

Latency is measured end to end: the writer stamps CLOCK_MONOTONIC into the entry's
timestamp just before the write call, and a reader process busy-polling on another CPU
stamps the clock once it holds a seqlock-validated copy. Entries are spaced 20 µs apart,
and each is written only once the reader has taken the one before (it says so in a
separate shared word, never in the ring): the figure is latency, not queueing, and a
reader preempted by another task spoils one sample, not the backlog behind it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from array import array

from alphapulse_cli.bench.core import BenchContext, Result, percentile
from alphapulse_cli.shm import layout as L
from alphapulse_cli.shm.reader import ShmBookReader
from alphapulse_cli.shm.writer import ShmBookWriter, remove_ring

GAP_NS = 20_000
ACK_SIZE = 64


def _levels(depth: int, base: float) -> list[float]:
    out: list[float] = []
    for i in range(depth):
        out += [base - i * 0.5 if base < 60_000 else base + i * 0.5, 0.25 + i / 64]
    return out


def _books(depth: int, k: int) -> list[tuple[list[list[str]], list[list[str]]]]:
    """k books of decimal strings: stable prices, changing sizes, as a live top-N view."""
    out = []
    for j in range(k):
        bids = [
            [f"{67_000 - i * 0.01:.2f}", f"{0.001 * (i + j % 7 + 1):.8f}"] for i in range(depth)
        ]
        asks = [
            [f"{67_000.01 + i * 0.01:.2f}", f"{0.002 * (i + j % 5 + 1):.8f}"] for i in range(depth)
        ]
        out.append((bids, asks))
    return out


def _ring_name(tag: str) -> str:
    return f"bench-{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _write_cost(ctx: BenchContext) -> list[Result]:
    name = _ring_name("write")
    results = []
    try:
        w = ShmBookWriter.open(name, capacity=8192)
        eid, sid = w.ids("coinbase", "BTC-USD")
        for depth in (50, 10):
            n = ctx.scale(200_000)
            b, a = _levels(depth, 67_000.0), _levels(depth, 67_000.5 + 60_000)
            values = (0, sid, eid, *b, *a)
            write_entry = w.write_entry
            write = w.write_levels
            entry_samples, level_samples = [], []
            for i in range(ctx.repeats + 1):
                t0 = time.perf_counter_ns()
                for _ in range(n):
                    write_entry(depth, depth, values)
                t1 = time.perf_counter_ns()
                for j in range(n):
                    write(j, eid, sid, b, a)
                t2 = time.perf_counter_ns()
                if i:
                    entry_samples.append((t1 - t0) / n)
                    level_samples.append((t2 - t1) / n)
            results.append(
                Result(
                    f"write, depth {depth}, ready tuple",
                    "ns/entry",
                    entry_samples,
                    higher_is_better=False,
                    note="write_entry: one struct.pack + seqlock + memcpy; target <= 1000 ns",
                )
            )
            results.append(
                Result(
                    f"write, depth {depth}, float lists",
                    "ns/entry",
                    level_samples,
                    higher_is_better=False,
                    note="write_levels: the tuple built from two lists, then write_entry",
                )
            )
        for depth in (50, 10):
            n = ctx.scale(50_000)
            books = _books(depth, 256)
            write_book = w.write_book
            samples = []
            for i in range(ctx.repeats + 1):
                t0 = time.perf_counter_ns()
                for j in range(n):
                    bids, asks = books[j & 255]
                    write_book(j, "coinbase", "BTC-USD", bids, asks)
                dt = time.perf_counter_ns() - t0
                if i:
                    samples.append(dt / n)
            results.append(
                Result(
                    f"write_book, depth {depth}, decimal strings",
                    "ns/entry",
                    samples,
                    higher_is_better=False,
                    note="includes the decimal string -> float32 conversion",
                )
            )
        w.close()
    finally:
        remove_ring(name)
    return results


def latency_reader(name: str, count: int, cpu: int, ack_path: str) -> None:
    """The reader process: pin, busy-poll, write (sequence, copy-done clock) to stdout."""
    import mmap
    import struct

    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    with open(ack_path, "r+b") as f:
        ack_map = mmap.mmap(f.fileno(), ACK_SIZE)
    ack = memoryview(ack_map).cast("Q")
    r = ShmBookReader.open(name, start="end")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    seqs = array("q")
    done = array("q")
    read_raw = r.wait_raw
    clock = time.perf_counter_ns
    ts_of = struct.Struct("<Q").unpack_from
    deadline = time.monotonic() + 120
    idle = 0
    while len(seqs) < count:
        got = read_raw(4096)
        if got is None:
            idle += 1
            if idle > 1 << 10:
                idle = 0
                if time.monotonic() > deadline:
                    break
            continue
        t1 = clock()
        seq, raw = got
        ts = ts_of(raw)[0]
        if ts == 0:
            break
        seqs.append(seq)
        done.append(t1)
        ack[0] = seq
    ack.release()
    ack_map.close()
    out = sys.stdout.buffer
    out.write(struct.pack("<qq", len(seqs), r.lost))
    out.write(seqs.tobytes())
    out.write(done.tobytes())
    out.flush()
    r.close()


def _latency_run(
    name: str, depth: int, count: int, wcpu: int, rcpu: int
) -> tuple[list[float], list[float], int]:
    """(end-to-end latencies, handoff latencies, entries lost), each list sorted, in ns."""
    import mmap
    import struct

    w = ShmBookWriter.open(name, capacity=4096)
    ack_path = L.ring_path(name).with_name(f".{name}.ack")
    ack_path.write_bytes(bytes(ACK_SIZE))
    try:
        with open(ack_path, "r+b") as f:
            ack_map = mmap.mmap(f.fileno(), ACK_SIZE)
        ack = memoryview(ack_map).cast("Q")
        eid, sid = w.ids("coinbase", "BTC-USD")
        b, a = _levels(depth, 67_000.0), _levels(depth, 67_000.5 + 60_000)
        code = (
            "import sys; from alphapulse_cli.bench.suites.shm import latency_reader as f; "
            "f(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, name, str(count), str(rcpu), str(ack_path)],
            stdout=subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            if proc.stdout.readline() != b"ready\n":
                raise RuntimeError("shm latency reader did not start")
            clock = time.perf_counter_ns
            write = w.write_levels
            first = w.write_seq + 1
            started = array("q", bytes(8 * count))
            returned = array("q", bytes(8 * count))
            t0 = 0
            for i in range(count):
                taken = first + i - 1  # the previous entry
                give_up = clock() + 5_000_000_000
                while ack[0] < taken and i:
                    if clock() > give_up:
                        raise RuntimeError("shm latency reader stopped taking entries")
                while clock() - t0 < GAP_NS:
                    pass
                t0 = clock()
                write(t0, eid, sid, b, a)
                returned[i] = clock()
                started[i] = t0
            write(0, eid, sid, b, a)  # ts 0: stop
            data = proc.stdout.read()
        finally:
            proc.wait(timeout=60)
            ack.release()
            ack_map.close()
        n, lost = struct.unpack_from("<qq", data)
        seqs, done = array("q"), array("q")
        seqs.frombytes(data[16 : 16 + 8 * n])
        done.frombytes(data[16 + 8 * n : 16 + 16 * n])
        e2e, handoff = [], []
        for seq, t1 in zip(seqs, done, strict=True):
            k = seq - first
            if 0 <= k < count:
                e2e.append(float(t1 - started[k]))
                handoff.append(float(t1 - returned[k]))
        return sorted(e2e), sorted(handoff), lost
    finally:
        w.close()
        ack_path.unlink(missing_ok=True)


def _latency(ctx: BenchContext) -> list[Result]:
    allowed = sorted(os.sched_getaffinity(0))
    pinned = len(allowed) >= 2
    wcpu, rcpu = (allowed[0], allowed[1]) if pinned else (-1, -1)
    count = ctx.scale(20_000)
    results = []
    original = set(allowed)
    try:
        if pinned:
            os.sched_setaffinity(0, {wcpu})
        for depth in (10, 50):
            figures: dict[str, list[float]] = {}
            lost_total = 0
            for i in range(ctx.repeats + 1):
                name = _ring_name("lat")
                try:
                    e2e, handoff, lost = _latency_run(name, depth, count, wcpu, rcpu)
                finally:
                    remove_ring(name)
                if not i or not e2e:
                    continue  # the first run warms up
                lost_total += lost
                for q, label in ((0.50, "p50"), (0.99, "p99"), (0.999, "p999")):
                    figures.setdefault(f"latency {label}, depth {depth}", []).append(
                        percentile(e2e, q)
                    )
                for q, label in ((0.50, "p50"), (0.99, "p99"), (0.999, "p999")):
                    figures.setdefault(f"handoff {label}, depth {depth}", []).append(
                        percentile(handoff, q)
                    )
            where = f"writer CPU {wcpu}, reader CPU {rcpu}" if pinned else "unpinned (one CPU)"
            note = f"{where}; {count} entries/run {GAP_NS // 1000} us apart; lost {lost_total}"
            for label, samples in figures.items():
                what = (
                    "from the write call's return"
                    if label.startswith("handoff")
                    else "from the start of the write call"
                )
                results.append(
                    Result(label, "ns", samples, higher_is_better=False, note=f"{what}; {note}")
                )
    finally:
        os.sched_setaffinity(0, original)
    return results


def _sink_cost(ctx: BenchContext) -> list[Result]:
    """ShmSink.handle per book-changing message of Coinbase traffic into a 5000-level book:
    top 50 a side from the L2 book, decimal strings to float32, the ring write."""
    from alphapulse_cli.adapters import make_adapter
    from alphapulse_cli.bench.suites.parse import coinbase_traffic
    from alphapulse_cli.bench.suites.traffic import T0
    from alphapulse_cli.shm.sink import ShmSink

    frames = coinbase_traffic(ctx.scale(20_000))
    clock = time.perf_counter_ns
    p50s: list[float] = []
    p99s: list[float] = []
    for i in range(ctx.repeats + 1):
        name = _ring_name("sink")
        try:
            adapter = make_adapter("coinbase")
            sink = ShmSink(name, 0, capacity=8192)
            handle = sink.handle
            lat: list[float] = []
            for k, frame in enumerate(frames):
                events = adapter.feed(frame, T0 + k)
                if events and events[0]["type"] != "trade":
                    t0 = clock()
                    handle(adapter, T0 + k, events)
                    lat.append(clock() - t0)
            written = sink.close()["written"]
        finally:
            remove_ring(name)
        if i and written == len(lat):
            lat.sort()
            p50s.append(percentile(lat, 0.5))
            p99s.append(percentile(lat, 0.99))
    note = "replay/collect --shm per book update: top(50) + conversion + write; seed: < 10 us"
    return [
        Result(f"sink per book update {q}", "ns", xs, higher_is_better=False, note=note)
        for q, xs in (("p50", p50s), ("p99", p99s))
    ]


def shm_suite(ctx: BenchContext) -> list[Result]:
    """Write ns/entry (floats and decimal strings), the sink's cost per book update, and
    cross-process latency p50/p99/p999."""
    return _write_cost(ctx) + _sink_cost(ctx) + _latency(ctx)
