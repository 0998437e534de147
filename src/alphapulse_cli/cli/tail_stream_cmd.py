"""`alphapulse tail-stream`: follow Redis streams, alone or in a consumer group."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any, Optional

import typer

from alphapulse_cli.cli.options import redis_url_option


def command(
    patterns: list[str] = typer.Argument(
        ..., metavar="PATTERN", help="Stream keys or glob patterns (trades:coinbase:*)."
    ),
    start: str = typer.Option(
        "$",
        "--from",
        help="$ new entries only, 0 everything, an id (entries after it), or a time "
        "(ISO 8601, -15m, epoch). With --group: where a missing group starts.",
    ),
    count: Optional[int] = typer.Option(None, "--count", "-c", min=1, help="Exit after N entries."),
    group: Optional[str] = typer.Option(
        None, "--group", "-g", help="Read as a member of this consumer group (created if missing)."
    ),
    consumer: Optional[str] = typer.Option(
        None, "--consumer", help="This reader's name in the group (owner of its pending entries)."
    ),
    claim_idle: Optional[int] = typer.Option(
        None,
        "--claim-idle",
        min=1,
        metavar="MS",
        help="Take over entries pending longer than MS on other consumers (XAUTOCLAIM).",
    ),
    no_ack: bool = typer.Option(
        False, "--no-ack", help="Group mode: read with NOACK, leaving nothing pending."
    ),
    fmt: Optional[str] = typer.Option(
        None,
        "--fmt",
        help="Line template: entry fields plus {stream} {id} {exchange} {symbol} {ts}.",
    ),
    json_out: bool = typer.Option(False, "--json", help="JSON lines even on a terminal."),
    table: bool = typer.Option(False, "--table", help="Live table on stderr even when piped."),
    batch: int = typer.Option(1000, "--batch", min=1, help="Entries per read (COUNT)."),
    rescan: float = typer.Option(
        2.0, "--rescan", min=0.05, help="Seconds between SCANs for new streams matching a pattern."
    ),
    redis: Optional[str] = redis_url_option(),
) -> None:
    """Follow Redis streams and print their entries as JSON lines, a template, or a live table.

    Each entry becomes one JSON object on stdout: stream, id, then its fields. On a terminal
    a live table (one row per stream) is shown instead, unless --json or --fmt is given.
    Patterns expand with SCAN and are re-scanned, so streams created later are followed.

    With --group and --consumer the entries are shared among the group's consumers. An entry
    is acknowledged only after its line is written and flushed; on start the consumer's own
    pending entries come first; --claim-idle takes over a dead consumer's pending entries.
    Delivery is at least once: a consumer killed after writing a line but before its ack
    gets that entry again. With --count over several streams in a group, entries read past
    N stay pending on this consumer and come first the next time it starts.

    On a pipe whose reader has gone (| head), the tail ends quietly within a second.

    Exit status: 0 after --count entries, 4 if Redis is unreachable, 130 on Ctrl-C.

    Examples:

        alphapulse tail-stream 'trades:coinbase:*'

        alphapulse tail-stream 'trades:*' --from -15m --count 100 | jq .price

        alphapulse tail-stream 'trades:kraken:*' --group analytics --consumer c1 --claim-idle 30000

        alphapulse tail-stream trades:coinbase:BTC-USD --fmt '{ts} {symbol} {side} {volume}@{price}'
    """
    from alphapulse_cli.errors import RedisUnavailable
    from alphapulse_cli.redis_streams.conn import with_hint
    from alphapulse_cli.redis_streams.tail import JsonLines, Tailer, TailOptions, Template
    from alphapulse_cli.redis_streams.url import parse_url, resolve_url

    target = parse_url(resolve_url(redis))
    opts = TailOptions(
        patterns=patterns,
        start=start,
        count=count,
        group=group,
        consumer=consumer,
        claim_idle_ms=claim_idle,
        ack=not no_ack,
        batch=batch,
        rescan_s=rescan,
    )
    opts.check()
    template = Template(fmt) if fmt is not None else None
    use_table = table or (template is None and not json_out and sys.stdout.isatty())
    try:
        tailer = Tailer(target, opts)
    except RedisUnavailable as exc:
        raise RedisUnavailable(with_hint(str(exc))) from None
    if start == "$" and group is None and not use_table and sys.stderr.isatty():
        # A quiet stream read from `$` prints nothing at all: say what it is waiting for.
        print(
            f"alphapulse: waiting for new entries on {' '.join(patterns)} "
            "(--from 0 shows the history)",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if use_table:
            _run_table(tailer)
        else:
            _run_lines(tailer, template or JsonLines())
    finally:
        signal.signal(signal.SIGTERM, previous)
        tailer.close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _reader_gone(fd: int) -> bool:
    """Has the reading end of our stdout pipe closed (`| head`)? Polled between reads, so an
    idle tail notices without waiting for an entry to write."""
    import select

    try:
        poller = select.poll()
        poller.register(fd, select.POLLERR)
        return any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in poller.poll(0))
    except (OSError, ValueError):
        return False


def _run_lines(tailer: Any, sink: Any) -> None:
    out = sys.stdout.buffer
    fd = out.fileno()
    tailer.opts.stop = lambda: _reader_gone(fd)
    for stream, entries in tailer.batches():
        if not entries:
            continue
        out.write(sink.lines(stream, entries))
        out.flush()
        tailer.ack(stream, [e[0] for e in entries])


class _Board:
    """Per-stream state for the live table: entries seen, last id, last fields."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, str, dict[str, str]]] = {}
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def update(self, stream: str, entries: list[Any]) -> None:
        eid, vals = entries[-1]
        with self.lock:
            n = self.rows.get(stream, (0, "", {}))[0] + len(entries)
            self.rows[stream] = (n, eid, dict(zip(vals[::2], vals[1::2], strict=False)))

    def render(self) -> Any:
        from rich.table import Table

        from alphapulse_cli.core.times import us_text_to_rfc3339

        with self.lock:
            rows = sorted(self.rows.items())
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        t = Table(title=f"alphapulse tail-stream ({len(rows)} streams)", expand=False)
        for col, just in (
            ("stream", "left"),
            ("entries", "right"),
            ("per s", "right"),
            ("last id", "left"),
            ("time", "left"),
            ("side", "left"),
            ("price", "right"),
            ("volume", "right"),
        ):
            t.add_column(col, justify=just)  # type: ignore[arg-type]
        for stream, (n, eid, f) in rows:
            t.add_row(
                stream,
                f"{n:,}",
                f"{n / elapsed:,.0f}",
                eid,
                us_text_to_rfc3339(f.get("timestamp", "")),
                f.get("side", ""),
                f.get("price", f.get("bid_price", "")),
                f.get("volume", f.get("ask_price", "")),
            )
        return t


def _run_table(tailer: Any) -> None:
    from rich.console import Console
    from rich.live import Live

    board = _Board()
    console = Console(stderr=True)
    with Live(get_renderable=board.render, console=console, refresh_per_second=4, transient=False):
        for stream, entries in tailer.batches():
            if not entries:
                continue
            board.update(stream, entries)
            tailer.ack(stream, [e[0] for e in entries])
