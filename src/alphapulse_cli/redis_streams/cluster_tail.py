"""Following streams on a Redis Cluster.

A read can name only keys of one hash slot, so every stream is read on its own: one
pipeline per master per round, holding the acks owed on that master and a read for each of
its streams. Patterns are expanded with SCAN on every master. A group with --count reads
stream after stream with COUNT = what is still wanted, so what is delivered is what is
printed. When a round finds nothing, the next one waits a little longer (up to 50 ms): a
blocking read could wait on one slot only. A master that goes away (a failover) ends in a
reconnect that reads the slot map again; MOVED reads it again at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from alphapulse_cli.errors import (
    RedisCommandError,
    RedisUnavailable,
    RespError,
    UpstreamError,
)
from alphapulse_cli.redis_streams.cluster import Node, SyncCluster, redirect
from alphapulse_cli.redis_streams.resp import StreamReplyParser, encode
from alphapulse_cli.redis_streams.tail import _GLOB, Batch, Tailer, _Stream, scan_streams

IDLE_MAX_S = 0.05


class ClusterTailer(Tailer):
    _cluster: SyncCluster | None = None
    _idle = 0.0

    # -- connection --------------------------------------------------------------

    _retry_on = UpstreamError

    def _open(self, timeout: float) -> None:
        self._cluster = SyncCluster(self.target, timeout=timeout, client_name="alphapulse-tail")

    def _drop(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def cluster(self) -> SyncCluster:
        assert self._cluster is not None
        return self._cluster

    def close(self) -> None:
        if self._cluster is None:
            return
        try:
            self._round([], StreamReplyParser.skip)
        except (RedisUnavailable, RedisCommandError, OSError):
            pass
        self._drop()

    def _server_ms(self) -> int:
        try:
            secs, usecs = self.cluster.masters()[0].call("TIME")
            return int(secs) * 1000 + int(usecs) // 1000
        except (RedisCommandError, ValueError, TypeError):
            return time.time_ns() // 1_000_000

    def _call_key(self, key: str, *args: bytes | str | int) -> Any:
        return self.cluster.call_key(key, *args)

    def _scan(self, pattern: str) -> list[str]:
        found: set[str] = set()
        for conn in self.cluster.masters():
            found.update(scan_streams(conn, pattern))
        return sorted(found)

    # -- reading -----------------------------------------------------------------

    def _round(
        self, reads: list[tuple[str, bytes]], parse: Callable[[StreamReplyParser], Any]
    ) -> list[Any]:
        """Send the acks owed and one read per (key, command), pipelined per master; return
        each read's parsed reply, or None where the read must be tried again (MOVED, ASK,
        NOGROUP: handled here)."""
        cluster = self.cluster
        group = self.opts.group
        owed, self._unacked = self._unacked, {}
        plan: dict[Node, tuple[list[bytes], list[int]]] = {}
        try:
            for key, ids in owed.items():
                if ids and group:
                    plan.setdefault(cluster.node_of(key), ([], []))[0].append(
                        encode("XACK", key, group, *ids)
                    )
            for i, (key, _cmd) in enumerate(reads):
                plan.setdefault(cluster.node_of(key), ([], []))[1].append(i)
            for node, (acks, idx) in plan.items():
                cluster.conn(node).send(b"".join([*acks, *(reads[i][1] for i in idx)]))
            results: list[Any] = [None] * len(reads)
            block = self.opts.block_ms / 1000 + 10.0
            for node, (acks, idx) in plan.items():
                parses = [StreamReplyParser.skip] * len(acks) + [parse] * len(idx)
                replies = cluster.conn(node).read_each(parses, block)
                for i, res in zip(idx, replies[len(acks) :], strict=True):
                    results[i] = res
        except RedisUnavailable:
            self._owe(owed)
            raise
        self.acked += sum(len(ids) for ids in owed.values())
        for i, res in enumerate(results):
            if isinstance(res, RespError):
                results[i] = None
                if redirect(res) is not None:
                    cluster.refresh()
                elif "NOGROUP" in str(res):
                    self._ensure_group(reads[i][0], "0-0")
                else:
                    raise RedisCommandError(self.target.redact(f"{self.target.display}: {res}"))
        return results

    def _stream_reads(self, streams: list[_Stream], cmd: Callable[[_Stream], bytes]) -> list[Batch]:
        """One read per stream in one round; batches of the live entries."""
        replies = self._round([(s.key, cmd(s)) for s in streams], StreamReplyParser.streams)
        out: list[Batch] = []
        for s, reply in zip(streams, replies, strict=True):
            entries = [e for _name, es in reply or [] for e in es]
            if not self.opts.group and entries:
                s.cursor = entries[-1][0]
            if self.opts.group and s.cursor != ">":
                if not entries and reply is not None:
                    s.cursor = ">"
                    continue
                if entries:
                    s.cursor = entries[-1][0]
                gone = [e[0] for e in entries if e[1] is None]
                if gone:
                    self._unacked.setdefault(s.key, []).extend(gone)
            live = [e for e in entries if e[1] is not None]
            if live:
                out.append((s.key, live))
        return out

    def _group_cmd(self, want: int, cursor: str) -> Callable[[_Stream], bytes]:
        o = self.opts
        assert o.group and o.consumer
        group, consumer = o.group, o.consumer
        extra = ["NOACK"] if not o.ack and cursor == ">" else []
        return lambda s: encode(
            "XREADGROUP",
            "GROUP",
            group,
            consumer,
            "COUNT",
            want,
            *extra,
            "STREAMS",
            s.key,
            s.cursor if cursor == "" else cursor,
        )

    def _read_new_each(self) -> list[Batch]:
        """New entries for a group with --count: stream after stream, COUNT = what is still
        wanted, so that nothing is delivered that will not be printed."""
        want = self._want()
        out: list[Batch] = []
        for s in list(self.streams.values()):
            if want <= 0:
                break
            got = self._stream_reads([s], self._group_cmd(want, ">"))
            want -= sum(len(es) for _k, es in got)
            out += got
        return out

    def _request_key(self, key: str, cmd: bytes, parse: Callable[[StreamReplyParser], Any]) -> Any:
        return self._round([(key, cmd)], parse)[0]

    def _next_batches(self) -> list[Batch]:
        o = self.opts
        now = time.monotonic()
        if now - self._last_scan >= o.rescan_s and any(_GLOB.search(p) for p in o.patterns):
            self._discover()
        if not self.streams:
            time.sleep(min(o.rescan_s, 0.5))
            return []
        streams = list(self.streams.values())
        out: list[Batch] = []
        if o.group:
            pending = [s for s in streams if s.cursor != ">"]
            if pending:
                return self._stream_reads(pending, self._group_cmd(self._want(), ""))
            if o.claim_idle_ms is not None and (
                now - self._last_claim >= max(o.claim_idle_ms / 2000, 0.05)
                or any(s.claim_cursor != "0-0" for s in streams)
            ):
                out = self._claim()
            if not out:
                if o.count is not None:
                    out = self._read_new_each()
                else:
                    out = self._stream_reads(streams, self._group_cmd(o.batch, ">"))
        else:
            want = self._want()
            out = self._stream_reads(
                streams, lambda s: encode("XREAD", "COUNT", want, "STREAMS", s.key, s.cursor)
            )
        if out:
            self._idle = 0.0
        else:
            self._idle = min(max(self._idle * 2, 0.002), IDLE_MAX_S, o.block_ms / 1000)
            time.sleep(self._idle)
        return out
