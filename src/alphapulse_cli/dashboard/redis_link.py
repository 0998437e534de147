"""One Redis connection per source thread that reconnects on its own: a source keeps
polling while Redis is down and says why instead of raising."""

from __future__ import annotations

import time
from typing import Any

from alphapulse_cli.errors import UpstreamError

RETRY_S = 2.0


class RedisLink:
    def __init__(self, url: str, client_name: str) -> None:
        from alphapulse_cli.redis_streams.url import parse_url

        self.target = parse_url(url)
        self.client_name = client_name
        self._conn: Any = None
        self._next_try = 0.0
        self.error = ""  # why the last attempt failed; empty while connected
        self.connected_at = 0  # counts connects, so a caller can redo its discovery

    def get(self) -> Any | None:
        """The connection, or None while Redis is down (one attempt per RETRY_S)."""
        if self._conn is not None:
            return self._conn
        now = time.monotonic()
        if now < self._next_try:
            return None
        self._next_try = now + RETRY_S
        from alphapulse_cli.redis_streams.conn import SyncConnection

        try:
            self._conn = SyncConnection(self.target, timeout=1.0, client_name=self.client_name)
        except UpstreamError as exc:
            self.error = str(exc)
            return None
        self.error = ""
        self.connected_at += 1
        return self._conn

    def failed(self, exc: UpstreamError) -> None:
        self.error = str(exc)
        self.close()

    def scan(self, pattern: str) -> list[str]:
        conn = self.get()
        if conn is None:
            return []
        found: set[str] = set()
        cursor: Any = b"0"
        while True:
            cursor, keys = conn.call(
                "SCAN", cursor, "MATCH", pattern, "COUNT", 1000, "TYPE", "stream"
            )
            found.update(k.decode("utf-8", "replace") for k in keys)
            if cursor in (b"0", "0"):
                return sorted(found)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def text(b: Any) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def fields(flat: list[Any]) -> dict[str, str]:
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
