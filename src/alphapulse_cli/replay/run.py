"""`replay` as a library call: a request built from options, run against a binary sink."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from alphapulse_cli import speedups
from alphapulse_cli.errors import UsageError
from alphapulse_cli.replay.merge import (
    KIND_VALUES,
    BlockWriter,
    OutputStats,
    Selection,
    bulk_copy,
    jsonl_lines,
    merge,
    open_inputs,
    pace,
    select,
    take,
    wslog_blocks,
)
from alphapulse_cli.venues_table import venue_id
from alphapulse_cli.wslog.reader import ReadStats, Record, expand_inputs

if TYPE_CHECKING:
    from alphapulse_cli.core.sinks import EventSink


def parse_speed(text: str) -> float | None:
    if text.strip().lower() in ("max", "inf", "0"):
        return None
    try:
        value = float(text.rstrip("xX"))
    except ValueError:
        raise UsageError(f"--speed: {text!r} is not a number or 'max'") from None
    if value <= 0:
        raise UsageError(f"--speed: {text!r} must be greater than 0 (or 'max')")
    return value


def _time_ns(text: str | None, option: str) -> int | None:
    if not text:
        return None
    from alphapulse_cli.core.times import parse_time_ns

    return parse_time_ns(text, option)


@dataclass
class ReplayRequest:
    inputs: list[str]
    fmt: str = "jsonl"
    selection: Selection = field(default_factory=Selection)
    symbols: frozenset[str] | None = None
    depth: int = 10
    count: int | None = None
    speed: float | None = None
    follow: bool = False
    tail: str = "raise"
    # Set by the caller: with sinks, events go to them and nothing is written to the output.
    sinks: list[EventSink] = field(default_factory=list)
    # Set by run_replay: what the user should hear about an empty result (no data is not
    # an error, but silence about it is a trap).
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_options(
        cls,
        *,
        inputs: list[str],
        fmt: str,
        start: str | None,
        end: str | None,
        exchanges: list[str],
        kinds: list[str],
        symbols: list[str],
        depth: int,
        count: int | None,
        speed: str,
        follow: bool,
        tail: str,
    ) -> ReplayRequest:
        kind_ids = []
        for k in kinds:
            if k not in KIND_VALUES:
                raise UsageError(f"--kind: {k!r} is not one of {', '.join(KIND_VALUES)}")
            kind_ids.append(KIND_VALUES[k])
        sel = Selection(
            start_ns=_time_ns(start, "--from"),
            end_ns=_time_ns(end, "--to"),
            venues=frozenset(venue_id(e) for e in exchanges) if exchanges else None,
            kinds=frozenset(kind_ids) if kind_ids else None,
        )
        if sel.start_ns is not None and sel.end_ns is not None and sel.start_ns > sel.end_ns:
            raise UsageError("--from is later than --to: nothing would be replayed")
        return cls(
            inputs=inputs,
            fmt=fmt,
            selection=sel,
            symbols=frozenset(symbols) if symbols else None,
            depth=depth,
            count=count,
            speed=parse_speed(speed),
            follow=follow,
            tail=tail,
        )

    @property
    def bulk(self) -> bool:
        """Can the output be a byte copy of one input?"""
        return (
            self.fmt == "wslog"
            and self.selection.everything
            and self.count is None
            and self.speed is None
            and not self.follow
            and not self.sinks
        )


def _take_lines(blocks: Iterable[bytes], count: int) -> Iterator[bytes]:
    left = count
    if left <= 0:
        return
    for block in blocks:
        n = block.count(b"\n")
        if n < left:
            left -= n
            yield block
            continue
        cut = -1
        for _ in range(left):
            cut = block.index(b"\n", cut + 1)
        yield block[: cut + 1]
        return


def run_replay(req: ReplayRequest, sink: BinaryIO) -> dict[str, Any]:
    """Stream the requested output into `sink`; return the `--stats` summary."""
    read_stats = ReadStats()
    out_stats = OutputStats()
    files = expand_inputs(req.inputs)
    if req.selection.start_ns is not None or req.selection.end_ns is not None:
        from alphapulse_cli.compact.index import skip_outside

        # Compacted logs whose indexed time span misses the range are not even opened.
        files = skip_outside(req.inputs, files, req.selection.start_ns, req.selection.end_ns)
    if req.bulk and len(files) == 1:
        copied, size = bulk_copy(files[0], sink, tail=req.tail, stats=read_stats)
        out_stats.records, out_stats.bytes = copied, size
        summary = out_stats.to_json(read_stats)
        summary["first_ts"] = summary["last_ts"] = None
        summary["venues"] = None
        summary["note"] = "bulk copy: per-venue counts and times not computed"
        return summary
    sources = open_inputs(
        req.inputs, tail=req.tail, follow=req.follow, stats=read_stats, files=files
    )
    records: Iterator[Record] = merge(sources)
    if not req.selection.everything:
        records = select(records, req.selection)
    derived = req.fmt in ("events", "books")
    if req.count is not None and not derived:
        records = take(records, req.count)
    counted: Generator[Record, None, None] = out_stats.count(records)
    records = counted
    # A follower is watched live: each record goes out as soon as it is read.
    out = BlockWriter(sink, block=0) if req.follow else BlockWriter(sink)
    if req.speed is not None:
        records = pace(records, req.speed, on_wait=out.flush)
    normalizer = None
    try:
        if req.sinks:
            from alphapulse_cli.core import derive, sinks

            normalizer = derive.Normalizer(set(req.symbols) if req.symbols else None)
            try:
                sinks.drive(records, normalizer, req.sinks)
            finally:
                out_stats.sinks = sinks.close_all(req.sinks)
        elif req.fmt == "wslog":
            for block in wslog_blocks(records):
                out.add(block)
        elif req.fmt == "jsonl":
            for line in jsonl_lines(records):
                out.add(line)
        else:
            from alphapulse_cli.core import derive

            normalizer = derive.Normalizer(set(req.symbols) if req.symbols else None)
            if req.fmt == "events":
                blocks = derive.iter_event_lines(
                    records, normalizer=normalizer, batch=1 if req.follow else 64
                )
            else:
                blocks = derive.iter_book_lines(records, req.depth, normalizer=normalizer)
            if req.count is not None:
                blocks = _take_lines(blocks, req.count)
            for block in blocks:
                out.add(block)
    finally:
        counted.close()  # folds its totals into out_stats, also when output stopped early
        out.flush()
    if normalizer is not None:
        out_stats.integrity = normalizer.stats
    req.warnings = _empty_result_warnings(req, out_stats.records, normalizer)
    summary = out_stats.to_json(read_stats)
    summary["speedups"] = speedups.counters()
    return summary


def _empty_result_warnings(req: ReplayRequest, records: int, normalizer: Any | None) -> list[str]:
    if records == 0:
        where = " ".join(req.inputs)
        if req.selection.everything:
            return [f"{where}: no records: nothing to replay"]
        return [f"{where}: no record matches --from/--to/--exchange/--kind"]
    if normalizer is None or req.count is not None:
        return []  # --count may stop before a wanted symbol's first event
    missing = normalizer.missing_symbols()
    if not missing:
        return []
    held = ", ".join(sorted(s for s in normalizer.seen_symbols if s is not None)) or "none"
    return [
        f"--symbol {', '.join(missing)}: never occurs in the inputs (symbols there: {held}); "
        "symbols are BASE-QUOTE, like BTC-USD"
    ]
