"""`replay --serve`: a WebSocket server that plays a recorded venue back to a client.

A client connects as if to the exchange. It is sent the venue's greeting (the inbound frames
recorded before the first subscribe), then, after its own first message or a grace period,
every later inbound frame of that venue, byte-identical and in log order, paced by `speed`
(None: as fast as the client reads), and finally a close with code 4000 "end of log"
(wslog.format.END_OF_LOG_CLOSE_*, a code no venue sends: `collect` ends there). The server itself
only answers Kraken's application pings (v2 `{"method":"ping"}`, v1 `{"event":"ping"}`) with
the venue's pong shape; everything else it sends is from the log. Protocol pings are answered
by the `websockets` library.

Paths: `/<venue>` (coinbase, kraken) serves that venue's frames of every connection slot;
`/<venue>/<slot>` only one slot; any other path (`/`, `/v2`) the venue given by `--exchange`,
else the venue of the log's first frame.

Each client reads the log from the start on its own. Without `keep_serving` the server ends
once every client that connected has been served (after the first one), so a client that
reconnects after the close finds nothing and records no repeated frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from alphapulse_cli.errors import AlphapulseError, UpstreamError, UsageError
from alphapulse_cli.replay.merge import Selection, merge, open_inputs, select
from alphapulse_cli.replay.serve_feed import Batch, End, Feed, Gate
from alphapulse_cli.venues_table import VENUE_IDS, venue_name
from alphapulse_cli.wslog.format import END_OF_LOG_CLOSE_CODE, END_OF_LOG_CLOSE_REASON
from alphapulse_cli.wslog.reader import ReadStats, Record

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response

GRACE_S = 5.0  # Coinbase's subscribe deadline: a client that says nothing gets the stream then
WRITE_LIMIT = 1 << 21
CLOSE_TIMEOUT_S = 5.0
_KRAKEN = VENUE_IDS["kraken"]

_quiet = logging.getLogger("alphapulse_cli.replay.serve.websockets")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def parse_address(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` (HOST may be `[v6]`); the host defaults to 127.0.0.1."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif not host:
        host = "127.0.0.1"
    try:
        num = int(port)
    except ValueError:
        num = -1
    if not 0 <= num <= 65535:
        raise UsageError(
            f"--serve: {text!r} is not [HOST:]PORT with a port 0-65535 (0 picks a free one)"
        )
    return host, num


@dataclass(frozen=True)
class Route:
    venue: int | None  # None: the log's first venue
    slot: int | None  # None: every connection slot


def route_for(path: str, default_venue: int | None, allowed: frozenset[int] | None) -> Route:
    """The frames a request path asks for; a UsageError's message becomes the 404 body."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if not parts or parts[0].lower() not in VENUE_IDS:
        return Route(default_venue, None)
    venue = VENUE_IDS[parts[0].lower()]
    if allowed is not None and venue not in allowed:
        raise UsageError(f"{parts[0]} is not in this replay's --exchange selection")
    slot = None
    if len(parts) > 1:
        if not parts[1].isdigit() or not 0 <= int(parts[1]) <= 15:
            raise UsageError(f"{parts[1]!r} is not a connection slot 0-15")
        slot = int(parts[1])
    return Route(venue, slot)


def kraken_pong(message: str | bytes, now_ns: int) -> str | None:
    """Kraken's answer to an application ping, or None when `message` is not one."""
    if len(message) > 512:
        return None
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    if "ping" not in text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    pong: dict[str, Any]
    if obj.get("method") == "ping":
        from alphapulse_cli.core.times import ns_to_rfc3339

        pong = {"method": "pong"}
        if "req_id" in obj:
            pong["req_id"] = obj["req_id"]
        pong["time_in"] = pong["time_out"] = ns_to_rfc3339(now_ns)
    elif obj.get("event") == "ping":
        pong = {"event": "pong"}
        if "reqid" in obj:
            pong["reqid"] = obj["reqid"]
    else:
        return None
    return json.dumps(pong, separators=(",", ":"))


@dataclass
class ServeRequest:
    files: list[str]
    selection: Selection = field(default_factory=Selection)
    host: str = "127.0.0.1"
    port: int = 0
    speed: float | None = None
    count: int | None = None
    follow: bool = False
    tail: str = "raise"
    keep_serving: bool = False
    grace: float = GRACE_S

    @property
    def once_only(self) -> bool:
        """stdin can be read by one client only."""
        return "-" in self.files


@dataclass
class ClientStats:
    peer: str
    path: str
    venue: str = ""
    frames: int = 0
    bytes: int = 0
    received: int = 0
    pongs: int = 0
    opened: float = 0.0
    seconds: float = 0.0
    close: str = ""
    other_venues: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out.pop("opened")
        out["seconds"] = round(self.seconds, 3)
        if not self.other_venues:
            out.pop("other_venues")
        return out


