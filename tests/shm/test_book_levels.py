"""The compiled book_levels (a side's top levels as floats, for the ring) against
float() of BookSide.top: the same numbers, bit for bit, and the same side effect on the
side; and a sink writes the same ring entries with it and without it."""

from __future__ import annotations

import copy
import random

import pytest

from alphapulse_cli.core import derive, sinks
from alphapulse_cli.core.book import L2Book
from alphapulse_cli.shm import ShmBookReader
from alphapulse_cli.shm.sink import ShmSink
from alphapulse_cli.wslog.reader import iter_records
from tests.helpers.record import record_local

speedups = pytest.importorskip("alphapulse_cli._speedups")

# Around the exact fast path's edges: 15/16 significant digits, 22/23 decimals, leading
# and trailing zeros, integers past 2**53, forms only float() reads.
ODD_SIZES = [
    "0",
    "0.00000000",
    "123456789012345",
    "1234567890123456",
    "9007199254740993",
    "0.1234567890123456789",
    "0.0000000000000000000001",
    "0.00000000000000000000001",
    "000001.50000000000000000000",
    "5.",
    ".5",
    "1e-7",
    "1_000",
    " 2.5",
    "3.14159265358979323846264338327950288",
]


def side_state(side) -> tuple:
    return list(side.keys), dict(side.sizes), dict(side.prices), side.live


def floats_via_top(side, n: int) -> tuple[float, ...]:
    return tuple(float(x) for level in side.top(n) for x in level)


def random_book(rnd: random.Random) -> L2Book:
    book = L2Book()
    for _ in range(rnd.randint(0, 400)):
        whole = rnd.randint(1, 200_000)
        price = f"{whole}.{rnd.randint(0, 10 ** rnd.randint(1, 9) - 1)}"
        if rnd.random() < 0.05:
            size = rnd.choice(ODD_SIZES)
        elif rnd.random() < 0.3:
            size = "0"
        else:
            size = f"{rnd.randint(0, 10**6)}.{rnd.randint(0, 10**8):08d}"
        try:
            book.update(rnd.choice(("bid", "ask")), price, size)
        except ValueError:
            pass  # a size the book refuses: not a level
    return book


def test_book_levels_equal_float_of_top_and_drop_the_same_removed_levels():
    rnd = random.Random(11)
    for _ in range(300):
        book = random_book(rnd)
        twin = copy.deepcopy(book)
        for n in (0, 1, 7, 50, 256):
            for side, twin_side in ((book.bids, twin.bids), (book.asks, twin.asks)):
                assert speedups.book_levels(side, n) == floats_via_top(twin_side, n)
                assert side_state(side) == side_state(twin_side)


def test_odd_texts_convert_exactly_as_float_does():
    for size in ODD_SIZES:
        book = L2Book()
        book.bids.prices[1] = "100.5"
        book.bids.sizes[1] = size
        book.bids.keys.append(1)
        book.bids.live = 1
        got = speedups.book_levels(book.bids, 1)
        assert got == (100.5, float(size)), size
    book.bids.sizes[1] = "not a number"
    with pytest.raises(ValueError):
        speedups.book_levels(book.bids, 1)
    with pytest.raises(ValueError, match="at most 256"):
        speedups.book_levels(book.bids, 257)


@pytest.mark.slow
def test_sink_writes_the_same_entries_with_and_without_the_compiled_levels(
    tmp_path, ring_name, other_ring, monkeypatch
):
    log = record_local(tmp_path / "local.wslog")
    entries = []
    for name, compiled in ((ring_name, True), (other_ring, False)):
        if not compiled:
            monkeypatch.setenv("ALPHAPULSE_NO_SPEEDUPS", "1")
        sink = ShmSink(name, 0, 0o600, capacity=1 << 14)
        reader = ShmBookReader.open(name)
        sinks.drive(iter_records(log), derive.Normalizer(), [sink])
        sinks.close_all([sink])
        got = reader.poll()
        reader.close()
        assert len(got) > 50 and sink.errors == 0
        entries.append([(e.exchange, e.symbol, bytes(e.raw)) for e in got])  # byte for byte
    assert entries[0] == entries[1]
