"""What a capture tells its operator: notable events as they happen, and a periodic view.

A reporter gets `event(level, kind, fields)` for every event worth knowing (connect,
disconnect, reconnect, gap, checksum mismatch, resync, malformed frame, venue error, sink
failure), `tick(rows, totals)` twice a second, and `close(summary)` at the end. Without a
terminal the reporter below writes one JSON object per line on stderr; the live terminal
view lives with the command (it uses rich, which library modules do not import).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, TextIO

from alphapulse_cli.adapters.base import Adapter
from alphapulse_cli.collect.counters import Counters
from alphapulse_cli.core.times import ns_to_rfc3339

LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3}
BURST = 20  # lines of one kind per window before the rest are summed up
BURST_WINDOW_S = 10.0
PROGRESS_INTERVAL_S = 60.0


class Reporter(Protocol):
    def event(self, level: str, kind: str, fields: dict[str, Any]) -> None: ...

    def tick(self, rows: list[dict[str, Any]], totals: dict[str, Any]) -> None: ...

    def close(self, summary: dict[str, Any]) -> None: ...


def iso_now() -> str:
    return ns_to_rfc3339(time.time_ns(), 3)


class JsonLinesReporter:
    """One JSON object per line: {"ts", "level", "event", ...fields}. `quiet` keeps only
    errors: reconnects, gaps and outages are what a capture lives with, and -q means silence.
    A kind that repeats fast (a venue sending garbage) is limited to BURST lines per
    BURST_WINDOW_S; the next line of that kind says how many were held back. A progress
    line (totals) is written every `progress_interval` seconds."""

    def __init__(
        self,
        stream: TextIO,
        *,
        quiet: bool = False,
        progress_interval: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.stream = stream
        self.min_level = LEVELS["error"] if quiet else LEVELS["info"]
        self.progress_interval = progress_interval
        self._next_progress = time.monotonic() + progress_interval
        self._window: dict[str, tuple[float, int, int]] = {}  # kind -> (start, lines, held)

    def _line(self, level: str, kind: str, fields: dict[str, Any]) -> None:
        obj = {"ts": iso_now(), "level": level, "event": kind, **fields}
        try:
            self.stream.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # stderr gone: capture goes on regardless

    def event(self, level: str, kind: str, fields: dict[str, Any]) -> None:
        if LEVELS.get(level, 1) < self.min_level:
            return
        now = time.monotonic()
        start, lines, held = self._window.get(kind, (now, 0, 0))
        if now - start >= BURST_WINDOW_S:
            start, lines = now, 0
        if lines >= BURST:
            self._window[kind] = (start, lines, held + 1)
            return
        if held:
            fields = {**fields, "suppressed_before": held}
        self._window[kind] = (start, lines + 1, 0)
        self._line(level, kind, fields)

    def tick(self, rows: list[dict[str, Any]], totals: dict[str, Any]) -> None:
        now = time.monotonic()
        if now < self._next_progress or self.min_level > LEVELS["info"]:
            return
        self._next_progress = now + self.progress_interval
        self._line("info", "progress", {**totals, "symbols": rows})

    def close(self, summary: dict[str, Any]) -> None:
        if self.min_level <= LEVELS["info"]:
            self._line("info", "stopped", summary)


class StatusBoard:
    """Turns counters and the adapter's books into the per-symbol rows the views show."""

    def __init__(
        self,
        counters: Counters,
        adapter: Adapter,
        symbols: list[str],
        written: Callable[[], int] | None = None,
        sinks: Sequence[Any] = (),
    ) -> None:
        self.counters = counters
        self.sinks = sinks
        self.adapter = adapter
        self.symbols = symbols
        self.written = written  # bytes the log writer has handed to the kernel
        self._prev: dict[str, int] = {}
        self._prev_frames = 0
        self._prev_t = time.monotonic()
        self._last_top: dict[str, tuple[str | None, str | None]] = {}

    def rows(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        now = time.monotonic()
        dt = max(now - self._prev_t, 1e-9)
        self._prev_t = now
        c = self.counters
        rows = []
        for sym in self.symbols:
            sc = c.symbol(sym)
            rate = (sc.messages - self._prev.get(sym, sc.messages)) / dt
            self._prev[sym] = sc.messages
            bid, ask = self._top(sym)
            rows.append(
                {
                    "symbol": sym,
                    "msgs_per_s": round(rate, 1),
                    "messages": sc.messages,
                    "last_trade": sc.last_trade,
                    "bid": bid,
                    "ask": ask,
                    "spread": _spread(bid, ask),
                    "trades": sc.trades,
                    "gaps": sc.gaps,
                    "checksum_failures": sc.checksum_mismatch,
                    "resyncs": sc.resyncs,
                    "bytes": sc.bytes,
                }
            )
        rate = (c.frames_in - self._prev_frames) / dt
        self._prev_frames = c.frames_in
        totals = {
            "venue": c.venue,
            "frames_in": c.frames_in,
            "frames_per_s": round(rate, 1),
            "bytes_in": c.bytes_in,
            "reconnects": c.reconnects,
            "malformed": c.malformed,
            "sink_errors": sum(c.sink_errors.values()),
            "parse_backlog": c.parse_backlog,
            "bytes_written": self.written() if self.written is not None else None,
            "sinks": sink_stats(self.sinks),
        }
        return rows, totals

    def _top(self, sym: str) -> tuple[str | None, str | None]:
        """The best bid and ask of a valid book; between connections (no book) the last
        ones seen, so the final view still shows where the market was."""
        adapter = self.adapter
        try:
            if not adapter.book_valid(sym):
                return self._last_top.get(sym, (None, None)) if not adapter.books else (None, None)
            bids, asks = adapter.books[sym].top(1)
        except Exception:
            return None, None
        top = (bids[0][0] if bids else None), (asks[0][0] if asks else None)
        self._last_top[sym] = top
        return top


def sink_stats(sinks: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Each sink's live counters (Redis: published, dropped, queue, connected; shm:
    written), for the status view and the metrics."""
    out: dict[str, dict[str, Any]] = {}
    for sink in sinks:
        try:
            stats = sink.stats
        except Exception as exc:  # a view never fails for a sink's sake
            stats = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        if isinstance(stats, dict):
            out[sink.name] = stats
    return out


def _spread(bid: str | None, ask: str | None) -> str | None:
    if bid is None or ask is None:
        return None
    try:
        return str(Decimal(ask) - Decimal(bid))
    except InvalidOperation:
        return None
