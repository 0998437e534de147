"""Replaying logs: open inputs, merge by timestamp, filter, pace, and encode the output.

Everything here is a generator over ``(ts_ns, tag, payload)`` records, so the command
streams: nothing is held beyond one read chunk per input.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, BinaryIO

from alphapulse_cli.errors import TruncatedLogError
from alphapulse_cli.venues_table import venue_name
from alphapulse_cli.wslog.format import HEADER, KIND_NAMES, PREAMBLE_BYTES, Kind
from alphapulse_cli.wslog.reader import (
    CHUNK,
    ReadStats,
    Record,
    complete_length,
    describe_cut,
    expand_inputs,
    iter_records,
    open_stream,
)

OUT_BLOCK = 1 << 18


@dataclass
class Selection:
    """Which records pass: a time range, venues, kinds (None means all)."""

    start_ns: int | None = None
    end_ns: int | None = None
    venues: frozenset[int] | None = None
    kinds: frozenset[int] | None = None

    @property
    def everything(self) -> bool:
        return (
            self.start_ns is None
            and self.end_ns is None
            and self.venues is None
            and self.kinds is None
        )


def open_inputs(
    inputs: list[str],
    *,
    tail: str = "raise",
    follow: bool = False,
    stats: ReadStats | None = None,
    files: list[str] | None = None,
) -> list[Iterator[Record]]:
    paths = files if files is not None else expand_inputs(inputs)
    return [iter_records(p, tail=tail, follow=follow, stats=stats) for p in paths]


def merge(sources: list[Iterator[Record]]) -> Iterator[Record]:
    """k-way merge by timestamp; equal timestamps keep input order, then record order."""
    if len(sources) == 1:
        return sources[0]
    return heapq.merge(*sources, key=itemgetter(0))


def select(records: Iterable[Record], sel: Selection) -> Iterator[Record]:
    start, end, venues, kinds = sel.start_ns, sel.end_ns, sel.venues, sel.kinds
    for rec in records:
        ts, tag = rec[0], rec[1]
        if start is not None and ts < start:
            continue
        if end is not None and ts > end:
            continue
        if venues is not None and (tag & 0xFF) not in venues:
            continue
        if kinds is not None and (tag >> 12) not in kinds:
            continue
        yield rec


def take(records: Iterable[Record], count: int) -> Iterator[Record]:
    if count <= 0:
        return
    for i, rec in enumerate(records, 1):
        yield rec
        if i >= count:
            return


def pace(
    records: Iterable[Record],
    speed: float,
    *,
    on_wait: Callable[[], None] | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Record]:
    """Yield each record when its original gap from the first record, divided by `speed`,
    has passed. `on_wait` runs before each wait (the caller flushes its output there)."""
    first_ts = None
    t0 = 0
    for rec in records:
        ts = rec[0]
        if first_ts is None:
            first_ts = ts
            t0 = clock()
        else:
            due = t0 + int((ts - first_ts) / speed)
            delay = due - clock()
            if delay > 0:
                if on_wait is not None:
                    on_wait()
                    delay = due - clock()
                if delay > 200_000:
                    sleep((delay - 150_000) / 1e9)
                while clock() < due:
                    pass
        yield rec


@dataclass
class OutputStats:
    """The `--stats` summary of what was output."""

    records: int = 0
    bytes: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    integrity: dict[str, dict[str, int]] = field(default_factory=dict)
    per_venue: dict[int, int] = field(default_factory=dict)
    sinks: dict[str, Any] = field(default_factory=dict)

    @property
    def venues(self) -> dict[str, int]:
        return {venue_name(k): c for k, c in sorted(self.per_venue.items())}

    def count(self, records: Iterable[Record]) -> Generator[Record, None, None]:
        """Count what passes through. Totals are kept in locals and folded into the stats
        when the generator ends or is closed (run_replay closes it): updating attributes
        per record cost as much as reading the record. Venues are counted per run of
        equal tags, which is one compare per record."""
        n = nbytes = run = 0
        run_tag = -1
        ts = None
        try:
            for rec in records:
                ts, tag, payload = rec
                n += 1
                nbytes += len(payload)
                if tag != run_tag:
                    if n == 1 and self.first_ts is None:
                        self.first_ts = ts
                    self._add_venue(run_tag, run)
                    run_tag, run = tag, 0
                run += 1
                yield rec
        finally:
            self._add_venue(run_tag, run)
            self.records += n
            self.bytes += nbytes
            if ts is not None:
                self.last_ts = ts

    def _add_venue(self, tag: int, count: int) -> None:
        if count:
            v = tag & 0xFF
            self.per_venue[v] = self.per_venue.get(v, 0) + count

    def to_json(self, read: ReadStats) -> dict[str, Any]:
        out: dict[str, Any] = {
            "records": self.records,
            "bytes": self.bytes,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "venues": self.venues,
            "truncated": read.truncated,
        }
        if self.integrity:
            out["integrity"] = self.integrity
        if self.sinks:
            out["sinks"] = self.sinks
        return out


class BlockWriter:
    """Collects output bytes and writes them in blocks; `flush` pushes what is pending."""

    def __init__(self, sink: BinaryIO, block: int = OUT_BLOCK) -> None:
        self._sink = sink
        self._parts: list[bytes] = []
        self._size = 0
        self._block = block

    def add(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self._block:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._sink.write(b"".join(self._parts))
            self._parts.clear()
            self._size = 0
        self._sink.flush()


def wslog_blocks(records: Iterable[Record]) -> Iterator[bytes]:
    """A .wslog stream: one preamble, then the records byte-identical to their input."""
    yield PREAMBLE_BYTES
    pack = HEADER.pack
    for ts, tag, payload in records:
        yield pack(ts, tag, len(payload)) + payload


def jsonl_lines(records: Iterable[Record]) -> Iterator[bytes]:
    """One JSON object per record: ts, exchange, conn, kind, msg (or msg_b64)."""
    import base64

    import orjson

    dumps = orjson.dumps
    names: dict[int, str] = {}
    kinds = {int(k): v for k, v in KIND_NAMES.items()}
    for ts, tag, payload in records:
        v = tag & 0xFF
        name = names.get(v)
        if name is None:
            name = names[v] = venue_name(v)
        obj: dict[str, Any] = {
            "ts": ts,
            "exchange": name,
            "conn": (tag >> 8) & 0xF,
            "kind": kinds.get(tag >> 12, str(tag >> 12)),
        }
        try:
            obj["msg"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            obj["msg_b64"] = base64.b64encode(payload).decode("ascii")
        yield dumps(obj) + b"\n"


def bulk_copy(source: str, sink: BinaryIO, *, tail: str, stats: ReadStats) -> tuple[int, int]:
    """The fast path of `replay --format wslog` for one input and no filters: copy the bytes
    through in large blocks, walking only the record headers to validate framing and find a
    cut-off tail. Returns (records, bytes of records copied)."""
    mapped = _bulk_copy_mapped(source, sink, tail=tail, stats=stats)
    if mapped is not None:
        return mapped
    name, read, close, compressed = open_stream(source)
    where = name + (" (decompressed)" if compressed else "")
    records = 0
    copied = 0
    try:
        pending = read(CHUNK)
        base = 0
        first = True
        while pending:
            good, n = complete_length(pending, where, check_magic=first, base=base)
            first = False
            if good:
                sink.write(pending[:good] if good < len(pending) else pending)
                copied += good
                records += n
            chunk = read(CHUNK)
            if not chunk:
                if good < len(pending):
                    missing, exact = describe_cut(pending, good, where, base)
                    if tail == "stop":
                        stats.truncated.append(
                            {
                                "file": where,
                                "offset": base + good,
                                "missing": missing,
                                "exact": exact,
                            }
                        )
                    else:
                        raise TruncatedLogError(where, base + good, missing, exact)
                break
            pending = pending[good:] + chunk if good < len(pending) else chunk
            base += good
    finally:
        close()
        sink.flush()
    return records, copied


MAP_MIN = 1 << 20
MAP_WINDOW = 1 << 23


def _bulk_copy_mapped(
    source: str, sink: BinaryIO, *, tail: str, stats: ReadStats
) -> tuple[int, int] | None:
    """bulk_copy for a plain file: walk the headers in the page cache and hand the kernel
    slices of the mapping, so no byte is copied in Python. None when the file is not a
    plain, uncompressed, non-trivial file (the streaming path handles those)."""
    import mmap
    import os

    from alphapulse_cli.wslog.format import ZSTD_MAGIC

    if source == "-":
        return None
    try:
        fd = os.open(source, os.O_RDONLY)
    except OSError:
        return None  # the streaming path reports it properly
    try:
        size = os.fstat(fd).st_size
        if size < MAP_MIN or os.pread(fd, 4, 0) == ZSTD_MAGIC:
            return None
        mm = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    view = memoryview(mm)
    records = pos = good = 0
    try:
        mm.madvise(mmap.MADV_SEQUENTIAL)
        while pos < size:
            end = min(size, pos + MAP_WINDOW)
            good, n = complete_length(mm, source, check_magic=pos == 0, start=pos, end=end)
            while good == pos and end < size:
                # One record longer than the window: widen until it fits.
                end = min(size, pos + 2 * (end - pos))
                good, n = complete_length(mm, source, check_magic=pos == 0, start=pos, end=end)
            if good > pos:
                sink.write(view[pos:good])
                records += n
            if good == pos or (end == size and good < size):
                break
            pos = good
        if good < size:
            missing, exact = describe_cut(mm, good, source)
            if tail != "stop":
                raise TruncatedLogError(source, good, missing, exact)
            stats.truncated.append(
                {"file": source, "offset": good, "missing": missing, "exact": exact}
            )
        return records, good
    finally:
        view.release()
        mm.close()
        sink.flush()


KIND_VALUES = {name: int(k) for k, name in KIND_NAMES.items()}
__all__ = [
    "KIND_VALUES",
    "BlockWriter",
    "Kind",
    "OutputStats",
    "Selection",
    "bulk_copy",
    "jsonl_lines",
    "merge",
    "open_inputs",
    "pace",
    "select",
    "take",
    "wslog_blocks",
]
