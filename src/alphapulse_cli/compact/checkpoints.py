"""Full-book checkpoints for the lake, so a book at any instant costs one checkpoint plus at
most `every` of updates instead of a replay from the log's start.

A checkpoint of (venue, symbol) at time T is the book after every record with a receive
time <= T: what `replay --format books` shows after the last record at or before T. It is
taken

- periodically, at the first message at or after each multiple of `every` (log time), for
  every book the adapter holds or has held;
- at once when a book's validity changes: its first snapshot, a checksum mismatch, a resync,
  a disconnect, and the snapshot that makes it valid again;
- at once when the log first mentions a book that is not valid (no snapshot yet).

So between two checkpoints a book's validity is constant, and a reader that finds an invalid
checkpoint knows the book was not trustworthy until the next one.

The adapter has already applied a message when its events arrive here, so a checkpoint is
copied then; when another message with the same receive time touches the book, the copy is
taken again. A copy is final once a later receive time is seen.

Rows (table ``book_checkpoints``): one per level (side bid/ask, price, size), or a single
row with side, price and size null for a book with no levels or one that is not valid;
every row carries ts (T), ts_book (the receive time of the book's last change at or before
T), valid, reason (why not valid), depth (the venue's truncation depth, null when the venue
sends the whole book) and venue_symbol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Event types after which a book's validity may have changed; trades and plain updates
# cannot change it, so the common messages skip the check.
_VALIDITY_TYPES = frozenset(
    ("book_snapshot", "checksum_mismatch", "resync", "connect", "disconnect", "gap")
)
_REASONS = {"checksum_mismatch": "checksum_mismatch", "disconnect": "disconnect"}

Copy = tuple[int, int | None, bool, str | None, int | None, list[list[str]], list[list[str]]]
Emit = Callable[[str, str, str, Copy], None]


class Checkpointer:
    """Watches one log's events (the LakeExport hook) and emits checkpoint copies through
    `emit(venue, symbol, venue_symbol, copy)` once each is final."""

    def __init__(self, every_ns: int, emit: Emit) -> None:
        self.every = every_ns
        self.emit = emit
        self._due: dict[int, int] = {}  # id(adapter) -> next periodic checkpoint time
        self._symbols: dict[int, set[str]] = {}
        self._valid: dict[tuple[str, str], bool] = {}
        self._reason: dict[tuple[str, str], str] = {}
        self._changed: dict[tuple[str, str], int] = {}
        self._vsym: dict[tuple[str, str], str] = {}
        self._pending: dict[tuple[str, str], Copy] = {}
        self._last_ts = -1

    def observe(self, adapter: Any, ts: int, events: list[dict[str, Any]]) -> None:
        if ts > self._last_ts:
            if self._pending:
                self._flush()
            self._last_ts = ts
        venue = adapter.venue
        aid = id(adapter)
        syms = self._symbols.setdefault(aid, set())
        touched: set[str] = set()
        check: set[str] | None = None
        new: list[str] = []
        for ev in events:
            sym = ev["symbol"]
            t = ev["type"]
            if sym is not None:
                key = (venue, sym)
                if sym not in syms:
                    syms.add(sym)
                    new.append(sym)
                    self._vsym[key] = ev["venue_symbol"] or sym
                if t == "book_update" or t == "book_snapshot":
                    self._changed[key] = ts
                    touched.add(sym)
            if t in _VALIDITY_TYPES:
                if check is None:
                    check = set()
                reason = _REASONS.get(t) or (ev.get("reason") if t == "resync" else t)
                targets = syms if sym is None else (sym,)
                for s in targets:
                    self._reason[(venue, s)] = str(reason)
                check.update(targets)
        due = self._due.get(aid)
        if due is None:
            due = self._due[aid] = (ts // self.every + 1) * self.every
        # A book first heard of without a valid snapshot (a log that continues a connection,
        # exported without its predecessor's state) is said to be not valid at once, so no
        # reader carries the older log's last copy past this point.
        take = {s for s in new if not adapter.book_valid(s)}
        if ts >= due:
            self._due[aid] = (ts // self.every + 1) * self.every
            take.update(syms)
        if check:
            for s in check:
                key = (venue, s)
                valid = adapter.book_valid(s)
                if valid != self._valid.get(key, False):
                    self._valid[key] = valid
                    take.add(s)
        # A copy waiting at this same time must include this message's changes too.
        for s in touched:
            if (venue, s) in self._pending:
                take.add(s)
        for s in take:
            self._copy(adapter, venue, s, ts)

    def _copy(self, adapter: Any, venue: str, sym: str, ts: int) -> None:
        key = (venue, sym)
        valid = adapter.book_valid(sym)
        self._valid[key] = valid
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        if valid:
            book = adapter.books[sym]
            bids = book.bids.top(len(book.bids))
            asks = book.asks.top(len(book.asks))
        reason = None if valid else self._reason.get(key, "no snapshot")
        depth = adapter.book_depth(sym)
        self._pending[key] = (ts, self._changed.get(key), valid, reason, depth, bids, asks)

    def _flush(self) -> None:
        for (venue, sym), copy in self._pending.items():
            self.emit(venue, sym, self._vsym.get((venue, sym), sym), copy)
        self._pending.clear()

    def close(self) -> None:
        """The log ended: every copy taken is final."""
        self._flush()
