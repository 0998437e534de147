"""The Redis Streams publisher: a bounded queue in front of one pipelined connection.

The capture path calls ``publish(event)``: an append to a deque, never a wait on the
network. A background task takes up to ``batch`` entries at a time, writes their XADDs in
one pipeline and counts the replies. Redis trouble never reaches the caller:

- queue full: the OLDEST queued entry is dropped to make room (counted in
  ``dropped_overflow``), so when Redis returns, the streams get the most recent history;
- Redis rejects an entry (OOM, WRONGTYPE, NOPERM ...): counted in ``dropped_rejected``;
- the connection breaks with a pipeline in flight: entries whose reply never came are counted
  in ``dropped_lost`` and not sent again (at most once: a resend could duplicate trades that
  Redis did store before the break);
- reconnects use capped exponential backoff; publishing resumes by itself;
- ``close()`` counts what it could not send within its timeout in ``dropped_unsent``.

At every moment ``offered == published + dropped + queued + in_flight``; after ``close()``
``offered == published + dropped``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from alphapulse_cli.errors import AlphapulseError, ProtocolError, RedisAuthError, RespError
from alphapulse_cli.redis_streams.conn import AsyncConnection
from alphapulse_cli.redis_streams.entries import Encoder, Level
from alphapulse_cli.redis_streams.url import parse_url, resolve_url

log = logging.getLogger("alphapulse.redis")

DEFAULT_MAXLEN = 1_000_000
DEFAULT_BATCH = 1_000
DEFAULT_QUEUE_LIMIT = 200_000


class RedisPublisher:
    """Publish normalized trades (and optionally book tops) to Redis Streams from asyncio.

    ``url`` None means $ALPHAPULSE_REDIS_URL, then redis://127.0.0.1:6379. ``maxlen`` trims
    each stream with ``MAXLEN ~`` (None or 0: no trimming). Use::

        pub = RedisPublisher(url, books=True)
        await pub.start()
        pub.publish(trade_event)                  # from the capture loop, O(1)
        pub.publish_book(ex, sym, ts_local, ts_exchange, bids, asks)
        ...
        stats = await pub.close(timeout=5.0)      # flush what it can, then stop
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        maxlen: int | None = DEFAULT_MAXLEN,
        batch: int = DEFAULT_BATCH,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        books: bool = False,
        book_depth: int = 5,
        book_maxlen: int | None = None,
        connect_timeout: float = 5.0,
        io_timeout: float = 10.0,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
        client_name: str | None = "alphapulse-publisher",
    ) -> None:
        if batch < 1 or queue_limit < 1:
            raise AlphapulseError("RedisPublisher: batch and queue_limit must be at least 1")
        self.target = parse_url(resolve_url(url))
        self.url = self.target.display
        self.batch = batch
        self.queue_limit = queue_limit
        self.books = books
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.client_name = client_name
        self._encoder = Encoder(maxlen, book_maxlen if book_maxlen else maxlen, book_depth)
        self._q: deque[Any] = deque()
        self._conn: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._work: asyncio.Event | None = None
        self._idle_event: asyncio.Event | None = None
        self._space = threading.Event()
        self._waiting = False
        self._closing = False
        self._closed = False
        # Counters. offered/dropped_overflow are written only by the publishing side, the
        # rest only by the flushing task, so the two may run in different threads.
        self.offered = 0
        self.published = 0
        self.dropped_overflow = 0
        self.dropped_rejected = 0
        self.dropped_lost = 0
        self.dropped_unsent = 0
        self.errors = 0
        self.reconnects = 0
        self.connects = 0
        self.in_flight = 0
        self.connected = False
        self.last_error = ""
        self._ever_connected = False

    # -- the capture side ------------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> None:
        """Queue one normalized trade event; other event types are ignored. Never waits."""
        if event.get("type") != "trade":
            return
        self._offer(event)

    def publish_book(
        self,
        exchange: str,
        symbol: str,
        ts_local_ns: int,
        ts_exchange_ns: int | None,
        bids: Sequence[Level],
        asks: Sequence[Level],
    ) -> None:
        """Queue a top-of-book snapshot (best first); a no-op unless books=True."""
        if self.books:
            self._offer((exchange, symbol, ts_local_ns, ts_exchange_ns, bids, asks))

    def _offer(self, item: Any) -> None:
        self.offered += 1
        q = self._q
        if len(q) >= self.queue_limit:
            try:
                q.popleft()
            except IndexError:
                pass  # the flusher emptied it meanwhile
            else:
                self.dropped_overflow += 1
        q.append(item)
        if self._waiting:
            self._wake()

    def _wake(self) -> None:
        self._waiting = False
        work = self._work
        loop = self._loop
        if work is None or loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            work.set()
        else:
            try:
                loop.call_soon_threadsafe(work.set)
            except RuntimeError:
                pass  # loop closed

    @property
    def dropped(self) -> int:
        return (
            self.dropped_overflow + self.dropped_rejected + self.dropped_lost + self.dropped_unsent
        )

    @property
    def stats(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "connected": self.connected,
            "offered": self.offered,
            "published": self.published,
            "dropped": self.dropped,
            "dropped_overflow": self.dropped_overflow,
            "dropped_rejected": self.dropped_rejected,
            "dropped_lost": self.dropped_lost,
            "dropped_unsent": self.dropped_unsent,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "queue": len(self._q),
            "in_flight": self.in_flight,
            "last_error": self.last_error,
        }

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the flushing task in the running loop (connecting happens in it)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._work = asyncio.Event()
        self._idle_event = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="redis-publisher")

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far has been answered; False on timeout."""
        if self._task is None or self._idle_event is None:
            return not self._q
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._q or self.in_flight:
            if self._task.done():
                return False
            self._idle_event.clear()
            self._wake()
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            try:
                await asyncio.wait_for(
                    self._idle_event.wait(), None if left is None else min(left, 0.5)
                )
            except asyncio.TimeoutError:
                pass
        return True

    async def close(self, timeout: float = 5.0) -> dict[str, Any]:
        """Flush for up to ``timeout`` seconds, stop, and return the final stats; whatever is
        still queued is counted as dropped (unsent)."""
        if self._closed:
            return self.stats
        self._closing = True
        if self._task is not None:
            await self.flush(timeout)
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._lose_in_flight()
        unsent = len(self._q)
        self._q.clear()
        self.dropped_unsent += unsent
        self._disconnect()
        self._closed = True
        self._space.set()
        return self.stats

    async def __aenter__(self) -> RedisPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the flushing task -----------------------------------------------------------

    def _note_error(self, message: str) -> None:
        message = self.target.redact(message)
        self.errors += 1
        if message != self.last_error:
            log.warning("redis publisher: %s", message)
        self.last_error = message

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.connected = False

    def _lose_in_flight(self) -> None:
        if self.in_flight:
            self.dropped_lost += self.in_flight
            self.in_flight = 0

    async def _pause(self, seconds: float) -> None:
        assert self._work is not None
        self._work.clear()
        # Not wait_for: on Python < 3.12 a cancel that lands as the event is set (close()
        # wakes the task, then cancels it) is swallowed, and the task outlives close().
        waiter = asyncio.ensure_future(self._work.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    async def _connect(self) -> bool:
        try:
            self._conn = await AsyncConnection.open(
                self.target, timeout=self.connect_timeout, client_name=self.client_name
            )
        except RedisAuthError as exc:
            self._note_error(str(exc))
            return False
        except AlphapulseError as exc:
            self._note_error(str(exc))
            return False
        except (OSError, asyncio.TimeoutError) as exc:
            self._note_error(f"{self.url}: {exc}")
            return False
        self.connects += 1
        if self._ever_connected:
            self.reconnects += 1
            log.warning("redis publisher: reconnected to %s", self.url)
        self._ever_connected = True
        self.connected = True
        return True

    async def _run(self) -> None:
        backoff = self.backoff_initial
        assert self._work is not None and self._idle_event is not None
        while True:
            if self._conn is None:
                if await self._connect():
                    backoff = self.backoff_initial
                else:
                    await self._pause(backoff * random.uniform(0.8, 1.2))
                    backoff = min(backoff * 2, self.backoff_max)
                    continue
            if not self._q:
                self._idle_event.set()
                if self._closing:
                    return
                self._work.clear()
                self._waiting = True
                if not self._q:
                    await self._work.wait()
                self._waiting = False
                continue
            try:
                rejected_all = await self._send_batch()
            except (
                AlphapulseError,
                ProtocolError,
                OSError,
                asyncio.TimeoutError,
                ValueError,
            ) as exc:
                self._note_error(self.target.redact(str(exc)) or type(exc).__name__)
                self._lose_in_flight()
                self._disconnect()
                continue
            if rejected_all:
                await self._pause(backoff)
                backoff = min(backoff * 2, self.backoff_max)
            else:
                backoff = self.backoff_initial

    async def _send_batch(self) -> bool:
        """Send one pipeline; True when Redis rejected every entry of it."""
        q = self._q
        items = []
        popleft = q.popleft
        try:
            for _ in range(min(self.batch, len(q))):
                items.append(popleft())
        except IndexError:
            pass
        n = len(items)
        self.in_flight = n
        self._space.set()
        if not n:
            return False
        conn = self._conn
        assert conn is not None
        conn.writer.write(self._encoder.payload(items))
        rejected = await asyncio.wait_for(self._count_replies(conn, n), self.io_timeout)
        return rejected == n

    async def _count_replies(self, conn: AsyncConnection, n: int) -> int:
        """Read n XADD replies, moving each entry from in-flight to published or rejected."""
        rejected = 0
        reader = conn.replies
        left = n
        while left:
            ok, reply = reader.get()
            if not ok:
                await conn.read_more()
                continue
            left -= 1
            self.in_flight = left
            if isinstance(reply, RespError):
                rejected += 1
                self.dropped_rejected += 1
                self._note_error(f"{self.url}: XADD refused: {reply}")
            else:
                self.published += 1
        return rejected
