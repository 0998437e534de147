"""Redis Cluster: hash slots, the slot map, and a blocking client that routes by key.

A ``redis+cluster://`` URL names seeds. At start the slot map is read (CLUSTER SLOTS) from
the first seed that answers; every one of the 16,384 slots must have a master, else the
start fails (exit 4) naming the uncovered slots. A ``MOVED`` reply means the map is stale:
it is read again and the command retried. An ``ASK`` reply (a slot being migrated) sends
that one command, after ``ASKING``, to the node named, without touching the map.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from typing import Any

from alphapulse_cli.errors import (
    RedisAuthError,
    RedisClusterError,
    RedisCommandError,
    RedisUnavailable,
    RespError,
)
from alphapulse_cli.redis_streams.conn import SyncConnection
from alphapulse_cli.redis_streams.resp import encode
from alphapulse_cli.redis_streams.url import RedisTarget

SLOTS = 16384
Node = tuple[str, int]


def key_slot(key: str | bytes) -> int:
    """The hash slot of a key: CRC16 (XMODEM) of the key, or of its {hash tag}, mod 16384."""
    k = key.encode() if isinstance(key, str) else key
    start = k.find(b"{")
    if start >= 0:
        end = k.find(b"}", start + 1)
        if end > start + 1:
            k = k[start + 1 : end]
    return binascii.crc_hqx(k, 0) % SLOTS


def _ranges(slots: Iterable[int]) -> str:
    out: list[str] = []
    run: list[int] = []
    for s in sorted(slots):
        if run and s == run[-1] + 1:
            run[-1] = s
        else:
            if run:
                out.append(f"{run[0]}-{run[1]}" if run[1] != run[0] else str(run[0]))
            run = [s, s]
    if run:
        out.append(f"{run[0]}-{run[1]}" if run[1] != run[0] else str(run[0]))
    return ",".join(out)


class SlotMap:
    """Which master serves each slot, from a CLUSTER SLOTS reply."""

    def __init__(self, reply: Any, answered_by: Node) -> None:
        self.owner: list[Node | None] = [None] * SLOTS
        for item in reply or []:
            lo, hi, master = int(item[0]), int(item[1]), item[2]
            host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
            # An empty or "?" endpoint means "the node you asked".
            node = (host if host not in ("", "?") else answered_by[0], int(master[1]))
            for slot in range(lo, hi + 1):
                self.owner[slot] = node
        self.masters: list[Node] = sorted({n for n in self.owner if n is not None})
        self._key_node: dict[str, Node] = {}

    def uncovered(self) -> list[int]:
        return [s for s, n in enumerate(self.owner) if n is None]

    def check(self, display: str) -> None:
        missing = self.uncovered()
        if missing:
            raise RedisClusterError(
                f"{display}: the cluster serves no master for hash slots {_ranges(missing)} "
                f"({len(missing)} of {SLOTS}); fix the cluster (redis-cli --cluster fix) "
                "or wait for its failover"
            )

    def node_of(self, key: str) -> Node:
        node = self._key_node.get(key)
        if node is None:
            owner = self.owner[key_slot(key)]
            assert owner is not None  # check() ran before the map was used
            node = self._key_node[key] = owner
        return node


def redirect(reply: Any) -> tuple[str, Node] | None:
    """("MOVED" or "ASK", node) for a redirection error reply, else None."""
    if not isinstance(reply, RespError):
        return None
    parts = str(reply).split()
    if len(parts) == 3 and parts[0] in ("MOVED", "ASK"):
        host, _, port = parts[2].rpartition(":")
        return parts[0], (host.strip("[]"), int(port))
    return None


def _cluster_error(target: RedisTarget, exc: RedisCommandError) -> RedisCommandError:
    if "cluster support disabled" in str(exc):
        return RedisCommandError(
            f"{target.display}: not a cluster (cluster support disabled); "
            "use a redis:// URL for a single server"
        )
    return exc


def discover(target: RedisTarget, timeout: float = 5.0, extra: Iterable[Node] = ()) -> SlotMap:
    """Read the slot map from the first seed (then the nodes in extra) that answers; raise
    RedisAuthError at once, RedisUnavailable when none answers, RedisClusterError when
    slots are left uncovered."""
    errors: list[str] = []
    for node in dict.fromkeys([*target.seeds, *extra]):
        node_target = target.node(*node)
        try:
            conn = SyncConnection(node_target, timeout=timeout, client_name="alphapulse-cluster")
        except RedisAuthError:
            raise
        except RedisUnavailable as exc:
            errors.append(str(exc))
            continue
        try:
            slots = SlotMap(conn.call("CLUSTER", "SLOTS"), node)
        except RedisCommandError as exc:
            raise _cluster_error(target, exc) from None
        except RedisUnavailable as exc:
            errors.append(str(exc))
            continue
        finally:
            conn.close()
        slots.check(target.display)
        return slots
    raise RedisUnavailable(target.redact(f"no cluster node answered: {'; '.join(errors)}"))


class SyncCluster:
    """A blocking client for a cluster: one connection per node, opened when first needed;
    ``call`` routes a command by its key and follows MOVED and ASK."""

    def __init__(
        self, target: RedisTarget, *, timeout: float = 5.0, client_name: str | None = None
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.client_name = client_name
        self.conns: dict[Node, SyncConnection] = {}
        self.slots = discover(target, timeout)

    def refresh(self) -> None:
        """Read the slot map again (after MOVED, or a node that went away)."""
        self.slots = discover(self.target, self.timeout, self.slots.masters)

    def conn(self, node: Node) -> SyncConnection:
        c = self.conns.get(node)
        if c is None:
            c = SyncConnection(
                self.target.node(*node), timeout=self.timeout, client_name=self.client_name
            )
            self.conns[node] = c
        return c

    def drop(self, node: Node) -> None:
        c = self.conns.pop(node, None)
        if c is not None:
            c.close()

    def masters(self) -> list[SyncConnection]:
        return [self.conn(n) for n in self.slots.masters]

    def node_of(self, key: str) -> Node:
        return self.slots.node_of(key)

    def call_key(self, key: str, *args: bytes | str | int) -> Any:
        """One command on the master serving key; an error reply raises RedisCommandError."""
        node = self.node_of(key)
        asking = False
        for _ in range(5):
            conn = self.conn(node)
            try:
                conn.send((encode("ASKING") if asking else b"") + encode(*args))
                if asking:
                    conn.read_reply()
                reply = conn.read_reply()
            except RedisUnavailable:
                self.drop(node)
                raise
            moved = redirect(reply)
            if moved is None:
                if isinstance(reply, RespError):
                    raise RedisCommandError(self.target.redact(f"{conn.target.display}: {reply}"))
                return reply
            kind, node = moved
            asking = kind == "ASK"
            if kind == "MOVED":
                self.refresh()
                node = self.node_of(key)
        raise RedisCommandError(f"{self.target.display}: {args[0]!r}: too many redirections")

    def call(self, *args: bytes | str | int) -> Any:
        """A command whose first argument after the name is its key (XRANGE key ...)."""
        key = args[1]
        return self.call_key(key.decode() if isinstance(key, bytes) else str(key), *args)

    def close(self) -> None:
        for node in list(self.conns):
            self.drop(node)


def connect_sync(
    target: RedisTarget, *, timeout: float = 5.0, client_name: str | None = None
) -> SyncConnection | SyncCluster:
    """A blocking connection to one server, or a client of the cluster a URL names; either
    answers ``call("XRANGE", key, ...)`` and ``close()``."""
    if target.cluster:
        return SyncCluster(target, timeout=timeout, client_name=client_name)
    return SyncConnection(target, timeout=timeout, client_name=client_name)
