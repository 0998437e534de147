"""book: per-update latency (p50/p99, decimal-string conversion included) on a book of
tens of thousands of levels, and top-50 extraction time."""

from __future__ import annotations

import random
import time

from alphapulse_cli.bench.core import BenchContext, Result, percentile
from alphapulse_cli.core.book import L2Book

LEVELS = 25_000  # per side
MID = 6_700_000  # cents


def _price(cents: int) -> str:
    # A fresh string object per update, as a decoder hands them over (no cached hash).
    return f"{cents // 100}.{cents % 100:02d}".encode().decode()


def build_book(rnd: random.Random) -> L2Book:
    book = L2Book()
    book.load(
        [[_price(MID - i), f"{rnd.randint(1, 500) / 100:.8f}"] for i in range(1, LEVELS + 1)],
        [[_price(MID + i), f"{rnd.randint(1, 500) / 100:.8f}"] for i in range(LEVELS)],
    )
    return book


def updates(rnd: random.Random, count: int, deep: float) -> list[tuple[bool, str, str]]:
    """(is_bid, price, size): distance from the touch exponential (mean 30 ticks), a
    `deep` share anywhere in the book; 30% removals, the rest new absolute sizes."""
    out = []
    for _ in range(count):
        d = rnd.randrange(LEVELS) if rnd.random() < deep else int(rnd.expovariate(1 / 30))
        bid = rnd.random() < 0.5
        cents = MID - 1 - d if bid else MID + d
        zero = rnd.random() < 0.3
        size = "0.00000000" if zero else f"{rnd.randint(1, 5)}.{rnd.randint(0, 99_999_999):08d}"
        out.append((bid, _price(cents), size.encode().decode()))
    return out


def _timer_overhead() -> int:
    clock = time.perf_counter_ns
    lat: list[int] = []
    for _ in range(20_000):
        t0 = clock()
        lat.append(clock() - t0)
    lat.sort()
    return lat[len(lat) // 2]


def _latencies(book: L2Book, ups: list[tuple[bool, str, str]], overhead: int) -> list[float]:
    clock = time.perf_counter_ns
    bids, asks = book.bids.set, book.asks.set
    lat: list[float] = []
    append = lat.append
    for bid, price, size in ups:
        fn = bids if bid else asks
        t0 = clock()
        fn(price, size)
        append(clock() - t0 - overhead)
    lat.sort()
    return lat


def suite(ctx: BenchContext) -> list[Result]:
    """Book update p50/p99 per level change (with string->key conversion) on 50,000 levels,
    and top-50 extraction."""
    count = ctx.scale(200_000)
    overhead = _timer_overhead()
    figures: dict[str, list[float]] = {}
    top_samples: list[float] = []
    for rep in range(ctx.repeats):
        rnd = random.Random(rep)
        for label, deep in (("near the touch, 1% deep", 0.01), ("uniform depth", 1.0)):
            book = build_book(rnd)
            lat = _latencies(book, updates(rnd, count, deep), overhead)
            figures.setdefault(f"update p50, {label}", []).append(percentile(lat, 0.5) / 1000)
            figures.setdefault(f"update p99, {label}", []).append(percentile(lat, 0.99) / 1000)
        clock = time.perf_counter_ns
        tops: list[float] = []
        for _ in range(2000):
            t0 = clock()
            book.top(50)
            tops.append(clock() - t0 - overhead)
        tops.sort()
        top_samples.append(percentile(tops, 0.5) / 1000)
    note = f"{2 * LEVELS:,} levels, {count:,} updates, timer overhead {overhead} ns taken off"
    out = [Result(name, "us", s, higher_is_better=False, note=note) for name, s in figures.items()]
    out.append(Result("top-50 extraction (both sides)", "us", top_samples, higher_is_better=False))
    return out
