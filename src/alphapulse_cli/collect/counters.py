"""What a capture counts, per venue and per symbol, and the receive-to-written latency.

Plain integers bumped on the hot path; the status view and the Prometheus collector read
them when they render, so a busy feed pays for a dict lookup, not for a metrics library.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# Eight buckets per power of two: a percentile read from them is at most 12.5 % high.
_SUB = 8
_SUB_BITS = 3


@dataclass
class SymbolCounters:
    messages: int = 0
    bytes: int = 0
    trades: int = 0
    book_updates: int = 0
    gaps: int = 0
    checksum_ok: int = 0
    checksum_mismatch: int = 0
    resyncs: int = 0
    malformed: int = 0
    last_trade: dict[str, Any] | None = None


class LatencyHistogram:
    """Log-linear buckets of nanoseconds (eight per octave): cheap to fill, percentiles
    good to 12.5 %, and re-bucketable into Prometheus' cumulative `le` buckets."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.sum_ns = 0

    @staticmethod
    def index(ns: int) -> int:
        if ns < _SUB * 2:
            return max(ns, 0)
        bl = ns.bit_length()
        return (bl << _SUB_BITS) | ((ns >> (bl - _SUB_BITS - 1)) & (_SUB - 1))

    @staticmethod
    def upper(idx: int) -> int:
        """The exclusive upper bound, in ns, of bucket `idx`."""
        if idx < _SUB * 2:
            return idx + 1
        bl, sub = idx >> _SUB_BITS, idx & (_SUB - 1)
        return (_SUB + sub + 1) << (bl - _SUB_BITS - 1)

    def observe_many(self, now_ns: int, stamps: list[int]) -> None:
        counts = self.counts
        index = self.index
        total = 0
        for ts in stamps:
            d = now_ns - ts
            total += d
            i = index(d)
            counts[i] = counts.get(i, 0) + 1
        self.count += len(stamps)
        self.sum_ns += total

    def percentile(self, q: float) -> int | None:
        """The bucket bound at or above the q-th percentile (0 < q <= 100), in ns."""
        if not self.count:
            return None
        rank = q / 100 * self.count
        seen = 0
        for i in sorted(self.counts):
            seen += self.counts[i]
            if seen >= rank:
                return self.upper(i)
        return self.upper(max(self.counts))

    def cumulative(self, bounds_ns: list[int]) -> list[int]:
        """Observations at or below each bound (a bucket counts where its upper bound falls)."""
        items = sorted(self.counts.items())
        out = []
        for b in bounds_ns:
            out.append(sum(n for i, n in items if self.upper(i) <= b))
        return out

    def summary(self) -> dict[str, float | None]:
        def ms(v: int | None) -> float | None:
            return None if v is None else round(v / 1e6, 4)

        return {
            "p50_ms": ms(self.percentile(50)),
            "p99_ms": ms(self.percentile(99)),
            "p999_ms": ms(self.percentile(99.9)),
            "max_ms": ms(self.upper(max(self.counts)) if self.counts else None),
        }


@dataclass
class Counters:
    venue: str
    started_ns: int = field(default_factory=time.time_ns)
    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    session_events: int = 0
    connects: int = 0
    reconnects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    watchdog_timeouts: int = 0
    resubscribes: int = 0
    malformed: int = 0
    parser_errors: int = 0
    parse_backlog: int = 0  # frames recorded but not yet parsed, now
    parse_backlog_max: int = 0  # and at most
    venue_errors: int = 0
    connection_gaps: int = 0  # gaps of no one symbol (Advanced Trade sequence_num)
    sink_errors: dict[str, int] = field(default_factory=dict)
    symbols: dict[str, SymbolCounters] = field(default_factory=dict)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def symbol(self, sym: str) -> SymbolCounters:
        sc = self.symbols.get(sym)
        if sc is None:
            sc = self.symbols[sym] = SymbolCounters()
        return sc

    def totals(self) -> dict[str, int]:
        keys = ("trades", "gaps", "checksum_ok", "checksum_mismatch", "resyncs")
        out = {k: sum(getattr(s, k) for s in self.symbols.values()) for k in keys}
        out["gaps"] += self.connection_gaps
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "frames_in": self.frames_in,
            "bytes_in": self.bytes_in,
            "frames_out": self.frames_out,
            "session_events": self.session_events,
            "connects": self.connects,
            "reconnects": self.reconnects,
            "connect_failures": self.connect_failures,
            "watchdog_timeouts": self.watchdog_timeouts,
            "resubscribes": self.resubscribes,
            "malformed": self.malformed,
            "parser_errors": self.parser_errors,
            "parse_backlog_max": self.parse_backlog_max,
            "venue_errors": self.venue_errors,
            "sink_errors": dict(self.sink_errors),
            **self.totals(),
            "latency": self.latency.summary(),
        }
