"""The trade tape: the newest trades from the Redis streams `trades:*`, and a price line
(one point per second, last minutes) per stream."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from alphapulse_cli.dashboard import PUSH_S
from alphapulse_cli.dashboard.redis_link import RedisLink, fields, text
from alphapulse_cli.errors import UpstreamError

KEEP = 200
PRICE_WINDOW_S = 300
RESCAN_S = 2.0
READ_COUNT = 5000


def trade_of(key: str, flat: list[Any]) -> dict[str, Any] | None:
    """A tape row from a stream entry (redis_streams/entries.py fields); None if not ours."""
    parts = key.split(":", 2)
    if len(parts) != 3:
        return None
    f = fields(flat)
    try:
        ts = int(f.get("timestamp") or f["received"]) * 1000
    except (KeyError, ValueError):
        return None
    return {
        "exchange": parts[1],
        "symbol": parts[2],
        "price": f.get("price", ""),
        "size": f.get("volume", ""),
        "side": f.get("side", ""),
        "trade_id": f.get("trade_id") or None,
        "ts": ts,
    }


class TapeSource:
    name = "tape"
    interval = PUSH_S

    def __init__(self, url: str | None) -> None:
        self.link = RedisLink(url, "alphapulse-dashboard") if url is not None else None
        self._cursors: dict[str, str] = {}
        self._trades: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self._prices: dict[str, deque[tuple[int, float]]] = {}
        self._last_scan = 0.0
        self._seen_connect = 0
        self.view: dict[str, Any] = {
            "trades": [],
            "prices": {},
            "status": "no --redis" if url is None else "connecting",
        }

    def _discover(self) -> None:
        assert self.link is not None
        for key in self.link.scan("trades:*"):
            if key in self._cursors:
                continue
            # A stream seen for the first time: its newest entries fill the tape.
            conn = self.link.get()
            newest = conn.call("XREVRANGE", key, "+", "-", "COUNT", KEEP) if conn else []
            self._cursors[key] = text(newest[0][0]) if newest else "0-0"
            self._add(key, list(reversed(newest)))

    def _add(self, key: str, entries: list[Any]) -> None:
        for _eid, flat in entries:
            t = trade_of(key, flat)
            if t is None:
                continue
            self._trades.append(t)
            try:
                price = float(t["price"])
            except ValueError:
                continue
            line = self._prices.setdefault(key.split(":", 1)[1], deque())
            sec = t["ts"] // 1_000_000_000 * 1000
            if line and line[-1][0] == sec:
                line[-1] = (sec, price)
            else:
                line.append((sec, price))

    def poll(self) -> None:
        if self.link is None:
            return
        try:
            self._poll()
        except UpstreamError as exc:
            self.link.failed(exc)
        status = f"redis unreachable: {self.link.error}" if self.link.error else "ok"
        if not self.link.error and not self._cursors:
            status = "no trades:* streams yet"
        horizon = (time.time_ns() // 1_000_000) - PRICE_WINDOW_S * 1000
        for line in self._prices.values():
            while line and line[0][0] < horizon:
                line.popleft()
        trades = sorted(self._trades, key=lambda t: t["ts"])
        self.view = {
            "trades": trades,
            "prices": {k: list(v) for k, v in self._prices.items()},
            "status": status,
        }

    def _poll(self) -> None:
        assert self.link is not None
        conn = self.link.get()
        if conn is None:
            return
        now = time.monotonic()
        if self.link.connected_at != self._seen_connect or now - self._last_scan >= RESCAN_S:
            self._seen_connect = self.link.connected_at
            self._last_scan = now
            self._discover()
        if not self._cursors:
            return
        keys = list(self._cursors)
        reply = conn.call(
            "XREAD", "COUNT", READ_COUNT, "STREAMS", *keys, *(self._cursors[k] for k in keys)
        )
        for key_b, entries in reply or []:
            key = text(key_b)
            if entries:
                self._cursors[key] = text(entries[-1][0])
                self._add(key, entries)
