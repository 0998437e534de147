"""The capture's life cycle: open the log, start the connection under uvloop, install the
signal handlers, tick the status view, and close everything cleanly at the end.

SIGINT and SIGTERM end the capture the same way as --duration and --max-messages: the
connection closes with a handshake (frames the venue sent before its close frame are
still recorded), a `disconnect` session event is written, every sink is closed, and the
log gets its end-of-log event; the whole takes well under a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from alphapulse_cli.adapters import make_adapter
from alphapulse_cli.collect.config import CollectConfig
from alphapulse_cli.collect.connection import Connection
from alphapulse_cli.collect.counters import Counters
from alphapulse_cli.collect.output import LogOutput
from alphapulse_cli.collect.status import JsonLinesReporter, Reporter, StatusBoard, sink_stats
from alphapulse_cli.core.sinks import EventSink, close_all

TICK_S = 0.5
SINK_TICK_S = 0.05
SINK_CLOSE_S = 2.0


def run_collect(
    cfg: CollectConfig,
    sinks: Sequence[EventSink] = (),
    reporter: Reporter | None = None,
    *,
    metrics_port: int | None = None,
    metrics_addr: str = "127.0.0.1",
    stdout: BinaryIO | None = None,
) -> dict[str, Any]:
    """Capture until stopped; returns the summary (counters, files, sink summaries).

    Raises UpstreamError when the first connection cannot be made or the venue refuses
    every subscription, and whatever error stopped the capture (a full disk); the log is
    closed cleanly first in every case."""
    rep = reporter or JsonLinesReporter(sys.stderr)
    stream = stdout if stdout is not None else sys.stdout.buffer
    with library_logs_to(rep):
        try:
            import uvloop

            return uvloop.run(_main(cfg, list(sinks), rep, metrics_port, metrics_addr, stream))
        except ImportError:  # uvloop is not built for this platform: the stdlib loop works
            return asyncio.run(_main(cfg, list(sinks), rep, metrics_port, metrics_addr, stream))


class _ToReporter(logging.Handler):
    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = "error" if record.levelno >= logging.ERROR else "warning"
            self.reporter.event(
                level, record.name.rpartition(".")[2], {"message": record.getMessage()}
            )
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def library_logs_to(reporter: Reporter) -> Iterator[None]:
    """Warnings that library code logs (the Redis publisher's outages) become reporter
    events, so a capture without a terminal keeps one JSON object per stderr line. A caller
    that starts sinks before run_collect (their threads may log at once) enters it first;
    run_collect then adds no second handler."""
    root = logging.getLogger("alphapulse")
    if any(isinstance(h, _ToReporter) for h in root.handlers):
        yield
        return
    handler = _ToReporter(reporter)
    root.addHandler(handler)
    was = root.propagate
    root.propagate = False
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.propagate = was


async def _main(
    cfg: CollectConfig,
    sinks: list[EventSink],
    reporter: Reporter,
    metrics_port: int | None,
    metrics_addr: str,
    stdout: BinaryIO,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    sim = None
    if cfg.simulate is not None:
        from alphapulse_cli.collect.simulate import SimulatedVenue

        sim = SimulatedVenue(cfg)
        cfg = sim.cfg  # its URL becomes the simulated exchange's before the first connect
    adapter = make_adapter(cfg.venue)
    counters = Counters(cfg.venue)
    out = LogOutput(cfg.output, cfg.venue, stream=stdout if cfg.output == "-" else None)
    conn = Connection(
        cfg,
        adapter,
        out,
        counters,
        reporter,
        sinks,
        events_out=stdout if cfg.jsonl else None,
    )
    metrics = None
    if metrics_port is not None:
        from alphapulse_cli.collect.metrics import serve_metrics

        metrics = serve_metrics(metrics_port, metrics_addr, counters, sinks)
        reporter.event("info", "metrics", {"url": f"http://{metrics_addr}:{metrics.port}/metrics"})
    board = StatusBoard(counters, adapter, cfg.normalized_symbols, lambda: out.bytes_written, sinks)
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, conn.stop, f"signal {sig.name}")
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (a bench or a test driving us in-process)
    timer = loop.call_later(cfg.duration, conn.stop, "duration reached") if cfg.duration else None
    ticker = asyncio.ensure_future(_tick(board, reporter, sinks))
    started = time.monotonic()
    sink_summary: dict[str, Any] = {}
    try:
        if sim is not None:
            conn.report("info", "simulate", url=await sim.start(), rate=sim.sim.rate)
        await conn.run()
    finally:
        ticker.cancel()
        if timer is not None:
            timer.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        # The log first: whatever a sink does on closing, the capture is complete on disk.
        try:
            out.close()
        except BrokenPipeError:
            pass
        except Exception as exc:
            conn.fail(exc)
        if sinks:
            sink_summary = _close_sinks(sinks, conn)
        if metrics is not None:
            metrics.shutdown()
        if sim is not None:
            await sim.stop()
    summary = {
        **counters.summary(),
        "stop_reason": conn.stop_reason,
        "elapsed_s": round(time.monotonic() - started, 3),
        "files": [str(p) for p in out.files],
        "bytes_written": out.bytes_written,
    }
    if sink_summary:
        summary["sinks"] = sink_summary
    if sim is not None:
        summary["simulated"] = sim.summary()
    if conn.venue_errors:
        summary["venue_error_messages"] = conn.venue_errors[-5:]
    try:
        rows, totals = board.rows()
        reporter.tick(rows, totals)
        reporter.close(summary)
    except Exception:
        pass
    if conn.error is not None:
        raise conn.error
    return summary


def _close_sinks(sinks: list[EventSink], conn: Connection) -> dict[str, Any]:
    """Close the sinks (flushing what they queued) for at most SINK_CLOSE_S: a sink stuck
    on a dead server must not keep a stopped capture from exiting."""
    import threading

    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["summary"] = close_all(sinks)
        except Exception as exc:
            box["error"] = exc

    t = threading.Thread(target=work, name="close-sinks", daemon=True)
    t.start()
    t.join(SINK_CLOSE_S)
    if t.is_alive():
        names = ", ".join(s.name for s in sinks)
        conn.report("error", "sink_close_timeout", sinks=names, timeout_s=SINK_CLOSE_S)
        # Their counters as they stand, so offered = published + dropped still adds up.
        live = sink_stats(sinks)
        return {
            s.name: {**live.get(s.name, {}), "error": f"not closed within {SINK_CLOSE_S} s"}
            for s in sinks
        }
    if "error" in box:
        conn.report("error", "sink_error", error=f"closing: {box['error']}"[:300])
        return {"error": str(box["error"])[:300]}
    summary: dict[str, Any] = box.get("summary", {})
    return summary


async def _tick(board: StatusBoard, reporter: Reporter, sinks: list[EventSink]) -> None:
    """The status view every TICK_S; sinks that hold data back (the shm ring's interval)
    get a `tick(now_ns)` every SINK_TICK_S, so a quiet feed's last change is not kept."""
    tickers = [s.tick for s in sinks if callable(getattr(s, "tick", None))]  # type: ignore[attr-defined]
    every = max(1, round(TICK_S / SINK_TICK_S)) if tickers else 1
    n = 0
    while True:
        await asyncio.sleep(SINK_TICK_S if tickers else TICK_S)
        now = time.time_ns()
        for tick in tickers:
            try:
                tick(now)
            except Exception:
                pass  # a sink counts its own trouble; a tick never stops the capture
        n += 1
        if n % every:
            continue
        try:
            rows, totals = board.rows()
            reporter.tick(rows, totals)
        except Exception:
            pass  # the view is best effort; the capture is not
