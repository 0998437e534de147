"""`alphapulse compact`: compress closed logs, index them, export Parquet, apply retention."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any, Optional

import typer


def command(
    data_dir: Path = typer.Argument(
        ..., metavar="DATA_DIR", help="The directory collect writes to (walked recursively)."
    ),
    level: int = typer.Option(3, "--level", "-l", help="zstd level, 1-22."),
    threads: int = typer.Option(
        0, "--threads", "-T", help="zstd worker threads; 0 compresses on the calling thread."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", "-n", help="Print what would be done (on stdout); change nothing."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Say nothing unless something is wrong (for cron)."
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="If another compact holds the directory, exit 1 at once."
    ),
    parquet: Optional[str] = typer.Option(
        None,
        "--parquet",
        metavar="LAKE_DIR",
        help="Also export trades and book updates to a Parquet lake here: a directory, or "
        "s3://BUCKET/PREFIX (staged under DATA_DIR/.alphapulse-lake, then uploaded and "
        "verified).",
    ),
    checkpoint_every: str = typer.Option(
        "60s",
        "--checkpoint-every",
        metavar="DURATION",
        help="With --parquet: a full-book checkpoint of every book this often in log time "
        "(and at each change of a book's validity), so `query book --at` reads one checkpoint "
        "plus at most this much of updates; 0 writes none.",
    ),
    verify: bool = typer.Option(
        False,
        "--verify",
        help="Only recheck every indexed file against index.json; exit 3 on any mismatch.",
    ),
    recheck: bool = typer.Option(
        False,
        "--recheck",
        help="Derive the index's integrity counters through the adapters even when the log "
        "carries the ones collect counted (its summary events); warn where they differ.",
    ),
    keep_raw: Optional[str] = typer.Option(
        None,
        "--keep-raw",
        metavar="DURATION",
        help="Delete compressed logs whose last record is older than this (30d, 12h; a bare "
        "number is days), once verified and, with --parquet, exported.",
    ),
    archive: Optional[str] = typer.Option(
        None,
        "--archive",
        metavar="S3_URL",
        help="Move compressed logs older than --archive-after to s3://BUCKET/PREFIX (same "
        "relative paths), each uploaded, read back and compared by size and sha256 before "
        "the local file is deleted; index.json goes there too. Credentials and endpoint from "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL.",
    ),
    archive_after: str = typer.Option(
        "7d",
        "--archive-after",
        metavar="DURATION",
        help="With --archive: archive logs whose last record is older than this (a bare "
        "number is days; 0 archives every compressed log).",
    ),
    stats: bool = typer.Option(
        False, "--stats", help="A one-line JSON summary on stderr at the end."
    ),
) -> None:
    """Compress closed logs to .wslog.zst, keep DATA_DIR/index.json, export a Parquet lake.

    Safe from cron: a log a writer still holds is skipped; a second compact on the same
    directory waits (or exits 1 with --no-wait); a run killed at any instant leaves nothing
    lost and the next run finishes the job and removes its temporary files. An original is
    deleted only after its .zst is fsynced, renamed into place, decompressed and compared by
    sha256, and recorded in index.json. A log cut off by a dying writer is compacted up to
    its last complete record, and the cut is reported.

    The .wslog.zst files are standard zstd frames with a content checksum: `zstd -d`
    restores them. With --parquet, trades, book levels and book checkpoints go to
    LAKE_DIR/{trades,book_updates,book_checkpoints}/venue=V/symbol=S/date=D/<sha256>.parquet
    (prices and sizes DECIMAL(38,18), times timestamp[ns, tz=UTC]); rerunning never duplicates
    rows. `alphapulse query` and the alphapulse_cli.research module read the lake.

    Examples:

        */5 * * * *  alphapulse compact /data --quiet --parquet /lake --keep-raw 30d

        alphapulse compact data/ --verify

        alphapulse query sql "SELECT count(*) FROM trades" --lake lake/

        python -c "import duckdb; duckdb.sql(\"FROM 'lake/trades/**/*.parquet'\").show()"
    """
    from alphapulse_cli.cli.options import stderr_is_tty
    from alphapulse_cli.compact.run import CompactRequest, Reporter, run_compact
    from alphapulse_cli.core.times import parse_duration_ns

    req = CompactRequest(
        data_dir=data_dir,
        level=level,
        threads=threads,
        dry_run=dry_run,
        wait=not no_wait,
        lake=Path(parquet) if parquet and not parquet.startswith("s3://") else None,
        lake_url=parquet if parquet and parquet.startswith("s3://") else None,
        verify=verify,
        recheck=recheck,
        keep_raw_ns=parse_duration_ns(keep_raw, "--keep-raw", "d") if keep_raw else None,
        checkpoint_every_ns=parse_duration_ns(checkpoint_every, "--checkpoint-every"),
        archive=archive,
        archive_after_ns=parse_duration_ns(archive_after, "--archive-after", "d"),
    )

    def say(msg: str) -> None:
        print(f"alphapulse: {msg}", file=sys.stderr)

    rep = Reporter(note=(lambda msg: None) if quiet else say, warn=say)
    bar: Any = None
    if not quiet and not dry_run and not verify and stderr_is_tty():
        bar = _Bar()
        rep.progress = bar.update
        rep.note = bar.print
        rep.warn = bar.print
    # SIGTERM ends the run like Ctrl-C: temporary files are removed and the finished part
    # is recorded in the index on the way out (a SIGKILL leaves that to the next run).
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run_compact(req, rep)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if bar is not None:
            bar.stop()
    if dry_run:
        for line in summary["planned"]:
            print(line)
    if stats:
        import orjson

        sys.stderr.buffer.write(orjson.dumps(summary) + b"\n")
        sys.stderr.flush()
    elif not quiet:
        if verify:
            say(f"{summary['verified']} files verified")
        elif not dry_run:
            ratio = f" ({summary['ratio']}x)" if summary["ratio"] else ""
            say(
                f"{summary['compressed']} compressed, {summary['raw_bytes']} -> "
                f"{summary['compressed_bytes']} bytes{ratio}; {summary['indexed']} indexed, "
                f"{summary['exported']} exported, {summary['archived']} archived, "
                f"{summary['deleted']} deleted, "
                f"{len(summary['skipped_live'])} live"
            )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _Bar:
    """A rich progress bar on stderr (a terminal only), bytes done of bytes to compress."""

    def __init__(self) -> None:
        from alphapulse_cli.cli.progress import bytes_bar

        self.progress = bytes_bar("compact")
        self.task = self.progress.add_task("compact", total=None)
        self.progress.start()

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total or None)

    def print(self, msg: str) -> None:
        self.progress.console.print(f"alphapulse: {msg}", markup=False, highlight=False)

    def stop(self) -> None:
        self.progress.stop()
