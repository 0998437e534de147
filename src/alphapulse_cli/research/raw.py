"""The raw side of a query: logs under collect's DATA_DIR that the lake does not hold yet
(live `.wslog` files, closed ones not compacted, `.wslog.zst` not exported to this lake),
read through the same adapters as replay and compact."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphapulse_cli.venues_table import VENUE_IDS
from alphapulse_cli.wslog.writer import hour_of_name

HOUR_NS = 3_600_000_000_000
# A rotated file's records are of its hour; a little slack covers a writer's clock step.
SLACK_NS = 60_000_000_000


@dataclass(frozen=True)
class RawLog:
    path: Path
    venue: str | None  # from the directory collect writes it to; None: unknown, read it
    first_ts: int | None  # None: unknown, read it
    last_ts: int | None


def _hour_span(name: str) -> tuple[int | None, int | None]:
    start = hour_of_name(name)
    if start is None:
        return None, None
    return start - SLACK_NS, start + HOUR_NS + SLACK_NS


def pending_logs(raw: Path, lake: Path) -> list[RawLog]:
    """Every log under `raw` whose events are not in `lake`, oldest first."""
    from alphapulse_cli.compact import index as idx
    from alphapulse_cli.compact.lake import present
    from alphapulse_cli.compact.scan import scan

    entries = idx.load(raw)
    found = scan(raw, exclude=lake)
    lake = lake.resolve()
    out = []
    for p in [*found.raw, *found.compressed]:
        venue = p.parent.name if p.parent.name in VENUE_IDS else None
        entry = entries.get(p.relative_to(raw).as_posix()) if p.name.endswith(".zst") else None
        if entry is not None:
            if present(lake, entry):
                continue
            out.append(RawLog(p, venue, entry.get("first_ts"), entry.get("last_ts")))
        else:
            out.append(RawLog(p, venue, *_hour_span(p.name)))
    out.sort(key=lambda r: (r.first_ts or 0, str(r.path)))
    return out


def overlapping(
    logs: list[RawLog], venue: str | None, start_ns: int | None, end_ns: int | None
) -> list[RawLog]:
    keep = []
    for r in logs:
        if venue is not None and r.venue is not None and r.venue != venue:
            continue
        if start_ns is not None and r.last_ts is not None and r.last_ts < start_ns:
            continue
        if end_ns is not None and r.first_ts is not None and r.first_ts > end_ns:
            continue
        keep.append(r)
    return keep


def iter_events(
    logs: list[RawLog],
    symbol: str,
    venue: str | None,
    end_ns: int | None,
    lake: Path | None = None,
) -> Iterator[tuple[int, Any, list[dict[str, Any]]]]:
    """(receive ns, adapter, events) for `symbol` from the logs merged by time, through one
    Normalizer, so a book continues across hourly files; stops after `end_ns`. A live file
    is read to its last complete record. When a venue's first log continues a connection
    whose older logs are in `lake`, the state they left there is loaded first."""
    from alphapulse_cli.compact import carry
    from alphapulse_cli.core.derive import Normalizer
    from alphapulse_cli.replay.merge import merge
    from alphapulse_cli.wslog.reader import ReadStats, iter_records

    if not logs:
        return
    stats = ReadStats()
    records = merge([iter_records(r.path, tail="stop", stats=stats) for r in logs])
    norm = Normalizer([symbol])
    if lake is not None:
        firsts: dict[str | None, RawLog] = {}
        for r in logs:
            firsts.setdefault(r.venue, r)
        for r in firsts.values():
            carry.prime(lake, r.path, norm)
    process = norm.process
    vid = VENUE_IDS.get(venue) if venue else None
    for ts, tag, payload in records:
        if end_ns is not None and ts > end_ns:
            break
        if vid is not None and (tag & 0xFF) != vid:
            continue
        events = process(ts, tag, payload)
        if events and norm.last_adapter is not None:
            yield ts, norm.last_adapter, events