Say = Callable[[str], None]


class _Pacer:
    """Maps record time to wall time at `speed` (None: no pacing) from the first frame, or
    from the recorded subscribe when the log has one."""

    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self._base_ts: int | None = None
        self._t0 = 0.0

    def start_at(self, ts: int | None) -> None:
        if ts is not None:
            self._base_ts, self._t0 = ts, time.perf_counter()

    def wait(self, ts: int) -> float:
        """Seconds until the frame recorded at `ts` is due."""
        assert self.speed is not None
        if self._base_ts is None:
            self._base_ts, self._t0 = ts, time.perf_counter()
        return self._t0 + (ts - self._base_ts) / 1e9 / self.speed - time.perf_counter()


def _say_stderr(line: str) -> None:
    print(f"replay: {line}", file=sys.stderr, flush=True)


class ReplayServer:
    def __init__(self, req: ServeRequest, say: Say = _say_stderr) -> None:
        self.req = req
        self.say = say
        self.read_stats = ReadStats()
        self.clients: list[ClientStats] = []
        self.error: BaseException | None = None
        self.port = req.port
        self._active = 0
        self._served = 0
        self._done = asyncio.Event()
        self._stopping = False
        sel = req.selection
        venues = sel.venues
        self._default_venue = next(iter(venues)) if venues and len(venues) == 1 else None
        # The kinds filter is the feed's business: it needs the outbound records to find the
        # subscribe, and serves inbound frames only.
        self._selection = Selection(sel.start_ns, sel.end_ns, venues, None)

    @property
    def url(self) -> str:
        host = f"[{self.req.host}]" if ":" in self.req.host else self.req.host
        return f"ws://{host}:{self.port}"

    def _open_records(self) -> Iterator[Record]:
        req = self.req
        sources = open_inputs(
            req.files, tail=req.tail, follow=req.follow, stats=self.read_stats, files=req.files
        )
        records = merge(sources)
        if not self._selection.everything:
            records = select(records, self._selection)
        return records

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        try:
            route_for(request.path, self._default_venue, self._selection.venues)
        except UsageError as exc:
            return conn.respond(HTTPStatus.NOT_FOUND, f"{exc}\n")
        if self.req.once_only and (self._active or self._served):
            return conn.respond(
                HTTPStatus.SERVICE_UNAVAILABLE, "the log is read from stdin: one client only\n"
            )
        return None

    async def run(self, stop: asyncio.Event, on_listening: Callable[[str], None]) -> None:
        from websockets.asyncio.server import serve

        try:
            server = await serve(
                self._handle,
                self.req.host,
                self.req.port,
                compression=None,  # the feed writes plain frames; see serve_feed
                process_request=self._process_request,
                write_limit=WRITE_LIMIT,
                max_size=1 << 20,
                close_timeout=CLOSE_TIMEOUT_S,
                logger=_quiet,
            )
        except OSError as exc:
            raise UpstreamError(
                f"--serve: cannot listen on {self.req.host}:{self.req.port}: "
                f"{exc.strerror or exc}; choose another port, or 0 for a free one"
            ) from None
        self.port = server.sockets[0].getsockname()[1]
        on_listening(self.url)
        async with server:
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._done.wait())]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            self._stopping = True
            server.close(close_connections=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT_S + 1)
        if self.error is not None:
            raise self.error

    async def _handle(self, ws: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        request = ws.request
        path = request.path if request is not None else "/"
        route = route_for(path, self._default_venue, self._selection.venues)
        peer = ws.remote_address
        st = ClientStats(f"{peer[0]}:{peer[1]}" if peer else "", path, opened=time.monotonic())
        self.clients.append(st)
        self._active += 1
        feed = Feed(
            self._open_records,
            asyncio.get_running_loop(),
            venue=route.venue,
            slot=route.slot,
            count=self.req.count,
            live=self.req.follow,
        )
        first = asyncio.Event()
        reader = asyncio.create_task(self._read_client(ws, st, feed, first))
        feed.start()
        try:
            st.close = await self._stream(ws, st, feed, first)
        except (ConnectionClosed, OSError, RuntimeError):
            st.close = "client went away"
        finally:
            feed.stop()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            if feed.stats.venue is not None:
                st.venue = venue_name(feed.stats.venue)
            st.other_venues = sorted(venue_name(v) for v in feed.stats.other_venues)
            st.seconds = time.monotonic() - st.opened
            if self._stopping and st.close == "client went away":
                st.close = "server stopped (1001)"
            self._report(st)
            self._active -= 1
            self._served += 1
            if not self.req.keep_serving and self._active == 0:
                self._done.set()

    async def _read_client(
        self, ws: ServerConnection, st: ClientStats, feed: Feed, first: asyncio.Event
    ) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                st.received += 1
                first.set()
                # The feed thread learns the venue from the log's first frames: a ping that
                # comes sooner waits for it rather than going unanswered.
                for _ in range(1000):
                    if feed.stats.venue is not None or feed.finished:
                        break
                    await asyncio.sleep(0.005)
                if feed.stats.venue == _KRAKEN:
                    pong = kraken_pong(message, time.time_ns())
                    if pong is not None:
                        await ws.send(pong)
                        st.pongs += 1
        first.set()

    async def _stream(
        self, ws: ServerConnection, st: ClientStats, feed: Feed, first: asyncio.Event
    ) -> str:
        # Every wait (for a followed log to grow, for a paced frame's time) also ends when the
        # client goes, so a gone client never holds the server up.
        closed = asyncio.ensure_future(ws.wait_closed())
        pacer = _Pacer(self.req.speed)
        try:
            while True:
                getter = asyncio.ensure_future(feed.queue.get())
                await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    return "client went away"
                item = getter.result()
                if closed.done():
                    return "client went away"
                if isinstance(item, Gate):
                    said = asyncio.ensure_future(first.wait())
                    await asyncio.wait(
                        {said, closed}, timeout=self.req.grace, return_when=asyncio.FIRST_COMPLETED
                    )
                    said.cancel()
                    pacer.start_at(item.ts)
                elif isinstance(item, End):
                    if item.error is not None:
                        self._fail(item.error)
                        await ws.close(1011, "cannot read the log")
                        return f"log error: {item.error}"
                    await ws.close(END_OF_LOG_CLOSE_CODE, END_OF_LOG_CLOSE_REASON)
                    return f"{END_OF_LOG_CLOSE_REASON} ({END_OF_LOG_CLOSE_CODE})"
                elif pacer.speed is None:
                    ws.transport.write(b"".join(item.parts))
                    st.frames += len(item.ts)
                    st.bytes += item.size
                    await ws.drain()
                elif not await self._paced(ws, st, item, pacer, closed):
                    return "client went away"
        finally:
            closed.cancel()

    async def _paced(
        self,
        ws: ServerConnection,
        st: ClientStats,
        item: Batch,
        pacer: _Pacer,
        closed: asyncio.Future[None],
    ) -> bool:
        """Write a batch frame by frame at its record times; False if the client went away."""
        start = 0
        for i, ts in enumerate(item.ts):
            wait = pacer.wait(ts)
            if wait > 0.0005:
                self._write(ws, st, item, start, i)
                start = i
                await ws.drain()
                await asyncio.wait({closed}, timeout=wait)
                if closed.done():
                    return False
        self._write(ws, st, item, start, len(item.ts))
        await ws.drain()
        return True

    @staticmethod
    def _write(ws: ServerConnection, st: ClientStats, item: Batch, start: int, end: int) -> None:
        if end > start:
            parts = item.parts[2 * start : 2 * end]
            ws.transport.write(b"".join(parts))
            st.frames += end - start
            st.bytes += sum(map(len, parts[1::2]))

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = (
                exc if isinstance(exc, AlphapulseError) else AlphapulseError(f"--serve: {exc}")
            )
        self._done.set()

    def _report(self, st: ClientStats) -> None:
        line = (
            f"client {st.peer} {st.path}: {st.frames} {st.venue or 'no'} frames "
            f"({st.bytes} bytes) in {st.seconds:.2f} s, {st.received} received"
        )
        if st.pongs:
            line += f", {st.pongs} pongs"
        line += f"; {st.close}"
        if st.other_venues:
            line += (
                f"; the log also holds {', '.join(st.other_venues)}: "
                f"connect to /{st.other_venues[0]} for it"
            )
        self.say(line)

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "clients": [c.to_json() for c in self.clients],
            "frames": sum(c.frames for c in self.clients),
            "bytes": sum(c.bytes for c in self.clients),
            "truncated": self.read_stats.truncated,
        }


def run_serve(
    req: ServeRequest,
    on_listening: Callable[[str], None],
    say: Say = _say_stderr,
) -> dict[str, Any]:
    """Serve until the clients are served (or for ever with keep_serving) or SIGINT/SIGTERM;
    returns the `--stats` summary."""
    if req.once_only and req.keep_serving:
        raise UsageError("--keep-serving needs files: stdin can be read by one client only")
    server = ReplayServer(req, say)
    got: list[str] = []

    async def main() -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            got.append(sig.name)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        await server.run(stop, on_listening)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        asyncio.run(main())
    else:
        uvloop.run(main())
    summary = server.summary()
    summary["signal"] = got[0] if got else None
    return summary
