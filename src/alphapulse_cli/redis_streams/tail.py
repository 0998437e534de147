"""Following Redis streams: discovery by pattern, plain reads or consumer groups, acks.

``Tailer`` yields batches ``(stream, [(id, [field, value, ...]), ...])``; the caller writes
them out and then calls ``ack`` for what it wrote. Acks travel with the next read in one
pipeline, and are re-sent after a reconnect until Redis has confirmed them (XACK is
idempotent), so an entry is acknowledged only once its line is out and never lost in between.

Group mode, per stream: the consumer's own pending entries first (read from id 0), then
entries pending too long on other consumers (XAUTOCLAIM, with ``claim_idle_ms``), then new
ones (``>``). Patterns with glob characters are expanded with SCAN TYPE stream and re-scanned
every ``rescan_s`` seconds; a stream that appears later is read from the moment the tail
started, so nothing written to it in between is missed.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from alphapulse_cli.core.times import parse_time_ns, us_text_to_rfc3339
from alphapulse_cli.errors import RedisCommandError, RedisUnavailable, RespError, UsageError
from alphapulse_cli.redis_streams.conn import SyncConnection
from alphapulse_cli.redis_streams.resp import Entry, StreamReplyParser, encode
from alphapulse_cli.redis_streams.url import RedisTarget

_GLOB = re.compile(r"[*?\[]")
_ID = re.compile(r"^\d+-\d+$")
MAX_SEQ = 18446744073709551615

Batch = tuple[str, list[Entry]]


def scan_streams(conn: SyncConnection, pattern: str) -> list[str]:
    """The stream keys matching a glob pattern on one server, sorted."""
    found: list[str] = []
    cursor = b"0"
    while True:
        reply = conn.call("SCAN", cursor, "MATCH", pattern, "COUNT", 1000, "TYPE", "stream")
        cursor, keys = reply[0], reply[1]
        found.extend(k.decode("utf-8", "surrogateescape") for k in keys)
        if cursor == b"0":
            return sorted(set(found))


def last_id(reply: Any) -> str:
    """The id in an XREVRANGE ... COUNT 1 reply, 0-0 for an empty stream."""
    return str(reply[0][0].decode()) if reply else "0-0"


def start_id(text: str) -> str:
    """--from: ``$`` (new entries only), ``0`` (everything), an entry id ``ms-seq`` (entries
    after it) or a time (ISO 8601, relative ``-15m``, epoch; entries at or after it)."""
    s = text.strip()
    if s == "$":
        return "$"
    if s in ("0", "0-0", "-"):
        return "0-0"
    if _ID.match(s):
        return s
    ms = parse_time_ns(s, "--from") // 1_000_000
    # Entries at or after the time: the last id before its first millisecond.
    return f"{ms - 1}-{MAX_SEQ}" if ms > 0 else "0-0"


@dataclass
class TailOptions:
    patterns: list[str]
    start: str = "$"
    count: int | None = None
    group: str | None = None
    consumer: str | None = None
    claim_idle_ms: int | None = None
    ack: bool = True
    batch: int = 1000
    block_ms: int = 1000
    rescan_s: float = 2.0
    reconnect_max_s: float = 5.0
    on_notice: Callable[[str], None] = field(
        default=lambda msg: print(f"alphapulse: {msg}", file=sys.stderr, flush=True)
    )
    # Asked between reads: True ends the tail (the output's reader went away while idle).
    stop: Callable[[], bool] = lambda: False

    def check(self) -> None:
        if not self.patterns:
            raise UsageError("tail-stream: name at least one stream or pattern")
        if self.group and not self.consumer:
            raise UsageError("--group needs --consumer NAME (the name pending entries belong to)")
        if self.consumer and not self.group:
            raise UsageError("--consumer needs --group NAME")
        if self.claim_idle_ms is not None and not self.group:
            raise UsageError("--claim-idle needs --group and --consumer")
        if self.batch < 1:
            raise UsageError("--batch must be at least 1")


@dataclass
class _Sent:
    acks: int  # XACK commands ahead of the read in the pipeline
    parse: Callable[[StreamReplyParser], Any]
    sent: dict[str, list[str]]  # the ids those XACKs carry


@dataclass
class _Stream:
    key: str
    cursor: str  # non-group: last id seen; group: pending cursor, then ">"
    claim_cursor: str = "0-0"


class Tailer:
    def __init__(self, target: RedisTarget, opts: TailOptions) -> None:
        opts.check()
        self.target = target
        self.opts = opts
        self.start = start_id(opts.start)
        self.streams: dict[str, _Stream] = {}
        self.delivered = 0
        self.acked = 0
        self._unacked: dict[str, list[str]] = {}  # written, XACK not sent yet
        # A read sent ahead while a backlog lasts, so that Redis prepares the next batch
        # while this one is written out; at most one request is in flight.
        self._prefetched: _Sent | None = None
        self._conn: SyncConnection | None = None
        self._start_ms = 0
        self._last_scan = 0.0
        self._last_claim = 0.0
        self._connect(first=True)
        self._start_ms = self._server_ms()
        self._discover(initial=True)

    # -- connection --------------------------------------------------------------

    # What a reconnect waits out; a cluster adds a failover in progress (UpstreamError).
    _retry_on: type[Exception] = RedisUnavailable

    def _open(self, timeout: float) -> None:
        self._conn = SyncConnection(self.target, timeout=timeout, client_name="alphapulse-tail")

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect(self, first: bool = False) -> None:
        self._open(self.opts.block_ms / 1000 + 10.0)
        if not first:
            self.opts.on_notice(f"reconnected to {self.target.display}")
            for s in self.streams.values():
                self._ensure_group(s.key, "0-0")
                if self.opts.group:
                    s.cursor = "0-0"  # deliver our pending entries again, first

    @property
    def conn(self) -> SyncConnection:
        assert self._conn is not None
        return self._conn

    def _reconnect(self, exc: Exception) -> None:
        self._prefetched = None
        self._drop()
        self.opts.on_notice(f"{exc}; reconnecting")
        delay = 0.1
        while True:
            time.sleep(delay)
            try:
                self._connect()
                return
            except self._retry_on:
                delay = min(delay * 2, self.opts.reconnect_max_s)

    def close(self) -> None:
        """Send the acks still owed (best effort) and disconnect."""
        if self._conn is None:
            return
        try:
            if self._prefetched is not None:
                # Entries it read stay pending on this consumer: delivered first next time.
                self._finish(self._prefetched)
                self._prefetched = None
            cmds = self._ack_commands()
            if cmds:
                self.conn.send(b"".join(cmds))
                for _ in cmds:
                    self.conn.read_reply()
                self._ack_confirmed()
        except (RedisUnavailable, RedisCommandError, OSError):
            pass
        self.conn.close()
        self._conn = None

    def _server_ms(self) -> int:
        try:
            secs, usecs = self.conn.call("TIME")
            return int(secs) * 1000 + int(usecs) // 1000
        except (RedisCommandError, ValueError, TypeError):
            return time.time_ns() // 1_000_000

    # -- discovery ---------------------------------------------------------------

    def _call_key(self, key: str, *args: bytes | str | int) -> Any:
        """One command about key (on the server that holds it)."""
        return self.conn.call(*args)

    def _scan(self, pattern: str) -> list[str]:
        return scan_streams(self.conn, pattern)

    def _ensure_group(self, key: str, at: str) -> None:
        if not self.opts.group:
            return
        try:
            self._call_key(key, "XGROUP", "CREATE", key, self.opts.group, at, "MKSTREAM")
        except RedisCommandError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _last_id(self, key: str) -> str:
        return last_id(self._call_key(key, "XREVRANGE", key, "+", "-", "COUNT", 1))

    def _discover(self, initial: bool = False) -> None:
        self._last_scan = time.monotonic()
        keys: list[str] = []
        for pat in self.opts.patterns:
            keys.extend(self._scan(pat) if _GLOB.search(pat) else [pat])
        later = f"{self._start_ms - 1}-{MAX_SEQ}" if self._start_ms > 0 else "0-0"
        for key in keys:
            if key in self.streams:
                continue
            # A stream first seen by a re-scan appeared after the tail started.
            at = self.start if initial or self.start != "$" else later
            if self.opts.group:
                self._ensure_group(key, at)
                cursor = "0-0"
            else:
                cursor = self._last_id(key) if at == "$" else at
            self.streams[key] = _Stream(key, cursor)

    # -- reading -----------------------------------------------------------------

    def _ack_commands(self) -> list[bytes]:
        group = self.opts.group
        if not group:
            return []
        return [encode("XACK", key, group, *ids) for key, ids in self._unacked.items() if ids]

    def _ack_confirmed(self) -> None:
        self.acked += sum(len(ids) for ids in self._unacked.values())
        self._unacked.clear()

    def ack(self, stream: str, ids: list[str]) -> None:
        """Acknowledge entries once their output is written; sent with the next request."""
        if self.opts.group and self.opts.ack and ids:
            self._unacked.setdefault(stream, []).extend(ids)

    def _send(self, cmd: bytes, parse: Callable[[StreamReplyParser], Any]) -> _Sent:
        """Send the acks owed and one read command in one pipeline."""
        acks = self._ack_commands()
        sent, self._unacked = self._unacked, {}
        try:
            self.conn.send(b"".join([*acks, cmd]))
        except RedisUnavailable:
            self._owe(sent)
            raise
        return _Sent(len(acks), parse, sent)

    def _owe(self, acks: dict[str, list[str]]) -> None:
        for key, ids in acks.items():
            self._unacked.setdefault(key, []).extend(ids)

    def _finish(self, req: _Sent) -> Any:
        """Read the reply of a request sent by _send: its acks are confirmed (or owed again
        if the connection broke), and the read's reply is parsed."""
        block = self.opts.block_ms / 1000 + 10.0

        def parse_all(p: StreamReplyParser) -> Any:
            for _ in range(req.acks):
                p.skip()
            try:
                return req.parse(p)
            except RespError as exc:
                return exc

        try:
            result = self.conn.read_parsed(parse_all, timeout=block)
        except RedisUnavailable:
            self._owe(req.sent)
            raise
        self.acked += sum(len(ids) for ids in req.sent.values())
        if isinstance(result, RespError):
            if "NOGROUP" in str(result):
                for s in self.streams.values():
                    self._ensure_group(s.key, "0-0")
                return None
            raise RedisCommandError(self.target.redact(f"{self.target.display}: {result}"))
        return result

    def _request(self, cmd: bytes, parse: Callable[[StreamReplyParser], Any]) -> Any:
        return self._finish(self._send(cmd, parse))

    def _request_key(self, key: str, cmd: bytes, parse: Callable[[StreamReplyParser], Any]) -> Any:
        """_request for a command about one key (sent to the server that holds it)."""
        return self._request(cmd, parse)

    def _want(self) -> int:
        n = self.opts.batch
        if self.opts.count is not None:
            n = min(n, self.opts.count - self.delivered)
        return max(n, 1)

    def _read_pending(self, pending: list[_Stream]) -> list[Batch]:
        o = self.opts
        assert o.group and o.consumer
        keys = [s.key for s in pending]
        ids = [s.cursor for s in pending]
        cmd = encode(
            "XREADGROUP",
            "GROUP",
            o.group,
            o.consumer,
            "COUNT",
            self._want(),
            "STREAMS",
            *keys,
            *ids,
        )
        reply = self._request(cmd, StreamReplyParser.streams) or []
        got = {name: entries for name, entries in reply}
        out: list[Batch] = []
        for s in pending:
            entries = got.get(s.key, [])
            if not entries:
                s.cursor = ">"
                continue
            s.cursor = entries[-1][0]
            live = [e for e in entries if e[1] is not None]
            gone = [e[0] for e in entries if e[1] is None]
            if gone:
                # Trimmed away while pending: nothing left to deliver, so clear them.
                self._unacked.setdefault(s.key, []).extend(gone)
            if live:
                out.append((s.key, live))
        return out

    def _claim(self) -> list[Batch]:
        o = self.opts
        assert o.group and o.consumer and o.claim_idle_ms is not None
        self._last_claim = time.monotonic()
        out: list[Batch] = []
        taken = 0
        for s in self.streams.values():
            if o.count is not None and self._want() - taken <= 0:
                break
            cmd = encode(
                "XAUTOCLAIM",
                s.key,
                o.group,
                o.consumer,
                o.claim_idle_ms,
                s.claim_cursor,
                "COUNT",
                self._want() - taken if o.count is not None else self._want(),
            )
            reply = self._request_key(s.key, cmd, StreamReplyParser.autoclaim)
            if reply is None:
                continue
            nxt, claimed, _deleted = reply
            s.claim_cursor = nxt
            live = [e for e in claimed if e[1] is not None]
            if live:
                taken += len(live)
                out.append((s.key, live))
        return out

    def _counted_group(self) -> bool:
        """Must new entries be read stream by stream? XREADGROUP's COUNT applies per stream,
        so one read over several streams could deliver more than --count still wants, and
        what is delivered but never printed would sit in this consumer's pending list."""
        return bool(self.opts.group and self.opts.count is not None and len(self.streams) > 1)

    def _read_new_counted(self) -> list[Batch]:
        """New entries for a group with --count: XREADGROUP per stream with COUNT = what is
        still wanted, so exactly what is printed is delivered; when none has anything new,
        wait in a plain XREAD BLOCK (which delivers nothing) from each stream's
        last-delivered id, then try again."""
        o = self.opts
        assert o.group and o.consumer
        want = self._want()
        out: list[Batch] = []
        for s in self.streams.values():
            if want <= 0:
                break
            cmd = encode(
                "XREADGROUP", "GROUP", o.group, o.consumer, "COUNT", want, "STREAMS", s.key, ">"
            )
            for name, entries in self._request(cmd, StreamReplyParser.streams) or []:
                live = [e for e in entries if e[1] is not None]
                if live:
                    want -= len(live)
                    out.append((name, live))
        if not out:
            self._wait_for_new()
        return out

    def _delivered_ids(self) -> list[str]:
        """Each stream's last-delivered id in our group ("$" where it cannot be had)."""
        keys = list(self.streams)
        self.conn.send(b"".join(encode("XINFO", "GROUPS", k) for k in keys))
        ids = []
        for _k in keys:
            reply = self.conn.read_reply()
            found = "$"
            if isinstance(reply, list):
                for g in reply:
                    info = dict(zip(g[::2], g[1::2], strict=False))
                    if info.get(b"name") == self.opts.group.encode():  # type: ignore[union-attr]
                        found = info.get(b"last-delivered-id", b"$").decode()
            ids.append(found)
        return ids

    def _wait_for_new(self) -> None:
        keys = list(self.streams)
        ids = self._delivered_ids()
        cmd = encode("XREAD", "COUNT", 1, "BLOCK", self.opts.block_ms, "STREAMS", *keys, *ids)
        self._request(cmd, StreamReplyParser.streams)

    def _read_new_cmd(self, want: int) -> bytes:
        o = self.opts
        keys = list(self.streams)
        if o.group:
            assert o.consumer
            head = ["XREADGROUP", "GROUP", o.group, o.consumer]
            ids = [">"] * len(keys)
        else:
            head = ["XREAD"]
            ids = [self.streams[k].cursor for k in keys]
        extra = ["NOACK"] if o.group and not o.ack else []
        return encode(*head, "COUNT", want, "BLOCK", o.block_ms, *extra, "STREAMS", *keys, *ids)

    def _read_new(self) -> list[Batch]:
        o = self.opts
        req = self._prefetched
        self._prefetched = None
        if req is None:
            req = self._send(self._read_new_cmd(self._want()), StreamReplyParser.streams)
        reply = self._finish(req) or []
        out: list[Batch] = []
        full = False
        got = 0
        for name, entries in reply:
            if entries:
                full = full or len(entries) >= o.batch
                if not o.group:
                    self.streams[name].cursor = entries[-1][0]
                live = [e for e in entries if e[1] is not None]
                got += len(live)
                out.append((name, live))
        if full and not self._due(time.monotonic()):
            left = None if o.count is None else o.count - self.delivered - got
            if left is None or left > 0:
                want = o.batch if left is None else min(o.batch, left)
                self._prefetched = self._send(self._read_new_cmd(want), StreamReplyParser.streams)
        return out

    def _due(self, now: float) -> bool:
        """Is a re-scan or a claim due (done between requests, never with one in flight)?"""
        o = self.opts
        if now - self._last_scan >= o.rescan_s and any(_GLOB.search(p) for p in o.patterns):
            return True
        if o.claim_idle_ms is not None:
            return now - self._last_claim >= max(o.claim_idle_ms / 2000, 0.05)
        return False

    def _next_batches(self) -> list[Batch]:
        o = self.opts
        if self._prefetched is not None:
            return self._read_new()
        now = time.monotonic()
        if now - self._last_scan >= o.rescan_s and any(_GLOB.search(p) for p in o.patterns):
            self._discover()
        if not self.streams:
            time.sleep(min(o.rescan_s, 0.5))
            return []
        if o.group:
            pending = [s for s in self.streams.values() if s.cursor != ">"]
            if pending:
                return self._read_pending(pending)
            if o.claim_idle_ms is not None:
                interval = max(o.claim_idle_ms / 2000, 0.05)
                if now - self._last_claim >= interval or any(
                    s.claim_cursor != "0-0" for s in self.streams.values()
                ):
                    claimed = self._claim()
                    if claimed:
                        return claimed
            if self._counted_group():
                return self._read_new_counted()
        return self._read_new()

    def batches(self) -> Iterator[Batch]:
        """Yield batches until --count entries were delivered (forever without it)."""
        o = self.opts
        while (o.count is None or self.delivered < o.count) and not o.stop():
            try:
                got = self._next_batches()
            except RedisUnavailable as exc:
                self._reconnect(exc)
                continue
            for name, entries in got:
                if o.count is not None:
                    left = o.count - self.delivered
                    if left <= 0:
                        return
                    entries = entries[:left]
                self.delivered += len(entries)
                yield name, entries


