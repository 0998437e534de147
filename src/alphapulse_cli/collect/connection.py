"""One venue connection, kept up for as long as the capture runs.

The hot path is `_receive`: take a frame from `websockets`, stamp it, append it to the log
buffer, count it. Nothing else happens per frame until the burst of frames that arrived
together is exhausted; then `_after_burst` (scheduled with call_soon, so it runs as soon as
the receive loop would wait) hands the burst to the kernel with one write, records the
receive-to-written latency, and only then parses frames and feeds the sinks, a slice at a
time: between slices the loop goes back to receiving, so recording always comes first and
parsing catches up (its backlog is counted). Only a feed faster than parsing can ever
follow (some 50,000 Kraken messages/s here) makes reading wait: past MAX_PARSE_BACKLOG
frames the backlog is parsed down at once, and past MAX_WS_QUEUE frames websockets stops
reading the socket, so memory stays bounded and TCP holds the rest.

A frame is on its way to disk before anything looks inside it, and a parser or sink
failure is counted and reported, never raised into the capture.

Around it: reconnects with backoff (backoff.py), a watchdog that drops a silent connection,
Kraken's application ping, and resubscription of exactly the symbol whose book or trades
went wrong (Kraken's adapter asks for it after a checksum mismatch; for a Coinbase trade-id
gap this module unsubscribes and resubscribes the product).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, BinaryIO, Literal

from alphapulse_cli import __version__
from alphapulse_cli.adapters.base import Adapter
from alphapulse_cli.collect.backoff import Backoff
from alphapulse_cli.collect.config import KRAKEN_PING_S, CollectConfig
from alphapulse_cli.collect.counters import Counters
from alphapulse_cli.collect.credentials import redact
from alphapulse_cli.collect.output import LogOutput
from alphapulse_cli.collect.status import Reporter
from alphapulse_cli.core.sinks import EventSink
from alphapulse_cli.errors import AlphapulseError, UpstreamError
from alphapulse_cli.wslog.format import (
    END_OF_LOG_CLOSE_CODE,
    END_OF_LOG_CLOSE_REASON,
    Kind,
    make_tag,
)

CLOSE_TIMEOUT = 0.5  # our close handshake on stop: what the venue sent before it is kept
MAX_FRAME = 1 << 26
MAX_WS_QUEUE = 65_536  # a Coinbase level2 snapshot of a busy product is several MB
BURST_FLUSH = 2048  # frames received in one go before they are flushed anyway
PARSE_SLICE = 200  # frames parsed before the loop may receive again (a few ms at most)
MAX_PARSE_BACKLOG = 100_000  # frames (some 50 MB): beyond it, receiving waits for parsing
RESYNC_INTERVAL_NS = 1_000_000_000  # at most one Coinbase resubscribe per product a second
_time_ns = time.time_ns
_monotonic = time.monotonic


class Connection:
    def __init__(
        self,
        cfg: CollectConfig,
        adapter: Adapter,
        out: LogOutput,
        counters: Counters,
        reporter: Reporter,
        sinks: Sequence[EventSink] = (),
        events_out: BinaryIO | None = None,
        slot: int = 0,
    ) -> None:
        self.cfg = cfg
        self.adapter = adapter
        self.out = out
        self.counters = counters
        self.reporter = reporter
        self.sinks = list(sinks)
        self.events_out = events_out
        self.tag_in = make_tag(out.venue_id, Kind.IN, slot)
        self.tag_out = make_tag(out.venue_id, Kind.OUT, slot)
        self.slot = slot
        self.stop_reason: str | None = None
        self.error: BaseException | None = None
        self.venue_errors: list[str] = []
        self._pending: list[tuple[int, bytes]] = []  # received, not yet flushed
        self._unparsed: deque[tuple[int, bytes]] = deque()  # flushed, not yet parsed
        self._scheduled = False
        self._parse_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ws: Any = None
        self._close_task: asyncio.Task[None] | None = None
        self._watchdog_reason: str | None = None
        self._outq: asyncio.Queue[bytes] | None = None
        self._last_rx = _monotonic()
        self._ever_connected = False
        self._ever_data = False
        self._resyncs: dict[str, str] = {}  # venue symbol -> reason, handled after the burst
        self._last_resync_ns: dict[str, int] = {}
        self._jsonl: list[dict[str, Any]] = []
        self._encode_lines: Any = None
        # What the file being written holds, for its closing `summary` event: the
        # adapter's counters when it was opened, its symbols and inbound frames.
        self._file_base = dict(adapter.stats)
        self._file_symbols: set[str | None] = set()
        self._file_frames = 0
        out.summaries = self._file_summary
        if events_out is not None:
            import msgspec

            self._encode_lines = msgspec.json.Encoder().encode_lines

    # ---- control ---------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Finish: close the connection with a handshake (what arrives until the venue's close
        frame is still recorded) and do not reconnect. Safe to call from a signal handler."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self._stopped is not None:
            self._stopped.set()
        ws = self._ws
        if ws is not None and self._close_task is None and self._loop is not None:
            self._close_task = self._loop.create_task(self._close(ws))

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, BrokenPipeError):
            # The reader of stdout went away (`| head`): a normal end, not an error.
            self.stop("stdout closed")
            return
        if self.error is None:
            self.error = exc
        self.stop(f"error: {exc}")

    @staticmethod
    async def _close(ws: Any) -> None:
        try:
            await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT + 0.2)
        except Exception:
            pass
        finally:
            if ws.transport is not None:
                ws.transport.abort()

    def report(self, level: str, kind: str, **fields: Any) -> None:
        try:
            self.reporter.event(level, kind, {"venue": self.cfg.venue, **fields})
        except Exception:
            pass  # the operator's view must never take the capture down

    # ---- the reconnect loop ----------------------------------------------------------------
    async def run(self) -> None:
        from websockets.asyncio.client import connect

        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        if self.stop_reason is not None:
            return
        cfg = self.cfg
        url = cfg.endpoint(self.adapter)
        backoff = Backoff(cfg.venue)
        # A first connect that fails is retried like any later one (a local exchange or
        # `replay --serve` started a moment before us is not listening yet), until
        # --connect-timeout has passed without one success.
        give_up_at = _monotonic() + cfg.connect_timeout
        while self.stop_reason is None:
            backoff.attempted(_monotonic())
            attempt = asyncio.ensure_future(
                connect(
                    url,
                    # Frames waiting inside websockets: a high-water mark far above any
                    # burst, so reading pauses only when parsing is hopelessly behind.
                    max_queue=MAX_WS_QUEUE,
                    max_size=MAX_FRAME,
                    open_timeout=10,
                    close_timeout=CLOSE_TIMEOUT,
                    ping_interval=20,
                    ping_timeout=20,
                    compression="deflate" if cfg.compression else None,
                    user_agent_header=f"alphapulse/{__version__}",
                    proxy=_proxy_for(url),
                )
            )
            stopping = asyncio.ensure_future(self._stopped.wait())
            await asyncio.wait({attempt, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(BaseException):
                    await attempt
                break
            uptime = 0.0
            exc = attempt.exception()
            if exc is not None:
                self.counters.connect_failures += 1
                why = _connect_error(exc)
                if not self._ever_connected and _monotonic() >= give_up_at:
                    self.fail(
                        UpstreamError(f"{url}: cannot connect: {why}; check --url and the network")
                    )
                    break
                self.report("warning", "connect_failed", url=url, reason=why)
            else:
                uptime = await self._session(attempt.result(), url)
            if self.error is not None or self.stop_reason is not None:
                break
            delay = backoff.delay(_monotonic(), uptime)
            if not self._ever_connected:
                delay = max(0.0, min(delay, give_up_at - _monotonic()))
            self.report("info", "reconnecting", in_s=round(delay, 3))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), delay)

    async def _session(self, ws: Any, url: str) -> float:
        """One connection from its opening handshake to its end; returns its lifetime."""
        self._ws = ws
        opened = _monotonic()
        self._last_rx = opened
        self._watchdog_reason = None
        self._close_task = None
        c = self.counters
        c.connects += 1
        if self._ever_connected:
            c.reconnects += 1
        self._ever_connected = True
        self._write_session({"event": "connect", "url": url})
        self.report("info", "connect", url=url, connects=c.connects)
        self._outq = asyncio.Queue()
        helpers = [
            asyncio.ensure_future(self._sender(ws)),
            asyncio.ensure_future(self._watchdog(ws, opened)),
        ]
        if self.cfg.venue == "kraken":
            helpers.append(asyncio.ensure_future(self._pinger()))
        from websockets.exceptions import ConnectionClosed

        try:
            if self.stop_reason is not None:
                self.stop(self.stop_reason)  # a stop that came during the handshake
            for msg in self.cfg.subscribe_messages(self.adapter):
                await self._send(ws, msg)
            reason = await self._receive(ws)
        except ConnectionClosed as exc:
            reason = self.stop_reason or self._watchdog_reason or _close_reason(exc)
            if _is_end_of_log(exc):
                self.stop("end of log")  # replay --serve has served all it holds
        finally:
            for t in helpers:
                t.cancel()
            for t in helpers:
                with contextlib.suppress(BaseException):
                    await t
        if self._close_task is not None:
            with contextlib.suppress(BaseException):
                await self._close_task
        else:
            with contextlib.suppress(BaseException):
                ws.transport.abort()
        self._ws = None
        self._drain_safely()
        c.disconnects += 1
        self._write_session({"event": "disconnect", "reason": reason})
        level = "info" if self.stop_reason is not None else "warning"
        self.report(level, "disconnect", reason=reason, uptime_s=round(_monotonic() - opened, 3))
        if not self._ever_data and self.venue_errors and self.error is None:
            self.fail(
                UpstreamError(f"{url}: the venue refused the subscription: {self.venue_errors[0]}")
            )
        return _monotonic() - opened

    # ---- receiving -------------------------------------------------------------------------
    async def _receive(self, ws: Any) -> str:
        recv = ws.recv
        write = self.out.write
        tag = self.tag_in
        pending = self._pending
        c = self.counters
        limit = self.cfg.max_messages
        call_soon = self._loop.call_soon  # type: ignore[union-attr]
        after = self._after_burst
        while True:
            payload = await recv(False)
            ts = _time_ns()
            write(ts, tag, payload)
            pending.append((ts, payload))
            n = c.frames_in = c.frames_in + 1
            c.bytes_in += len(payload)
            if not self._scheduled:
                self._scheduled = True
                call_soon(after)
            elif len(pending) >= BURST_FLUSH:
                # A long burst (a backlog read at once): flush as it goes, so the first
                # frames do not wait for the last and the parse backlog bound holds.
                try:
                    self._flush_burst()
                except BaseException as exc:
                    self.fail(exc)
            if limit is not None and n >= limit:
                self.stop("max-messages reached")
                return "max-messages reached"

    def _after_burst(self) -> None:
        """Flush the burst's records, then parse a slice of what is unparsed."""
        self._scheduled = False
        try:
            self._flush_burst()
            self._parse_slice()
        except BaseException as exc:  # a dead disk or a closed stdout: stop cleanly
            self.fail(exc)

    def _flush_burst(self) -> None:
        """Hand the burst's records to the kernel; they join the parse backlog."""
        pending = self._pending
        if not pending:
            return
        self.out.flush()
        self.counters.latency.observe_many(_time_ns(), [ts for ts, _ in pending])
        self._last_rx = _monotonic()
        self._unparsed.extend(pending)
        pending.clear()
        n = self.counters.parse_backlog = len(self._unparsed)
        if n > self.counters.parse_backlog_max:
            self.counters.parse_backlog_max = n
        if n > MAX_PARSE_BACKLOG:
            # Frames keep arriving faster than they parse: bound the memory by parsing
            # half the backlog now, receiving meanwhile waits (TCP holds the rest).
            self.report("warning", "parse_backlog", frames=n)
            popleft = self._unparsed.popleft
            while len(self._unparsed) > MAX_PARSE_BACKLOG // 2:
                batch = [popleft() for _ in range(min(PARSE_SLICE, len(self._unparsed)))]
                self._parse(batch)
                self._after_parse()

    def _parse_slice(self) -> None:
        """Parse at most PARSE_SLICE frames, then let the loop receive again: recording
        comes first, parsing catches up (a burst never waits behind a long parse)."""
        unparsed = self._unparsed
        if not unparsed:
            return
        popleft = unparsed.popleft
        batch = [popleft() for _ in range(min(PARSE_SLICE, len(unparsed)))]
        self._parse(batch)
        self._after_parse()
        self.counters.parse_backlog = len(unparsed)
        if unparsed and not self._parse_scheduled:
            self._parse_scheduled = True
            self._loop.call_soon(self._parse_more)  # type: ignore[union-attr]

    def _parse_more(self) -> None:
        self._parse_scheduled = False
        try:
            self._parse_slice()
        except BaseException as exc:
            self.fail(exc)

    def _drain_safely(self) -> None:
        try:
            self._drain()
        except BaseException as exc:
            self.fail(exc)

    def _drain(self) -> None:
        """Flush and parse everything received so far: before a session event or a sent
        frame is logged, so that the adapter sees records in log order."""
        self._flush_burst()
        unparsed = self._unparsed
        while unparsed:
            batch = list(unparsed)
            unparsed.clear()
            self.counters.parse_backlog = 0
            self._parse(batch)
            self._after_parse()

    def _parse(self, batch: list[tuple[int, bytes]]) -> None:
        adapter = self.adapter
        feed = adapter.feed
        stats = adapter.stats
        c = self.counters
        symbols = c.symbols
        sinks = self.sinks
        jsonl = self._jsonl if self.events_out is not None else None
        self._file_frames += len(batch)
        file_symbols = self._file_symbols
        for ts, payload in batch:
            ok0 = stats["checksum_ok"]
            try:
                events = feed(payload, ts)
            except Exception as exc:  # adapters promise not to raise; if one does, count it
                c.parser_errors += 1
                self.report("error", "parser_error", error=f"{type(exc).__name__}: {exc}"[:300])
                continue
            if not events:
                continue
            sym = events[0]["symbol"]
            if sym is not None:
                sc = symbols.get(sym) or c.symbol(sym)
                sc.messages += 1
                sc.bytes += len(payload)
                sc.checksum_ok += stats["checksum_ok"] - ok0
                self._ever_data = True
            for ev in events:
                file_symbols.add(ev["symbol"])
                t = ev["type"]
                if t == "book_update":
                    continue
                if t == "trade":
                    tc = symbols.get(ev["symbol"]) or c.symbol(ev["symbol"])
                    tc.trades += 1
                    tc.last_trade = ev
                elif t != "book_snapshot":
                    self._notable(ev)
            if jsonl is not None:
                jsonl += events
            if sinks:
                self._to_sinks(ts, events)

    def _to_sinks(self, ts: int, events: list[dict[str, Any]]) -> None:
        adapter = self.adapter
        for sink in self.sinks:
            try:
                sink.handle(adapter, ts, events)
            except Exception as exc:
                errs = self.counters.sink_errors
                errs[sink.name] = errs.get(sink.name, 0) + 1
                self.report(
                    "error",
                    "sink_error",
                    sink=sink.name,
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )

    def _notable(self, ev: dict[str, Any], from_session: bool = False) -> None:
        t = ev["type"]
        sym = ev["symbol"]
        sc = self.counters.symbol(sym) if sym is not None else None
        vs = ev.get("venue_symbol") or sym
        if t == "gap":
            if sc is not None:
                sc.gaps += 1
            else:
                self.counters.connection_gaps += 1
            self.report(
                "warning",
                "gap",
                symbol=sym,
                expected=ev.get("expected"),
                got=ev.get("got"),
                missing=ev.get("missing"),
                source=ev.get("source"),
            )
            if self.cfg.venue == "coinbase" and vs is not None:
                self._resyncs.setdefault(vs, "gap")
            elif self.cfg.venue == "coinbase" and ev.get("source") == "sequence_num":
                # Advanced Trade lost messages of the whole connection: every product gets
                # fresh level2 and market_trades subscriptions (a snapshot each).
                for product in self.cfg.symbols:
                    self._resyncs.setdefault(product.upper().replace("/", "-"), "sequence_gap")
        elif t == "checksum_mismatch":
            if sc is not None:
                sc.checksum_mismatch += 1
            self.report(
                "warning",
                "checksum_mismatch",
                symbol=sym,
                expected=ev.get("expected"),
                computed=ev.get("computed"),
            )
        elif t == "resync":
            if sc is not None:
                sc.resyncs += 1
            self.report("info", "resync", symbol=sym, reason=ev.get("reason"))
            if not from_session and vs is not None:
                self._resyncs.setdefault(vs, str(ev.get("reason") or "resync"))
        elif t == "malformed":
            self.counters.malformed += 1
            if sc is not None:
                sc.malformed += 1
            self.report(
                "warning", "malformed", symbol=sym, reason=ev.get("reason"), raw=ev.get("raw")
            )

    def _after_parse(self) -> None:
        """What the burst asked for: venue errors to report, resyncs to log, subscriptions
        to renew, and the burst's events on stdout."""
        adapter = self.adapter
        if adapter.venue_errors:
            for text in adapter.venue_errors:
                self.counters.venue_errors += 1
                self.venue_errors.append(text)
                self.report("error", "venue_error", message=text)
            del self.venue_errors[:-20]
            adapter.venue_errors.clear()
        if self._resyncs:
            todo, self._resyncs = self._resyncs, {}
            for vs, reason in todo.items():
                self._resync(vs, reason)
        for msg in adapter.take_outbox():
            self._queue_send(msg)
        self._write_jsonl()

    def _write_jsonl(self) -> None:
        if not self._jsonl:
            return
        lines = self._encode_lines(self._jsonl)
        self._jsonl.clear()
        if self.events_out is None:
            return
        try:
            self.events_out.write(lines)
            self.events_out.flush()
        except OSError as exc:  # stdout closed (`| head`): stop, the log stays complete
            self.events_out = None
            self.fail(exc)

    def _resync(self, vs: str, reason: str) -> None:
        """Log the resync; on Coinbase also renew the product's subscription (Kraken's
        adapter has queued its own unsubscribe/subscribe pair in the outbox)."""
        now = _time_ns()
        if self.cfg.venue == "coinbase":
            last = self._last_resync_ns.get(vs)
            if last is not None and now - last < RESYNC_INTERVAL_NS:
                return  # the resubscribe of a moment ago is already bringing a fresh book
            self._last_resync_ns[vs] = now
        self._write_session({"event": "resync", "symbol": vs, "reason": reason})
        self.counters.resubscribes += 1
        if self.cfg.venue == "coinbase":
            for msg in _coinbase_renewal(self.cfg, self.adapter, vs):
                self._queue_send(msg)

    # ---- sending ---------------------------------------------------------------------------
    def _queue_send(self, msg: bytes) -> None:
        if self._outq is not None and self._ws is not None:
            self._outq.put_nowait(msg)

    async def _sender(self, ws: Any) -> None:
        q = self._outq
        assert q is not None
        while True:
            msg = await q.get()
            await self._send(ws, msg)

    async def _send(self, ws: Any, msg: bytes) -> None:
        """Log what we send (the logged copy without secrets), then send it."""
        self._drain_safely()  # frames received before this one are logged and parsed first
        ts = _time_ns()
        logged = redact(msg) if self.cfg.credentials is not None else msg
        self.out.write(ts, self.tag_out, logged)
        self._flush()
        self.counters.frames_out += 1
        self.counters.bytes_out += len(logged)
        self.adapter.feed_outbound(logged, ts)
        await ws.send(msg, text=True)

    async def _pinger(self) -> None:
        while True:
            await asyncio.sleep(KRAKEN_PING_S)
            msg = self.adapter.ping_message()
            if msg is not None:
                self._queue_send(msg)

    async def _watchdog(self, ws: Any, opened: float) -> None:
        limit = self.cfg.watchdog
        while True:
            await asyncio.sleep(min(1.0, limit / 4))
            idle = _monotonic() - self._last_rx
            if idle >= limit and self._close_task is None:
                self._watchdog_reason = f"watchdog: no frame for {idle:.1f} s"
                self.counters.watchdog_timeouts += 1
                self.report("warning", "watchdog", idle_s=round(idle, 3))
                ws.transport.abort()
                return
            if (
                not self._ever_data
                and self.venue_errors
                and _monotonic() - opened >= min(limit, 5.0)
                and self._close_task is None
            ):
                self.stop("the venue refused the subscription")
                return

    # ---- session events --------------------------------------------------------------------
    def _file_summary(self) -> list[tuple[int, dict[str, Any]]]:
        """The `summary` event that closes a log file (docs/architecture.md §3): what the
        adapter counted in the records of this file, so `compact` need not derive it again.
        Called by the writer just before the file's `end`; every frame written to it is
        parsed first. Nothing on a failure: compact then derives the counters itself."""
        try:
            self._catch_up()
        except Exception as exc:
            self.report("error", "summary_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return []
        stats = self.adapter.stats
        base = self._file_base
        counts = {k: v - base.get(k, 0) for k, v in stats.items()}
        symbols = sorted(s for s in self._file_symbols if s is not None)
        obj = {"event": "summary", "in": self._file_frames, "integrity": counts, "symbols": symbols}
        self._file_base = dict(stats)
        self._file_symbols = set()
        self._file_frames = 0
        return [(self.slot, obj)]

    def _catch_up(self) -> None:
        """Parse every frame written so far. Nothing may be written to the log while a file
        closes, so what the parse asks for (resyncs, sends, JSON lines) waits for the next
        `_after_parse`, which the frame that caused the rotation brings."""
        pending = self._pending
        if pending:
            self.counters.latency.observe_many(_time_ns(), [ts for ts, _ in pending])
            self._unparsed.extend(pending)
            pending.clear()
        unparsed = self._unparsed
        while unparsed:
            batch = list(unparsed)
            unparsed.clear()
            self._parse(batch)
        self.counters.parse_backlog = 0

    def _flush(self) -> None:
        try:
            self.out.flush()
        except BaseException as exc:
            self.fail(exc)

    def _write_session(self, obj: dict[str, Any]) -> None:
        self._drain_safely()
        ts = _time_ns()
        self.out.write_event(ts, obj, self.slot)
        self._flush()
        self.counters.session_events += 1
        events = self.adapter.feed_session(obj, ts)
        if events:
            for ev in events:
                self._file_symbols.add(ev["symbol"])
                if ev["type"] not in ("connect", "disconnect"):
                    self._notable(ev, from_session=True)
            if self.events_out is not None:
                self._jsonl += events
            if self.sinks:
                self._to_sinks(ts, events)
        self._write_jsonl()


def _coinbase_renewal(cfg: CollectConfig, adapter: Adapter, product: str) -> list[bytes]:
    """Unsubscribe and resubscribe one product on the channels we use: the venue sends a
    new snapshot (and last_match), and the other products are not touched."""
    fresh = [
        m
        for m in adapter.subscribe_messages([product], cfg.channel_list(), None, cfg.protocol)
        if b'"product_ids"' in m  # Advanced Trade's heartbeats are not per product
    ]
    unsubs = [
        json.dumps({**json.loads(m), "type": "unsubscribe"}, separators=(",", ":")).encode()
        for m in fresh
    ]
    if cfg.credentials is not None and cfg.protocol == "exchange":
        fresh = [cfg.credentials.sign(m) for m in fresh]
    return unsubs + fresh


def _proxy_for(url: str) -> Literal[True] | None:
    """The environment's proxy (HTTPS_PROXY, ...) for a venue, none for a loopback host
    (a local exchange, replay --serve)."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return None if host in ("localhost", "::1") or host.startswith("127.") else True


def _close_reason(exc: Any) -> str:
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        text = f" {rcvd.reason}" if rcvd.reason else ""
        return f"closed by the venue ({rcvd.code}{text})"
    sent = getattr(exc, "sent", None)
    if sent is not None:
        return f"closed by us ({sent.code})"
    return "connection lost (no close frame)"


def _is_end_of_log(exc: Any) -> bool:
    rcvd = getattr(exc, "rcvd", None)
    return (
        rcvd is not None
        and rcvd.code == END_OF_LOG_CLOSE_CODE
        and rcvd.reason == END_OF_LOG_CLOSE_REASON
    )


def _connect_error(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out during the opening handshake"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, AlphapulseError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"[:300]
