"""Books rebuilt from the raw logs, the depth chart's last resort when there is neither a
ring nor `book:*` streams: the newest log of each venue under --data, read from its start
and fed through the same adapters as collect (core/derive.py), followed as it grows.

A log is read at most READ_MAX bytes a poll, so a long hour catches up over a few polls;
a book appears once its snapshot has been read and stays out while it is not valid
(awaiting a snapshot after a mismatch or a disconnect)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alphapulse_cli.core.derive import Normalizer
from alphapulse_cli.dashboard.firehose import LogFollower, newest_logs
from alphapulse_cli.shm import layout as L

_BOOK_TYPES = frozenset(("book_snapshot", "book_update"))


class LogBooks:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._followers: dict[str, LogFollower] = {}
        self._norms: dict[str, Normalizer] = {}
        self._books: dict[tuple[str, str], tuple[Any, int]] = {}  # (venue, symbol) -> adapter, ts

    def _feed(self, venue: str, follower: LogFollower) -> None:
        norm = self._norms.setdefault(venue, Normalizer())
        books = self._books
        for ts, tag, payload in follower.read():
            events = norm.process(ts, tag, payload)
            if not events:
                continue
            adapter = norm.last_adapter
            if adapter is None:
                continue
            for ev in events:
                if ev["type"] in _BOOK_TYPES:
                    books[(adapter.venue, ev["symbol"])] = (adapter, ts)

    def poll(self) -> None:
        for venue, newest in newest_logs(self.data_dir):
            cur = self._followers.get(venue)
            if cur is not None and cur.path != newest:
                self._feed(venue, cur)  # the rest of the rotated file first
                cur = None
            if cur is None:
                cur = self._followers[venue] = LogFollower(newest, venue, from_start=True)
            self._feed(venue, cur)

    def books(self) -> dict[str, Any]:
        out = {}
        for (venue, sym), (adapter, ts) in self._books.items():
            if not adapter.book_valid(sym):
                continue
            bids, asks = adapter.books[sym].top(L.MAX_LEVELS)
            out[f"{venue}:{sym}"] = {
                "ts": ts,
                "bids": [[float(p), float(s)] for p, s in bids],
                "asks": [[float(p), float(s)] for p, s in asks],
            }
        return out
