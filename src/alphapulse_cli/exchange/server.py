"""The local exchange's network shell: a `websockets` server around the sans-I/O sessions.

One task drives the market: every few milliseconds it runs the events due at the chosen rate
and ticks each session's timers. Each connection has a reader (client messages into its
session) and a sender that writes the session's queued frames in bursts: frames go straight to
the protocol and out in one transport write per burst, with flow control once per burst, which
is what lets one process push tens of thousands of messages a second.

Usage::

    async with LocalExchange("kraken", rate=5000) as ex:
        ...  # connect to ex.url (Kraken v2) or ex.url_v1
        print(ex.stats())
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphapulse_cli.errors import UpstreamError, UsageError
from alphapulse_cli.exchange.coinbase import CoinbaseSession
from alphapulse_cli.exchange.coinbase_advanced import PATH as ADVANCED_PATH
from alphapulse_cli.exchange.coinbase_advanced import AdvancedSession
from alphapulse_cli.exchange.faults import NO_FAULTS, Faults
from alphapulse_cli.exchange.instruments import VENUES, listing
from alphapulse_cli.exchange.kraken_v1 import KrakenV1Session
from alphapulse_cli.exchange.kraken_v2 import KrakenV2Session
from alphapulse_cli.exchange.market import Market
from alphapulse_cli.exchange.session import Session, Settings
from alphapulse_cli.exchange.stats import ConnStats

if TYPE_CHECKING:
    from websockets.asyncio.server import Server, ServerConnection

TICK = 0.004  # seconds between market bursts
MAX_CATCH_UP = 0.1  # after a stalled loop, run at most this many seconds' worth of events
MAX_BACKLOG = 2_000_000  # frames queued for one client before it is cut off as too slow

_quiet = logging.getLogger("alphapulse_cli.exchange.websockets")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False

LogHook = Callable[[str, ConnStats], None]


class _Conn:
    """One client connection: its session, its sender and the faults that apply to it."""

    def __init__(self, ws: ServerConnection, session: Session, faults: Faults) -> None:
        self.ws = ws
        self.session = session
        self.stats = session.stats
        self.faults = faults
        self.wake = asyncio.Event()
        self.close_reason = ""
        triggers: list[tuple[int, str]] = [(n, "malformed") for n in faults.malformed_after]
        if faults.drop_after is not None:
            triggers.append((faults.drop_after, "drop"))
        if faults.stall_after is not None:
            triggers.append((faults.stall_after, "stall"))
        # At equal counts: the malformed frame first, then a stall, then the drop.
        order = {"malformed": 0, "stall": 1, "drop": 2}
        self.triggers = sorted(triggers, key=lambda t: (t[0], order[t[1]]))
        self.timed: list[tuple[float, str]] = []
        if faults.stall_at is not None:
            self.timed.append((faults.stall_at, "stall"))
        if faults.drop_at is not None:
            self.timed.append((faults.drop_at, "drop"))
        self.due: list[str] = []

    def tick(self, now_ns: int) -> None:
        age = (now_ns - self.session.opened_ns) / 1e9
        if self.timed:
            for item in [t for t in self.timed if age >= t[0]]:
                self.timed.remove(item)
                self.due.append(item[1])
        if self.due or self.session.out or self.session.close_request:
            self.wake.set()

    async def run_sender(self) -> None:
        from websockets.exceptions import WebSocketException

        try:
            await self._send_forever()
        except (WebSocketException, OSError, RuntimeError):
            pass  # the connection went away under us: the reader records why

    async def _send_forever(self) -> None:
        from websockets.protocol import State

        ws, sess, st = self.ws, self.session, self.stats
        proto, transport = ws.protocol, ws.transport
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.due:
                action = self.due.pop(0)
                if action == "drop":
                    await self._drop()
                    return
                await self._stall()
            out = sess.out
            if len(out) > MAX_BACKLOG:
                self.close_reason = "slow consumer: backlog limit reached"
                await ws.close(1008, "slow consumer")
                return
            if out:
                sess.out = []
                i, n = 0, len(out)
                while i < n:
                    if proto.state is not State.OPEN:
                        sess.out[:0] = out[i:]
                        return
                    end = n
                    if self.triggers:
                        end = min(n, i + max(0, self.triggers[0][0] - st.frames_sent))
                    if end > i:
                        chunk = out[i:end]
                        for frame in chunk:
                            proto.send_text(frame)
                        transport.write(b"".join(proto.data_to_send()))
                        st.frames_sent += end - i
                        st.bytes_sent += sum(map(len, chunk))
                        i = end
                    while self.triggers and self.triggers[0][0] <= st.frames_sent:
                        _, action = self.triggers.pop(0)
                        if action == "drop":
                            sess.out[:0] = out[i:]
                            await self._drop()
                            return
                        if action == "stall":
                            await self._stall()
                        elif proto.state is State.OPEN:
                            self._malformed(out[i] if i < n else None)
                    await ws.drain()
            if sess.close_request is not None and not sess.out:
                code, reason = sess.close_request
                self.close_reason = reason
                await ws.close(code, reason)
                return

    async def _stall(self) -> None:
        self.stats.stalls += 1
        await asyncio.sleep(self.faults.stall_for)

    def _malformed(self, next_frame: bytes | None) -> None:
        # Cut-off JSON: the start of a real frame, as a truncated write would leave it.
        base = (
            next_frame if next_frame and len(next_frame) > 8 else b'{"type":"l2update","changes":[['
        )
        frame = base[: max(4, len(base) // 2)]
        proto = self.ws.protocol
        proto.send_text(frame)
        self.ws.transport.write(b"".join(proto.data_to_send()))
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(frame)
        self.stats.malformed += 1
        self.stats.count("malformed")

    async def _drop(self) -> None:
        """End the TCP stream without a close frame, after every frame sent so far is out."""
        self.stats.dropped = True
        self.close_reason = "fault: connection dropped"
        transport = self.ws.transport
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while transport.get_write_buffer_size() and loop.time() < deadline:
            await asyncio.sleep(0.001)
        if transport.can_write_eof():
            transport.write_eof()
            loop.call_later(2.0, transport.abort)
        else:
            transport.abort()


class LocalExchange:
    """A protocol-faithful exchange on 127.0.0.1 for one venue (Kraken: v2 on /v2, v1 on /;
    Coinbase: Exchange on /, Advanced Trade on /advanced-trade). `protocol` picks which
    one `url` names ("advanced" for Coinbase Advanced Trade); every one is served."""

    def __init__(
        self,
        venue: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float = 1000.0,
        symbols: list[str] | None = None,
        seed: int = 0,
        faults: Faults | None = None,
        levels: int = 400,
        trade_share: float = 0.1,
        subscribe_timeout: float = 5.0,
        idle_timeout: float = 60.0,
        compression: bool = True,
        stats_file: str | Path | None = None,
        on_log: LogHook | None = None,
        protocol: str | None = None,
    ) -> None:
        if venue not in VENUES:
            raise UsageError(f"unknown venue {venue!r}: expected one of {', '.join(VENUES)}")
        if rate < 0:
            raise UsageError(f"rate: {rate} is not 0 or more events per second")
        self.venue = venue
        self.protocol = protocol
        self.host = host
        self.port = port
        self.rate = float(rate)
        self.seed = seed
        self.faults = faults or NO_FAULTS
        self.faults.check_venue(venue)
        self.instruments = listing(venue, symbols)
        self.levels = levels
        self.trade_share = trade_share
        self.compression = compression
        self.settings = Settings(
            subscribe_timeout=subscribe_timeout, idle_timeout=idle_timeout, seed=seed
        )
        self.stats_file = Path(stats_file) if stats_file else None
        self.on_log = on_log
        self.market: Market | None = None
        self.connections: list[ConnStats] = []
        self._conns: dict[int, _Conn] = {}
        self._next_id = 0
        self._server: Server | None = None
        self._driver: asyncio.Task[None] | None = None
        self._has_conn: asyncio.Event | None = None
        self._closed_count = 0
        self._closed_event: asyncio.Event | None = None

    # ---- life cycle
    async def start(self) -> None:
        from websockets.asyncio.server import serve

        self.market = Market(
            self.venue,
            self.instruments,
            seed=self.seed,
            levels=self.levels,
            trade_share=self.trade_share,
        )
        self._has_conn = asyncio.Event()
        self._closed_event = asyncio.Event()
        try:
            self._server = await serve(
                self._handle,
                self.host,
                self.port,
                compression="deflate" if self.compression else None,
                write_limit=2**20,
                max_size=2**20,
                logger=_quiet,
            )
        except OSError as exc:
            raise UpstreamError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                "choose another --port or 0 for a free one"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        self._driver = asyncio.create_task(self._drive())

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            self._server = None
        self.write_stats()

    async def __aenter__(self) -> LocalExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- addresses
    def _base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    @property
    def url(self) -> str:
        """Coinbase: the feed (Advanced Trade with protocol "advanced"); Kraken: WebSocket
        v2."""
        if self.venue == "kraken":
            return self._base() + "/v2"
        return self.url_advanced if self.protocol == "advanced" else self._base()

    @property
    def url_advanced(self) -> str:
        """Coinbase Advanced Trade (same port, path /advanced-trade)."""
        return self._base() + ADVANCED_PATH

    @property
    def url_v1(self) -> str:
        """Kraken WebSocket v1 (same port, path /)."""
        return self._base()

    @property
    def urls(self) -> dict[str, str]:
        if self.venue == "kraken":
            return {"kraken-v2": self.url, "kraken-v1": self.url_v1}
        return {"coinbase": self._base(), "coinbase-advanced": self.url_advanced}

    # ---- stats
    def stats(self) -> dict[str, Any]:
        conns = [c.to_dict() for c in self.connections]
        return {
            "venue": self.venue,
            "urls": self.urls,
            "rate": self.rate,
            "seed": self.seed,
            "symbols": [i.symbol for i in self.instruments],
            "connections": conns,
            "frames_sent": sum(c["frames_sent"] for c in conns),
            "bytes_sent": sum(c["bytes_sent"] for c in conns),
        }

    def write_stats(self) -> None:
        if self.stats_file is None:
            return
        tmp = self.stats_file.with_name(self.stats_file.name + ".tmp")
        tmp.write_text(json.dumps(self.stats(), indent=1) + "\n")
        os.replace(tmp, self.stats_file)

    async def wait_closed(self, count: int = 1, timeout: float = 10.0) -> list[ConnStats]:
        """Wait until `count` connections have ended; returns the stats of the ended ones."""
        assert self._closed_event is not None, "start() the exchange first"
        deadline = asyncio.get_running_loop().time() + timeout
        while self._closed_count < count:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"{self._closed_count} of {count} connections ended")
            self._closed_event.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closed_event.wait(), left)
        return [c for c in self.connections if c.closed_ns is not None]

    # ---- the market clock
    async def _drive(self) -> None:
        market = self.market
        assert market is not None and self._has_conn is not None
        due = 0.0
        last = time.monotonic()
        while True:
            if not self._conns:
                self._has_conn.clear()
                await self._has_conn.wait()
                last = time.monotonic()
            await asyncio.sleep(TICK)
            mono = time.monotonic()
            elapsed, last = mono - last, mono
            now = time.time_ns()
            market.set_time(now)
            if market.active and self.rate > 0:
                due += self.rate * min(elapsed, MAX_CATCH_UP)
                n = int(due)
                due -= n
                step = market.step
                for _ in range(n):
                    step()
            else:
                due = 0.0
            for conn in list(self._conns.values()):
                conn.session.on_clock(now)
                conn.tick(now)

    # ---- connections
    def _session_class(self, path: str) -> type[Session]:
        if self.venue == "coinbase":
            if path.split("?")[0].rstrip("/") == ADVANCED_PATH:
                return AdvancedSession
            return CoinbaseSession
        return KrakenV2Session if path.rstrip("/").split("?")[0] == "/v2" else KrakenV1Session

    async def _handle(self, ws: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        assert self.market is not None and self._has_conn is not None
        now = time.time_ns()
        path = ws.request.path if ws.request is not None else "/"
        cls = self._session_class(path)
        self._next_id += 1
        cid = self._next_id
        faults = self.faults if self.faults.applies_to(cid) else NO_FAULTS
        peer = ws.remote_address
        st = ConnStats(
            cid,
            cls.dialect,
            path,
            f"{peer[0]}:{peer[1]}" if peer else "",
            now,
            faults=faults is not NO_FAULTS,
        )
        session = cls(self.market, st, faults, self.settings, now)
        conn = _Conn(ws, session, faults)
        self.connections.append(st)
        self._conns[cid] = conn
        self._has_conn.set()
        self._log("open", st)
        session.opening(now)
        conn.wake.set()
        sender = asyncio.create_task(conn.run_sender())
        try:
            async for msg in ws:
                st.frames_received += 1
                session.receive(msg, time.time_ns())
                if session.out:
                    conn.wake.set()
        except ConnectionClosed:
            pass
        finally:
            session.close()
            if not sender.done():
                sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            del self._conns[cid]
            st.backlog = len(session.out)
            st.closed_ns = time.time_ns()
            st.close_reason = conn.close_reason or self._why_closed(ws)
            self._closed_count += 1
            if self._closed_event is not None:
                self._closed_event.set()
            self._log("close", st)
            self.write_stats()

    @staticmethod
    def _why_closed(ws: ServerConnection) -> str:
        rcvd = ws.protocol.close_rcvd
        if rcvd is not None:
            return f"client closed ({rcvd.code})"
        sent = ws.protocol.close_sent
        if sent is not None:
            return f"server closed ({sent.code})"
        return "connection lost"

    def _log(self, what: str, st: ConnStats) -> None:
        if self.on_log is not None:
            self.on_log(what, st)
