"""`alphapulse replay`: read logs, merge by time, filter, pace, and write them out."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional

import typer

from alphapulse_cli.cli import replay_serve
from alphapulse_cli.cli.options import (
    TAIL_HELP,
    check_choice,
    output_sink,
    redis_books_option,
    redis_maxlen_option,
    redis_publish_option,
    shm_interval_option,
    shm_mode_option,
    shm_option,
    shm_sink,
    split_list,
    stdin_inputs,
)
from alphapulse_cli.errors import UsageError

if TYPE_CHECKING:
    from alphapulse_cli.replay.run import ReplayRequest

FORMATS = ("jsonl", "wslog", "events", "books")


def command(
    inputs: Optional[list[str]] = typer.Argument(
        None,
        metavar="[PATH|-]...",
        help="Files, directories (walked for *.wslog, *.wslog.zst) or - for stdin.",
    ),
    fmt: str = typer.Option(
        "jsonl", "--format", "-f", help="Output: jsonl (raw records), wslog (bytes), events, books."
    ),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Write to PATH instead of stdout."
    ),
    start: Optional[str] = typer.Option(
        None, "--from", help="First time: ISO 8601 (2026-01-13T09:30Z), relative (-15m) or epoch."
    ),
    end: Optional[str] = typer.Option(None, "--to", help="Last time, same forms as --from."),
    exchange: Optional[list[str]] = typer.Option(
        None,
        "--exchange",
        "-e",
        help="Only these venues (coinbase, kraken); repeat or comma-separate.",
    ),
    kind: Optional[list[str]] = typer.Option(
        None,
        "--kind",
        "-k",
        help="Only these record kinds: in, out, event; repeat or comma-separate.",
    ),
    symbol: Optional[list[str]] = typer.Option(
        None, "--symbol", "-s", help="events/books: only these symbols (BASE-QUOTE)."
    ),
    depth: int = typer.Option(10, "--depth", "-d", min=1, help="books: levels per side."),
    count: Optional[int] = typer.Option(
        None, "--count", "-c", min=0, help="Stop after N output records (events, lines)."
    ),
    speed: str = typer.Option(
        "max", "--speed", help="X times the original pace from record timestamps; max: no pacing."
    ),
    follow: bool = typer.Option(
        False, "--follow", "-F", help="Keep reading growing files until their writer closes them."
    ),
    tail: str = typer.Option("raise", "--tail", help=TAIL_HELP),
    shm: Optional[str] = shm_option(instead_of_stdout=True),
    shm_interval: str = shm_interval_option(record_time=True),
    shm_mode: str = shm_mode_option(),
    stats: bool = typer.Option(
        False, "--stats", help="A one-line JSON summary on stderr at the end."
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress bar and no warnings (an empty result), only errors. The bar is "
        "shown only when stderr is a terminal and the output is not.",
    ),
    redis: Optional[str] = redis_publish_option(),
    redis_maxlen: int = redis_maxlen_option(),
    redis_books: bool = redis_books_option(),
    serve: Optional[str] = typer.Option(
        None, "--serve", metavar="[HOST:]PORT", help=replay_serve.SERVE_HELP
    ),
    keep_serving: bool = typer.Option(False, "--keep-serving", help=replay_serve.KEEP_SERVING_HELP),
) -> Optional[int]:
    """Merge logs by timestamp and write records, raw bytes, events or books.

    Inputs are merged by record timestamp; equal timestamps keep input order, then record
    order. With --format wslog the output is a valid .wslog stream whose records are
    byte-identical to the input records; one file with no filters is copied in bulk.

    With --shm NAME the events rebuild the books and each changed book is written into the
    shared-memory ring NAME (see shm-dump(1)) as the live capture would; nothing goes to
    stdout. Another live writer on the ring is refused (exit 1); a dead one's is taken over.

    Examples:

        alphapulse replay data/ --from 2026-01-13T09:30Z --to 2026-01-13T16:00Z

        alphapulse replay a.wslog b.wslog.zst --format wslog -o merged.wslog

        zstd -dc day.wslog.zst | alphapulse replay - --exchange kraken --count 10

        alphapulse replay live.wslog --follow --format events | jq .

        alphapulse replay data/ --speed 10 --serve 127.0.0.1:8765   # then collect --url

        alphapulse replay data/ --redis redis://127.0.0.1:6379 --redis-books --stats

        alphapulse replay day.wslog.zst --speed 1 --shm orderbook --shm-interval 10ms
    """
    from alphapulse_cli.replay.run import ReplayRequest, run_replay

    check_choice(fmt, FORMATS, "--format")
    check_choice(tail, ("raise", "stop"), "--tail")
    req = ReplayRequest.from_options(
        inputs=stdin_inputs(inputs),
        fmt=fmt,
        start=start,
        end=end,
        exchanges=split_list(exchange),
        kinds=split_list(kind),
        symbols=split_list(symbol),
        depth=depth,
        count=count,
        speed=speed,
        follow=follow,
        tail=tail,
    )
    if serve is not None:
        others = {
            "--symbol": symbol,
            "--shm": shm is not None,
            "--redis": redis is not None,
            "--redis-books": redis_books,
        }
        return replay_serve.serve_replay(
            req, serve, keep_serving=keep_serving, output=output, stats=stats, others=others
        )
    ring = shm_sink(shm, shm_interval, shm_mode)
    if ring is not None:
        req.sinks.append(ring)
    if redis is not None:
        from alphapulse_cli.redis_streams.sink import replay_sink

        # A dead Redis at start exits 4 here, before anything is read.
        req.sinks.append(replay_sink(redis, redis_maxlen or None, redis_books))
    elif redis_books:
        raise UsageError("--redis-books needs --redis URL")
    with output_sink(output) as sink, _progress(req, output, quiet):
        summary = run_replay(req, sink)
    for warning in [] if quiet else req.warnings:
        typer.echo(f"alphapulse: warning: {warning}", err=True)
    if stats:
        import orjson

        sys.stderr.buffer.write(orjson.dumps(summary) + b"\n")
        sys.stderr.flush()
    return None


def _progress(req: ReplayRequest, output: str | None, quiet: bool) -> Any:
    """A bar on stderr for a long read: only on a terminal, and only when the output does
    not go to that terminal too, nor is followed or paced (those are watched, not waited
    for)."""
    from contextlib import nullcontext
    from pathlib import Path

    from alphapulse_cli.cli.options import stderr_is_tty

    to_terminal = (output is None or output == "-") and sys.stdout.isatty()
    if quiet or to_terminal or req.follow or req.speed is not None or not stderr_is_tty():
        return nullcontext()
    from alphapulse_cli.cli.progress import file_progress
    from alphapulse_cli.wslog.reader import expand_inputs

    files = [Path(f) for f in expand_inputs(req.inputs) if f != "-"]
    return file_progress(f"replay {req.fmt}", files) if files else nullcontext()
