"""`alphapulse query`: trades, book updates, a book at an instant, bars, or SQL over the lake,
completed from the raw logs and Redis (a thin command over alphapulse_cli.research)."""

from __future__ import annotations

import sys
from typing import Any, Optional

import typer

KINDS = ("trades", "book-updates", "book", "bars", "sql")
_ARITY = {"trades": 1, "book-updates": 1, "book": 1, "bars": 2, "sql": 1}
_USAGE = {
    "trades": "trades SYMBOL",
    "book-updates": "book-updates SYMBOL",
    "book": "book SYMBOL --at TIME",
    "bars": "bars SYMBOL INTERVAL",
    "sql": 'sql "SELECT ..."',
}


def command(
    kind: str = typer.Argument(
        ..., metavar="KIND", help="trades, book-updates, book, bars or sql."
    ),
    args: Optional[list[str]] = typer.Argument(
        None,
        metavar="ARGS...",
        help="SYMBOL (trades, book-updates, book); SYMBOL INTERVAL (bars: 1m, 5m, 1h, 1d); "
        "the query (sql).",
    ),
    lake_dir: str = typer.Option(
        ...,
        "--lake",
        "-l",
        metavar="DIR",
        help="The lake `compact --parquet` writes: a directory or s3://BUCKET/PREFIX.",
    ),
    raw: Optional[str] = typer.Option(
        None,
        "--raw",
        metavar="DATA_DIR",
        help="Also read the logs under collect's DATA_DIR that the lake does not hold yet.",
    ),
    redis: Optional[str] = typer.Option(
        None,
        "--redis",
        metavar="URL",
        help="Then Redis streams trades:<exchange>:<symbol> for what is newer still.",
    ),
    redis_required: bool = typer.Option(
        False,
        "--redis-required",
        help="Exit 4 when Redis cannot be reached (default: warn, return the history).",
    ),
    start: Optional[str] = typer.Option(
        None, "--from", help="First time: ISO 8601 (2026-01-13T09:30Z), relative (-15m) or epoch."
    ),
    end: Optional[str] = typer.Option(None, "--to", help="Last time, same forms as --from."),
    at: Optional[str] = typer.Option(
        None, "--at", help="book: the instant (same forms as --from)."
    ),
    depth: int = typer.Option(10, "--depth", "-d", min=0, help="book: levels per side; 0: all."),
    venue: Optional[str] = typer.Option(
        None, "--venue", "-e", help="Only this venue (coinbase, kraken)."
    ),
    fmt: Optional[str] = typer.Option(
        None,
        "--format",
        "-f",
        help="table, jsonl, csv or parquet (default: table on a terminal, jsonl otherwise).",
        show_default=False,
    ),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Write to PATH instead of stdout."
    ),
    count: Optional[int] = typer.Option(
        None, "--count", "-c", min=0, help="At most this many rows."
    ),
) -> None:
    """Ask the captured market: trades, book updates, a book at an instant, bars, or SQL.

    Reads the Parquet lake that `compact --parquet` writes; with --raw, completes the range
    from the logs not yet exported (read through the same adapters as replay); with --redis,
    from the Redis streams for what is newer still. Trades come once each (deduplicated by
    venue, symbol and trade id), in receive-time order. Prices and sizes are exact decimals;
    times are ns integers in JSON lines and RFC 3339 UTC text in CSV and tables. sql runs
    DuckDB over the views trades, book_updates and book_checkpoints (the lake alone).

    An empty result is not an error (a note goes to stderr). A lake that is not one or a
    cut-off Parquet file exits 3 naming the file; an unreachable Redis warns and returns the
    history, or exits 4 with --redis-required.

    Examples:

        alphapulse query trades BTC-USD --lake lake/ --from 2026-01-13T09:30Z --to 2026-01-13T16:00Z

        alphapulse query trades ETH-USD --lake lake/ --raw data/ --redis '' --from -15m

        alphapulse query book BTC-USD --lake lake/ --at 2026-01-13T10:32:15.483Z --depth 5

        alphapulse query bars BTC-USD 1m --lake lake/ --from 2026-01-13 --to 2026-01-14 -f csv

        alphapulse query sql "SELECT venue, count(*) FROM trades GROUP BY venue" --lake lake/
    """
    import warnings

    from alphapulse_cli.cli.options import check_choice, output_sink
    from alphapulse_cli.errors import UsageError
    from alphapulse_cli.research.lake import Lake, LakeWarning
    from alphapulse_cli.research.output import FORMATS

    kind = check_choice(kind, KINDS, "KIND")
    rest = list(args or [])
    if len(rest) != _ARITY[kind]:
        raise UsageError(f"query {kind}: expected `query {_USAGE[kind]}`, got {len(rest)} values")
    if kind == "book" and at is None:
        raise UsageError("query book: --at TIME is required (the instant to show the book at)")
    if kind != "book" and at is not None:
        raise UsageError(f"query {kind}: --at goes with `query book`; use --from/--to")
    if kind in ("book", "sql") and (start is not None or end is not None):
        raise UsageError(f"query {kind}: --from/--to do not apply; use {_hint(kind)}")
    to_terminal = output in (None, "-") and sys.stdout.isatty()
    fmt = check_choice(fmt or ("table" if to_terminal else "jsonl"), FORMATS, "--format")
    if fmt == "parquet" and to_terminal:
        raise UsageError("--format parquet: not to a terminal; add -o FILE or a pipe")
    redis_url = _redis_url(redis)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LakeWarning)
        with Lake(lake_dir, raw=raw, redis=redis_url, redis_required=redis_required) as lake:
            result = _ask(lake, kind, rest, start, end, at, depth, venue)
    for w in caught:
        if issubclass(w.category, LakeWarning):
            print(f"alphapulse: warning: {w.message}", file=sys.stderr)
    _note_empty(kind, rest, result)
    with output_sink(output) as sink:
        _write(result, kind, fmt, sink, count)


