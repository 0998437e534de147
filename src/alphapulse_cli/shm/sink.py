"""The ring as an EventSink, for `replay --shm` and `collect --shm`.

After each message that changed books (book_snapshot, book_update events), every changed
book that is valid goes into the ring as its top 50 levels a side, stamped with the
message's local receive time. With an interval, a book is written at most once per
interval of that time: a change inside the interval is held back and written (as the
book then stands) by the first message at or after the interval's end, by `tick`, or at
close, so the ring's newest entry per book always ends up matching the book.

Time is the records' receive time, not the wall clock, so a replay throttles exactly as
the live capture did. A book that turns invalid (resync, disconnect) is not written until
its next snapshot; readers keep its last valid entry.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from alphapulse_cli.adapters.base import Adapter
from alphapulse_cli.core.book import BookSide
from alphapulse_cli.errors import AlphapulseError, DataError, UsageError
from alphapulse_cli.shm.layout import MAX_LEVELS
from alphapulse_cli.shm.writer import ShmBookWriter
from alphapulse_cli.speedups import kernel

_BookLevels = Callable[[BookSide, int], tuple[float, ...]]

_BOOK_TYPES = frozenset(("book_snapshot", "book_update"))
_MODE = re.compile(r"(?:0o?)?([0-7]{1,3})")
_NEVER = 1 << 63


def parse_mode(text: str, option: str = "--shm-mode") -> int:
    """Octal permission bits: `600`, `0640`, `0o644` -> int."""
    m = _MODE.fullmatch(text.strip())
    if not m:
        raise UsageError(f"{option} {text!r}: expected octal permission bits such as 600 or 640")
    return int(m.group(1), 8)


class ShmSink:
    """EventSink writing changed books into the ring `name` (/dev/shm/alphapulse/name).

    Opening takes the ring (creating it with `mode`, or taking over a dead writer's) and
    raises ResourceBusyError beside a live writer, so a capture fails before it starts.
    Once open it never raises: an entry that cannot be written (a price that is not a
    number, a full name table) is counted under `errors`. `handle` may be called from
    several threads: the ring has one writer, so calls are serialized.
    """

    name = "shm"

    def __init__(
        self,
        name: str,
        interval_ns: int = 0,
        mode: int = 0o600,
        *,
        capacity: int | None = None,
    ) -> None:
        if interval_ns < 0:
            raise UsageError(f"--shm-interval: {interval_ns} ns is negative")
        self.interval_ns = interval_ns
        self._writer = ShmBookWriter.open(name, capacity, mode)
        self.path = self._writer.path
        self._lock = threading.Lock()
        # Per (venue, symbol): the earliest receive time of its next write (interval only).
        self._due: dict[tuple[str, str], int] = {}
        # Books changed inside their interval: key -> (adapter, symbol, time of the change).
        self._held: dict[tuple[str, str], tuple[Adapter, str, int]] = {}
        self._next_due = _NEVER
        self.written = 0
        self.coalesced = 0  # changes folded into a later entry by the interval
        self.invalid = 0  # changes to a book awaiting its snapshot: not written
        self.errors = 0
        self.last_error: str | None = None
        self.closed = False
        # compiled: a side's top levels straight to floats, no lists
        self._book_levels: _BookLevels | None = kernel("book_levels")

    # ---- EventSink ----------------------------------------------------------------------

    def handle(self, adapter: Adapter, ts_local: int, events: list[dict[str, Any]]) -> None:
        with self._lock:
            if self.closed:
                return
            if len(events) == 1:
                ev = events[0]
                if ev["type"] in _BOOK_TYPES:
                    self._changed(adapter, ev["symbol"], ts_local)
            else:
                done: set[str] = set()
                for ev in events:
                    sym = ev["symbol"]
                    if ev["type"] in _BOOK_TYPES and sym not in done:
                        done.add(sym)
                        self._changed(adapter, sym, ts_local)
            if ts_local >= self._next_due:
                self._write_due(ts_local)

    def tick(self, now_ns: int) -> None:
        """Write the held books whose interval has ended by `now_ns` (receive-time clock,
        time.time_ns()). A live capture calls this now and then, so a change held back on
        a quiet feed is not left waiting for the next message."""
        with self._lock:
            if not self.closed and now_ns >= self._next_due:
                self._write_due(now_ns)

    def close(self) -> dict[str, Any]:
        with self._lock:
            if not self.closed:
                for adapter, sym, ts in list(self._held.values()):
                    self._write(adapter, sym, ts)
                self._held.clear()
                self._writer.close()
                self.closed = True
            return self.stats

    @property
    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ring": str(self.path),
            "written": self.written,
            "write_seq": self._writer.write_seq,
            "coalesced": self.coalesced,
            "invalid": self.invalid,
            "errors": self.errors,
        }
        if self.last_error is not None:
            out["last_error"] = self.last_error
        return out

    # ---- internals ----------------------------------------------------------------------

    def _changed(self, adapter: Adapter, sym: str, ts: int) -> None:
        if not self.interval_ns:
            self._write(adapter, sym, ts)
            return
        key = (adapter.venue, sym)
        due = self._due.get(key, 0)
        if ts < due:
            if key in self._held:
                self.coalesced += 1
            self._held[key] = (adapter, sym, ts)
            if due < self._next_due:
                self._next_due = due
            return
        self._held.pop(key, None)
        self._due[key] = ts + self.interval_ns
        self._write(adapter, sym, ts)

    def _write_due(self, now: int) -> None:
        nxt = _NEVER
        for key, (adapter, sym, ts) in list(self._held.items()):
            due = self._due[key]
            if due <= now:
                del self._held[key]
                self._due[key] = now + self.interval_ns
                self._write(adapter, sym, ts)
            elif due < nxt:
                nxt = due
        self._next_due = nxt

    def _write(self, adapter: Adapter, sym: str, ts: int) -> None:
        if not adapter.book_valid(sym):
            self.invalid += 1
            return
        book = adapter.books[sym]
        try:
            if self._book_levels is None:
                bids, asks = book.top(MAX_LEVELS)
                self._writer.write_book(ts, adapter.venue, sym, bids, asks)
            else:
                try:
                    b = self._book_levels(book.bids, MAX_LEVELS)
                    a = self._book_levels(book.asks, MAX_LEVELS)
                except ValueError as exc:
                    raise DataError(
                        f"{adapter.venue} {sym} at {ts}: book level is not a number ({exc})"
                    ) from None
                exchange_id, symbol_id = self._writer.ids(adapter.venue, sym)
                self._writer.write_levels(ts, exchange_id, symbol_id, b, a)
        except AlphapulseError as exc:
            self.errors += 1
            self.last_error = str(exc)
            return
        self.written += 1
