"""Publishing normalized market data to Redis Streams (and the RESP client under it).

Named ``redis_sink`` so that it can never shadow the ``redis`` package.

    RedisPublisher       asyncio, for ``collect``:
                         ``await start()``, ``publish(ev)``, ``await close()``
    SyncRedisPublisher   a background thread: ``publish(ev)``, ``close()``
    replay_sink(...)     the EventSink of ``replay --redis`` (waits for queue room)
    live_sink(...)       the EventSink of ``collect --redis`` (never waits, drops oldest)
"""

from alphapulse_cli.redis_sink.entries import BOOK_FIELDS, TRADE_FIELDS, book_key, trade_key
from alphapulse_cli.redis_sink.publisher import (
    DEFAULT_BATCH,
    DEFAULT_MAXLEN,
    DEFAULT_QUEUE_LIMIT,
    RedisPublisher,
)
from alphapulse_cli.redis_sink.sink import RedisSink, check_reachable, live_sink, replay_sink
from alphapulse_cli.redis_sink.sync import SyncRedisPublisher

__all__ = [
    "BOOK_FIELDS",
    "DEFAULT_BATCH",
    "DEFAULT_MAXLEN",
    "DEFAULT_QUEUE_LIMIT",
    "TRADE_FIELDS",
    "RedisPublisher",
    "RedisSink",
    "SyncRedisPublisher",
    "book_key",
    "check_reachable",
    "live_sink",
    "replay_sink",
    "trade_key",
]
