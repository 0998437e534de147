"""The Redis publisher as an EventSink, for ``replay --redis`` and ``collect --redis``.

Both sinks turn the events of one message into the same stream entries: every trade, and
with ``books`` the top of each book the message changed (only while that book is valid).
They differ only in what happens when Redis cannot keep up:

- ``replay_sink``: the reader waits for room in the queue (a file can wait), so a replay
  into a slow Redis loses nothing; while Redis makes no progress at all for ``stall_s``
  seconds (down, refusing writes) it stops waiting and the oldest queued entries are
  dropped and counted, until Redis answers again.
- ``live_sink``: never waits; a full queue drops its oldest entry (counted), so capture is
  never held up and, when Redis comes back, the streams get the most recent history.

Both publish from a background thread of their own, with reconnects and backoff there;
``stats`` is readable at any time (status view, metrics), ``close()`` flushes within its
timeout and returns the final counters (``offered == published + dropped``).
"""

from __future__ import annotations

from typing import Any

from alphapulse_cli.adapters.base import Adapter
from alphapulse_cli.errors import RedisUnavailable
from alphapulse_cli.redis_streams.conn import SyncConnection, with_hint
from alphapulse_cli.redis_streams.publisher import DEFAULT_MAXLEN, DEFAULT_QUEUE_LIMIT
from alphapulse_cli.redis_streams.sync import SyncRedisPublisher
from alphapulse_cli.redis_streams.url import parse_url, resolve_url

DEFAULT_BOOK_DEPTH = 10
_BOOK_TYPES = frozenset(("book_snapshot", "book_update"))


class RedisSink:
    """EventSink over a SyncRedisPublisher."""

    name = "redis"

    def __init__(self, publisher: SyncRedisPublisher, books: bool, book_depth: int) -> None:
        self.publisher = publisher
        self.books = books
        self.book_depth = book_depth
        self._publish = publisher.publish

    @property
    def stats(self) -> dict[str, Any]:
        return self.publisher.stats

    def handle(self, adapter: Adapter, ts_local: int, events: list[dict[str, Any]]) -> None:
        publish = self._publish
        changed: dict[str, int | None] = {}
        for ev in events:
            kind = ev["type"]
            if kind == "trade":
                publish(ev)
            elif kind in _BOOK_TYPES:
                changed[ev["symbol"]] = ev.get("ts_exchange")
        if self.books and changed:
            for sym, ts_exchange in changed.items():
                if adapter.book_valid(sym):
                    bids, asks = adapter.books[sym].top(self.book_depth)
                    self.publisher.publish_book(
                        adapter.venue, sym, ts_local, ts_exchange, bids, asks
                    )

    def close(self) -> dict[str, Any]:
        return self.publisher.close()


def check_reachable(url: str | None, timeout: float = 5.0) -> None:
    """Connect and log in once; raises RedisUnavailable / RedisAuthError (exit 4) if not."""
    target = parse_url(resolve_url(url))
    try:
        if target.cluster:
            from alphapulse_cli.redis_streams.cluster import discover

            discover(target, timeout)  # every slot served, credentials accepted
            return
        conn = SyncConnection(target, timeout=timeout, client_name="alphapulse-check")
    except RedisUnavailable as exc:
        raise RedisUnavailable(with_hint(str(exc))) from None
    conn.close()


def _sink(url: str | None, books: bool, book_depth: int, **options: Any) -> RedisSink:
    pub = SyncRedisPublisher(url, books=books, book_depth=book_depth, **options)
    return RedisSink(pub, books, book_depth)


def replay_sink(
    url: str | None,
    maxlen: int | None = DEFAULT_MAXLEN,
    books: bool = False,
    *,
    book_depth: int = DEFAULT_BOOK_DEPTH,
    stall_s: float = 10.0,
    close_timeout: float = 30.0,
    check: bool = True,
    **options: Any,
) -> RedisSink:
    """The sink for replay: Redis must answer at start (else exit 4); then the reader waits
    for queue room, except while Redis makes no progress for ``stall_s`` seconds.
    ``options`` go to RedisPublisher (queue_limit, batch, backoff_max, io_timeout, ...)."""
    if check:
        check_reachable(url)
    return _sink(
        url,
        books,
        book_depth,
        block=True,
        stall_s=stall_s,
        close_timeout=close_timeout,
        maxlen=maxlen,
        **options,
    )


def live_sink(
    url: str | None,
    maxlen: int | None = DEFAULT_MAXLEN,
    books: bool = False,
    *,
    book_depth: int = DEFAULT_BOOK_DEPTH,
    queue_limit: int = DEFAULT_QUEUE_LIMIT,
    close_timeout: float = 1.5,
    **options: Any,
) -> RedisSink:
    """The sink for collect: starts publishing at once (connecting in the background, so a
    dead Redis at start is counted, not fatal); ``handle`` never waits. ``close()`` flushes
    for at most ``close_timeout`` (inside collect's own limit on closing sinks) and counts
    the rest as unsent. ``options`` as for replay_sink."""
    return _sink(
        url,
        books,
        book_depth,
        block=False,
        close_timeout=close_timeout,
        maxlen=maxlen,
        queue_limit=queue_limit,
        **options,
    )
