"""The publisher for a Redis Cluster: the same queue and counters as RedisPublisher, one
pipelined connection per master, each batch split by the slot of its stream keys and
written to every master at once.

- ``MOVED`` (the map is stale: a failover, a resharding): the entry was not stored, so it
  goes back to the front of the queue; the map is read again before the next batch.
- ``ASK`` (a slot being migrated): the entry is sent again at once, after ``ASKING``, to the
  node named.
- A master that goes away (killed, failing over): what it had in flight is counted in
  ``dropped_lost``, every connection is closed, and reconnecting reads the map again, with
  the usual backoff, until every slot has a master that answers; publishing then resumes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alphapulse_cli.errors import (
    AlphapulseError,
    RedisAuthError,
    RedisCommandError,
    RedisUnavailable,
    RespError,
)
from alphapulse_cli.redis_streams.cluster import Node, SlotMap, redirect
from alphapulse_cli.redis_streams.conn import AsyncConnection
from alphapulse_cli.redis_streams.entries import book_key, trade_key
from alphapulse_cli.redis_streams.publisher import RedisPublisher
from alphapulse_cli.redis_streams.resp import encode


def _item_key(item: Any) -> str:
    if type(item) is dict:
        return trade_key(item["exchange"], item["symbol"])
    return book_key(item[0], item[1])


class ClusterPublisher(RedisPublisher):
    """RedisPublisher over a ``redis+cluster://`` URL; same options, same counters."""

    def __init__(self, url: str | None = None, **options: Any) -> None:
        super().__init__(url, **options)
        # A failover takes a few node timeouts; retrying at least every second resumes
        # publishing soon after the replica takes over.
        self.backoff_max = min(self.backoff_max, 1.0)
        self._conns: dict[Node, AsyncConnection] = {}
        self._slots: SlotMap | None = None
        self._key_node: dict[tuple[str, str], Node] = {}

    async def _open(self, node: Node) -> AsyncConnection:
        conn = self._conns.get(node)
        if conn is None:
            conn = await AsyncConnection.open(
                self.target.node(*node), timeout=self.connect_timeout, client_name=self.client_name
            )
            self._conns[node] = conn
        return conn

    async def _discover(self) -> SlotMap:
        known = self._slots.masters if self._slots is not None else []
        errors: list[str] = []
        for node in dict.fromkeys([*self.target.seeds, *known]):
            try:
                conn = await AsyncConnection.open(
                    self.target.node(*node), timeout=self.connect_timeout
                )
            except RedisAuthError:
                raise
            except (RedisUnavailable, OSError, asyncio.TimeoutError) as exc:
                errors.append(str(exc))
                continue
            try:
                conn.writer.write(encode("CLUSTER", "SLOTS"))
                (reply,) = await asyncio.wait_for(conn.read_replies(1), self.io_timeout)
            except (RedisUnavailable, OSError, asyncio.TimeoutError) as exc:
                errors.append(str(exc))
                continue
            finally:
                conn.close()
            if isinstance(reply, RespError):
                raise RedisCommandError(f"{self.url}: CLUSTER SLOTS: {reply}")
            slots = SlotMap(reply, node)
            slots.check(self.url)
            return slots
        raise RedisUnavailable(f"no cluster node answered: {'; '.join(errors)}")

    async def _connect(self) -> bool:
        try:
            self._slots = await self._discover()
            self._key_node.clear()
            for node in self._slots.masters:
                await self._open(node)
        except AlphapulseError as exc:
            self._note_error(str(exc))
            self._disconnect()
            return False
        except (OSError, asyncio.TimeoutError) as exc:
            self._note_error(f"{self.url}: {exc}")
            self._disconnect()
            return False
        self._conn = next(iter(self._conns.values()))  # RedisPublisher's "connected" mark
        self.connects += 1
        if self._ever_connected:
            self.reconnects += 1
        self._ever_connected = True
        self.connected = True
        return True

    def _disconnect(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        self._conn = None
        self.connected = False

    def _node_of(self, item: Any) -> Node:
        ident = (item["exchange"], item["symbol"]) if type(item) is dict else (item[0], item[1])
        node = self._key_node.get(ident)
        if node is None:
            assert self._slots is not None
            node = self._key_node[ident] = self._slots.node_of(_item_key(item))
        return node

    async def _send_batch(self) -> bool:
        # About `batch` entries for each master's pipeline, all sent at once.
        masters = len(self._slots.masters) if self._slots is not None else 1
        items = self._take_batch(self.batch * masters)
        n = len(items)
        if not n:
            return False
        by_node: dict[Node, list[Any]] = {}
        node_of = self._node_of
        for it in items:
            by_node.setdefault(node_of(it), []).append(it)
        writes = []
        for node, part in by_node.items():
            conn = await self._open(node)
            conn.writer.write(self._encoder.payload(part))
            writes.append(self._answers(conn, part))
        results = await asyncio.wait_for(
            asyncio.gather(*writes, return_exceptions=True), self.io_timeout
        )
        rejected = 0
        moved: list[Any] = []
        for res in results:
            if isinstance(res, BaseException):
                raise res
            rejected += res[0]
            moved += res[1]
        if moved:
            # Not stored: back to the front of the queue, in order, for the node that owns
            # the slot now; the map is read again first.
            self.in_flight -= len(moved)
            self._q.extendleft(reversed(moved))
            self._disconnect()
        return rejected == n

    async def _answers(self, conn: AsyncConnection, part: list[Any]) -> tuple[int, list[Any]]:
        """Read one node's replies: (rejected, entries to resend after MOVED)."""
        reader = conn.replies
        rejected = 0
        moved: list[Any] = []
        asked: list[tuple[Node, Any]] = []
        for item in part:
            ok, reply = reader.get()
            while not ok:
                await conn.read_more()
                ok, reply = reader.get()
            where = redirect(reply)
            if where is not None:
                if where[0] == "ASK":
                    asked.append((where[1], item))
                else:
                    moved.append(item)
                continue
            self.in_flight -= 1
            if isinstance(reply, RespError):
                rejected += 1
                self.dropped_rejected += 1
                self._note_error(f"{conn.target.display}: XADD refused: {reply}")
            else:
                self.published += 1
        for node, item in asked:
            rejected += await self._ask(node, item)
        return rejected, moved

    async def _ask(self, node: Node, item: Any) -> int:
        conn = await self._open(node)
        conn.writer.write(encode("ASKING") + self._encoder.exact(item))
        _ok, reply = await conn.read_replies(2)
        self.in_flight -= 1
        if isinstance(reply, RespError):
            self.dropped_rejected += 1
            self._note_error(f"{conn.target.display}: XADD refused: {reply}")
            return 1
        self.published += 1
        return 0
