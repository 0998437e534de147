"""The depth chart's books: the newest entry per (exchange, symbol) from the shm ring; when
there is no ring, the newest `book:<exchange>:<symbol>` entry in Redis (collect
--redis-books); failing that, books rebuilt from the raw logs under --data (logbooks.py).
The ring is tried again every few seconds, so a writer started later is picked up."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from alphapulse_cli.dashboard import PUSH_S
from alphapulse_cli.dashboard.logbooks import LogBooks
from alphapulse_cli.dashboard.redis_link import RedisLink, fields
from alphapulse_cli.errors import AlphapulseError, UpstreamError

REOPEN_S = 2.0
READ_MAX = 200_000  # ring entries taken in one poll


def _pairs(levels: list[tuple[float, float]]) -> list[list[float]]:
    return [[p, s] for p, s in levels]


class DepthSource:
    name = "depth"
    interval = PUSH_S

    def __init__(self, shm: str | None, redis: RedisLink | None, data: Path | None = None) -> None:
        self.shm = shm
        self.redis = redis
        self.logs = LogBooks(data) if data is not None else None
        self._reader: Any = None
        self._next_open = 0.0
        self._ring_error = "no --shm ring" if shm is None else ""
        self._raw: dict[tuple[int, int], tuple[int, bytes]] = {}
        self._redis_keys: list[str] = []
        self._last_scan = 0.0
        self.view: dict[str, Any] = {"books": {}, "source": "", "status": "starting"}

    def _open(self) -> None:
        from alphapulse_cli.shm.reader import ShmBookReader

        now = time.monotonic()
        if self.shm is None or now < self._next_open:
            return
        self._next_open = now + REOPEN_S
        try:
            reader = ShmBookReader.open(self.shm, start="end")
        except AlphapulseError as exc:
            self._ring_error = str(exc)
            return
        # The newest entry per book so far, then every entry from that point on.
        end = reader.write_seq
        self._raw = {(e.exchange_id, e.symbol_id): (e.sequence, e.raw) for e in reader.latest(end)}
        reader.seek(end)
        self._reader = reader
        self._ring_error = ""

    def _poll_ring(self) -> bool:
        from alphapulse_cli.shm import layout as L

        if self._reader is not None and self._reader.replaced():
            self._reader.close()
            self._reader = None
        if self._reader is None:
            self._open()
        reader = self._reader
        if reader is None:
            return False
        raw_by_book = self._raw
        head = L.ENTRY_HEAD.unpack_from
        for _ in range(READ_MAX):
            got = reader.read_raw()
            if got is None:
                break
            _ts, sid, eid = head(got[1])
            raw_by_book[(eid, sid)] = got
        return True

    def _ring_books(self) -> dict[str, Any]:
        from alphapulse_cli.shm import layout as L
        from alphapulse_cli.shm.reader import BookEntry

        books = {}
        for (eid, sid), (seq, raw) in self._raw.items():
            ts = L.ENTRY_HEAD.unpack_from(raw)[0]
            e = BookEntry(
                seq,
                ts,
                eid,
                sid,
                self._reader.exchange_name(eid),
                self._reader.symbol_name(sid),
                raw,
            )
            books[f"{e.exchange}:{e.symbol}"] = {
                "ts": ts,
                "bids": _pairs(e.bids()),
                "asks": _pairs(e.asks()),
            }
        return books

    def _redis_books(self) -> dict[str, Any]:
        assert self.redis is not None
        conn = self.redis.get()
        if conn is None:
            return {}
        now = time.monotonic()
        if now - self._last_scan >= REOPEN_S:
            self._last_scan = now
            self._redis_keys = self.redis.scan("book:*")
        books = {}
        for key in self._redis_keys:
            newest = conn.call("XREVRANGE", key, "+", "-", "COUNT", 1)
            if not newest:
                continue
            f = fields(newest[0][1])
            try:
                books[key.split(":", 1)[1]] = {
                    "ts": int(f.get("received") or 0) * 1000,
                    "bids": [[float(p), float(s)] for p, s in json.loads(f.get("bids", "[]"))],
                    "asks": [[float(p), float(s)] for p, s in json.loads(f.get("asks", "[]"))],
                }
            except (ValueError, TypeError):
                continue
        return books

    def poll(self) -> None:
        if self._poll_ring():
            self.view = {"books": self._ring_books(), "source": "ring", "status": "ok"}
            return
        why = self._ring_error
        if self.redis is not None:
            try:
                books = self._redis_books()
            except UpstreamError as exc:
                self.redis.failed(exc)
                books = {}
            if books:
                self.view = {"books": books, "source": "redis", "status": f"{why}; from Redis"}
                return
            why += "; no book:* streams in Redis (collect --redis-books)"
            if self.redis.error:
                why += f"; redis unreachable: {self.redis.error}"
        if self.logs is not None:
            self.logs.poll()
            books = self.logs.books()
            if books:
                self.view = {"books": books, "source": "log", "status": f"{why}; from the logs"}
                return
            why += f"; no valid book in the logs under {self.logs.data_dir}"
        self.view = {"books": {}, "source": "", "status": why}
