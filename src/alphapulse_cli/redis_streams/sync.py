"""The publisher for synchronous code (``replay --redis``): the asyncio publisher on its own
event loop in a background thread, so the caller's loop of reads and writes never waits on
the network, and sending overlaps with the caller's work."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from alphapulse_cli.redis_streams.entries import Level
from alphapulse_cli.redis_streams.publisher import make_publisher


class SyncRedisPublisher:
    """Same options as RedisPublisher, plus ``block``, ``stall_s`` and ``close_timeout``.

    block=False (live): a full queue drops the oldest entry, as in collect.
    block=True (bulk replay): publish() waits while the queue is full, so nothing is dropped
    for lack of room, as long as Redis makes progress. When nothing has been answered for
    ``stall_s`` seconds (Redis down, refusing writes), publish() stops waiting and the queue
    drops its oldest entries (counted) until Redis answers again, so a dead Redis slows a
    replay down but never hangs it.

        with SyncRedisPublisher(url, block=True) as pub:
            for ev in events:
                pub.publish(ev)
        print(pub.stats)                 # close() flushed and stopped on leaving the block
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        block: bool = False,
        stall_s: float = 10.0,
        close_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        self._pub = make_publisher(url, **options)
        self.block = block
        self.stall_s = stall_s
        self.close_timeout = close_timeout
        self._closed = False
        # `answered` when publish() last gave up waiting; no waiting until it changes.
        self._stalled_at: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="redis-publisher", daemon=True
        )
        self._thread.start()
        self._call(self._pub.start())

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def url(self) -> str:
        return self._pub.url

    @property
    def stats(self) -> dict[str, Any]:
        return self._pub.stats

    def publish(self, event: dict[str, Any]) -> None:
        """Queue one normalized trade event (others are ignored)."""
        if event.get("type") != "trade":
            return
        if self.block:
            self._wait_for_room()
        self._pub.publish(event)

    def publish_book(
        self,
        exchange: str,
        symbol: str,
        ts_local_ns: int,
        ts_exchange_ns: int | None,
        bids: Sequence[Level],
        asks: Sequence[Level],
    ) -> None:
        if not self._pub.books:
            return
        if self.block:
            self._wait_for_room()
        self._pub.publish_book(exchange, symbol, ts_local_ns, ts_exchange_ns, bids, asks)

    def publish_many(self, events: Iterable[dict[str, Any]]) -> None:
        for ev in events:
            self.publish(ev)

    def _answered(self) -> int:
        pub = self._pub
        return pub.published + pub.dropped_rejected + pub.dropped_lost

    def _wait_for_room(self) -> None:
        pub = self._pub
        if len(pub._q) < pub.queue_limit:
            return
        mark = self._answered()
        if self._stalled_at is not None:
            if mark == self._stalled_at:
                return
            self._stalled_at = None
        space = pub._space
        since = time.monotonic()
        while len(pub._q) >= pub.queue_limit and not self._closed:
            space.clear()
            if len(pub._q) < pub.queue_limit:
                break
            space.wait(0.1)
            now = self._answered()
            if now != mark:
                mark, since = now, time.monotonic()
            elif time.monotonic() - since >= self.stall_s:
                self._stalled_at = mark
                return

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been answered; False on timeout."""
        return bool(self._call(self._pub.flush(timeout)))

    def close(self, timeout: float | None = None) -> dict[str, Any]:
        """Flush for up to ``timeout`` seconds (default ``close_timeout``), stop the thread,
        return the final stats."""
        if self._closed:
            return self.stats
        self._closed = True
        wait = self.close_timeout if timeout is None else timeout
        try:
            # The publisher bounds its own flush; this bound holds even if it does not.
            stats: dict[str, Any] = self._call(self._pub.close(wait), timeout=wait + 2.0)
        except concurrent.futures.TimeoutError:
            stats = {**self.stats, "close": f"gave up after {wait + 2.0:.1f} s"}
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=2.0)
            if not self._thread.is_alive():
                self._loop.close()
        return stats

    def __enter__(self) -> SyncRedisPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