_BOOK_COLUMNS = (
    ("bid size", "green"),
    ("bid", "bold green"),
    ("ask", "bold red"),
    ("ask size", "red"),
)


def _console() -> Any:
    """stdout's console; wide enough for whole values when it is not a terminal."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=1000)


def _hint(kind: str) -> str:
    return "--at" if kind == "book" else "WHERE ts BETWEEN ... in the query"


def _redis_url(redis: str | None) -> str | None:
    if redis is None:
        return None
    from alphapulse_cli.redis_streams.url import resolve_url

    return resolve_url(redis)


def _ask(
    lake: Any,
    kind: str,
    rest: list[str],
    start: str | None,
    end: str | None,
    at: str | None,
    depth: int,
    venue: str | None,
) -> Any:
    from alphapulse_cli.core.times import parse_time_ns

    lo = None if start is None else parse_time_ns(start, "--from")
    hi = None if end is None else parse_time_ns(end, "--to")
    if kind == "trades":
        return lake.trades(rest[0], lo, hi, venue)
    if kind == "book-updates":
        return lake.book_updates(rest[0], lo, hi, venue)
    if kind == "bars":
        return lake.bars(rest[0], rest[1], lo, hi, venue)
    if kind == "book":
        assert at is not None
        return lake.book_at(rest[0], parse_time_ns(at, "--at"), depth, venue)
    return lake.sql(rest[0])


def _note_empty(kind: str, rest: list[str], result: Any) -> None:
    if kind == "book":
        if not result["valid"]:
            print(
                f"alphapulse: warning: no valid {result['venue']} book for {result['symbol']} "
                f"at that time: {result['reason']}",
                file=sys.stderr,
            )
    elif result.num_rows == 0:
        what = "rows" if kind == "sql" else f"{kind.replace('-', ' ')} for {rest[0]}"
        print(f"alphapulse: no {what} in that range", file=sys.stderr)


def _write(result: Any, kind: str, fmt: str, sink: Any, count: int | None) -> None:
    from alphapulse_cli.research import output as out

    if kind == "book":
        if fmt == "jsonl":
            import orjson

            sink.write(orjson.dumps(out.book_json(result)) + b"\n")
            return
        if fmt == "table":
            _book_table(result)
            return
        result = out.book_rows(result)
    if fmt == "table":
        _table(result, count)
    elif fmt == "parquet":
        out.write_parquet(result, sink, count)
    else:
        chunks = out.iter_jsonl(result, count) if fmt == "jsonl" else out.iter_csv(result, count)
        for chunk in chunks:
            sink.write(chunk)
    sink.flush()


def _table(table: Any, count: int | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from alphapulse_cli.research.output import _plain_columns

    limit = count if count is not None else 1000
    t = Table(box=None, pad_edge=False, header_style="bold")
    for name in table.column_names:
        t.add_column(name, justify="right" if name not in ("venue", "symbol", "side") else "left")
    shown = table.slice(0, limit)
    for batch in shown.to_batches(4096):
        for row in zip(*_plain_columns(batch, times_as_text=True), strict=True):
            t.add_row(*("" if v is None else str(v) for v in row))
    _console().print(t)
    if table.num_rows > shown.num_rows:
        Console(stderr=True).print(
            f"({shown.num_rows} of {table.num_rows} rows shown; -c N, or -f jsonl/csv for all)"
        )


def _book_table(book: dict[str, Any]) -> None:
    from rich.table import Table

    from alphapulse_cli.core.times import ns_to_rfc3339
    from alphapulse_cli.research.output import book_json

    b = book_json(book)
    when = ns_to_rfc3339(b["ts"], 9) if b["ts"] is not None else "-"
    title = f"{b['venue']} {b['symbol']}  {when}" + ("" if b["valid"] else "  (not valid)")
    t = Table(title=title, box=None, pad_edge=False)
    for col, style in (
        ("bid size", "green"),
        ("bid", "bold green"),
        ("ask", "bold red"),
        ("ask size", "red"),
    ):
        t.add_column(col, justify="right", style=style)
    bids, asks = b["bids"], b["asks"]
    for i in range(max(len(bids), len(asks))):
        bp, bs = bids[i] if i < len(bids) else ("", "")
        ap, asz = asks[i] if i < len(asks) else ("", "")
        t.add_row(bs, bp, ap, asz)
    _console().print(t)