def open_tailer(target: RedisTarget, opts: TailOptions) -> Tailer:
    """A Tailer, or a ClusterTailer for a ``redis+cluster://`` URL."""
    if target.cluster:
        from alphapulse_cli.redis_streams.cluster_tail import ClusterTailer

        return ClusterTailer(target, opts)
    return Tailer(target, opts)


# -- output ------------------------------------------------------------------------


def stream_parts(key: str) -> tuple[str, str]:
    """`trades:coinbase:BTC-USD` -> (coinbase, BTC-USD); other shapes give empty strings."""
    parts = key.split(":", 2)
    if len(parts) == 3:
        return parts[1], parts[2]
    return "", ""


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


class JsonLines:
    """One JSON object per entry: stream, id, then the entry's fields in stream order.

    Values that need no JSON escaping (the usual decimal strings and ids) are formatted
    straight into a per-shape template; anything else goes through orjson.
    """

    def __init__(self) -> None:
        import orjson

        self._dumps = orjson.dumps
        self._templates: dict[tuple[str, int], str] = {}

    def _template(self, stream: str, nvals: int) -> str:
        key = (stream, nvals)
        t = self._templates.get(key)
        if t is None:
            head = '{{"stream":"' + stream.replace("{", "{{").replace("}", "}}") + '","id":"{}"'
            t = head + ',"{}":"{}"' * (nvals // 2) + "}}"
            self._templates[key] = t
        return t

    def _plain(self, stream: str, entries: list[Entry]) -> bool:
        """Can the template write these? No escaping needed, no field named stream or id."""
        if _NEEDS_ESCAPE.search(stream):
            return False
        texts: list[str] = []
        names: set[str] = set()
        for eid, vals in entries:
            if vals is None or len(vals) % 2:
                return False
            texts.append(eid)
            texts += vals
            names.update(vals[::2])
        return not (_NEEDS_ESCAPE.search("".join(texts)) or "stream" in names or "id" in names)

    def lines(self, stream: str, entries: list[Entry]) -> bytes:
        if entries and self._plain(stream, entries):
            template = self._template
            out = [template(stream, len(v or ())).format(eid, *(v or ())) for eid, v in entries]
            out.append("")
            return "\n".join(out).encode("utf-8", "surrogateescape")
        dumps = self._dumps
        parts = []
        for eid, vals in entries:
            assert vals is not None
            d = {"stream": stream, "id": eid}
            d.update(zip(vals[::2], vals[1::2], strict=False))
            parts.append(dumps(d))
        parts.append(b"")
        return b"\n".join(parts)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\\\": "\\", "\\r": "\r"}


class Template:
    """kcat-style --fmt: ``{name}`` for entry fields plus stream, id, exchange, symbol and
    ts (the timestamp field as ISO 8601); unknown names print empty; one line per entry."""

    def __init__(self, fmt: str) -> None:
        import string

        fmt = re.sub(r"\\[nt\\r]", lambda m: _ESCAPES[m.group(0)], fmt)
        names = set()
        try:
            for _lit, name, _spec, _conv in string.Formatter().parse(fmt):
                if name is None:
                    continue
                if name == "" or name.isdigit():
                    raise UsageError(f"--fmt {fmt!r}: use named fields like {{price}}, not {{}}")
                names.add(re.split(r"[.\[]", name, maxsplit=1)[0])
        except ValueError as exc:
            raise UsageError(
                f"--fmt {fmt!r}: {exc}; write literal braces as {{{{ and }}}}"
            ) from None
        self.fmt = fmt
        self._need_ts = "ts" in names
        self._need_parts = bool(names & {"exchange", "symbol"})

    def lines(self, stream: str, entries: list[Entry]) -> bytes:
        fmt = self.fmt
        base: dict[str, str] = {"stream": stream}
        if self._need_parts:
            base["exchange"], base["symbol"] = stream_parts(stream)
        out = []
        for eid, vals in entries:
            assert vals is not None
            d = _Blank(base)
            d.update(zip(vals[::2], vals[1::2], strict=False))
            d["id"] = eid
            if self._need_ts:
                d["ts"] = us_text_to_rfc3339(d.get("timestamp", ""))
            try:
                out.append(fmt.format_map(d))
            except (ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
                raise UsageError(f"--fmt {fmt!r}: cannot format entry {eid}: {exc}") from None
        out.append("")
        return "\n".join(out).encode("utf-8", "surrogateescape")
