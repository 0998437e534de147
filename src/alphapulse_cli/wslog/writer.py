"""Writing .wslog streams: a buffered writer and an hourly rotating, flock-holding one.

Records are appended to an in-memory buffer and written out when it passes 1 MiB or when
100 ms of record time have passed since the last flush; a live capture also calls
`flush()` after each burst of received frames (and every 2,048 frames within a long one),
so an idle connection's last frames reach the disk.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from alphapulse_cli.errors import AlphapulseError, ResourceBusyError
from alphapulse_cli.venues_table import venue_id
from alphapulse_cli.wslog.format import HEADER, PREAMBLE_BYTES, Kind, make_tag

FLUSH_BYTES = 1 << 20
FLUSH_INTERVAL_NS = 100_000_000
HOUR_NS = 3_600_000_000_000


def session_payload(event: str, **fields: Any) -> bytes:
    """A session event's JSON body; `event` first so readers can spot `end` by prefix."""
    obj = {"event": event, **fields}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class WslogWriter:
    """Append records to one file or binary stream; the preamble is written at once."""

    def __init__(
        self,
        target: str | Path | BinaryIO,
        *,
        fsync: bool = False,
        flush_bytes: int = FLUSH_BYTES,
        flush_interval_ns: int = FLUSH_INTERVAL_NS,
        lock: bool = True,
        preamble: bool = True,
    ) -> None:
        self._owns = isinstance(target, (str, Path))
        if isinstance(target, (str, Path)):
            self.path: Path | None = Path(target)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            if lock:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    raise ResourceBusyError(f"{target}: another writer holds the lock") from None
            self._f: BinaryIO = os.fdopen(fd, "wb", buffering=0)
        else:
            self.path = None
            self._f = target
        self._fsync = fsync
        self._flush_bytes = flush_bytes
        self._interval = flush_interval_ns
        self._buf = bytearray()
        self._last_flush_ts = 0
        self.records = 0
        self.bytes_written = 0
        self.closed = False
        if preamble:
            self._buf += PREAMBLE_BYTES
            self.flush()

    def write(self, ts_ns: int, tag: int, payload: bytes) -> None:
        buf = self._buf
        buf += HEADER.pack(ts_ns, tag, len(payload))
        buf += payload
        if len(buf) >= self._flush_bytes or ts_ns - self._last_flush_ts >= self._interval:
            self._last_flush_ts = ts_ns
            self.flush()

    def write_raw(self, data: bytes) -> None:
        """Already-encoded records (a bulk copy); the caller vouches for their framing."""
        self._buf += data
        if len(self._buf) >= self._flush_bytes:
            self.flush()

    def write_event(self, ts_ns: int, venue: int, obj: dict[str, Any], conn: int = 0) -> None:
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        self.write(ts_ns, make_tag(venue, Kind.EVENT, conn), body)

    @property
    def pending(self) -> int:
        return len(self._buf)

    def flush(self) -> None:
        if not self._buf:
            return
        data = bytes(self._buf)
        self._buf.clear()
        view = memoryview(data)
        while view:
            n = self._f.write(view)
            if n is None:  # a non-blocking stream that took nothing
                continue
            view = view[n:]
        if not self._owns:
            self._f.flush()
        self.bytes_written += len(data)
        if self._fsync and self._owns:
            os.fsync(self._f.fileno())

    def close(self, end: bool = True, ts_ns: int | None = None, venue: int = 0) -> None:
        """Flush and close; with `end`, first write the end-of-log session event."""
        if self.closed:
            return
        if end:
            import time

            stamp = ts_ns if ts_ns is not None else time.time_ns()
            self.write(stamp, make_tag(venue, Kind.EVENT), session_payload("end"))
        try:
            self.flush()
            if self._owns:
                if self._fsync:
                    os.fsync(self._f.fileno())
                self._f.close()
        finally:
            self.closed = True

    def __enter__(self) -> WslogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hour_path(directory: Path, venue: str, ts_ns: int) -> Path:
    # Whole seconds, not ts_ns / 1e9: a float rounds 17:59:59.9999999 up into the next hour.
    t = _dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=_dt.timezone.utc)
    return directory / venue / f"{t:%Y%m%d_%H}.wslog"


_HOURLY = re.compile(r"^(\d{8})_(\d{2})(?:\.\d+)?\.wslog(?:\.zst)?$")


def hour_of_name(name: str) -> int | None:
    """The start (ns) of the hour an hourly log is named after (`YYYYMMDD_HH[.N].wslog`,
    compressed or not), or None for any other name: the inverse of hour_path."""
    m = _HOURLY.match(name)
    if not m:
        return None
    try:
        t = _dt.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H")
    except ValueError:
        return None
    return int(t.replace(tzinfo=_dt.timezone.utc).timestamp()) * 1_000_000_000


class RotatingWriter:
    """Hourly files `DIR/<venue>/YYYYMMDD_HH.wslog`, each under an exclusive flock.

    A name that exists already (a restart within the hour, or a second collector) gets a
    numbered sibling `YYYYMMDD_HH.N.wslog` rather than appending after a possibly cut-off
    tail. On rotation each connection's last `connect` event is repeated as a `continue`
    event, so that every file says which protocol its frames speak. Before a file's `end`,
    `on_close()` may give session events to close it with (conn slot, object): collect's
    `summary` of what it counted in that file.
    """

    def __init__(
        self,
        directory: str | Path,
        venue: str,
        *,
        fsync: bool = False,
        on_close: Callable[[], list[tuple[int, dict[str, Any]]]] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.on_close = on_close
        self.venue = venue
        self.venue_id = venue_id(venue)
        self._fsync = fsync
        self._w: WslogWriter | None = None
        self._hour_end = 0
        self._connects: dict[int, dict[str, Any]] = {}
        self.files: list[Path] = []
        self.records = 0
        self.bytes_written = 0

    @property
    def path(self) -> Path | None:
        return self._w.path if self._w else None

    def _open(self, ts_ns: int) -> WslogWriter:
        if self._w is not None:
            self._close_current(ts_ns)
        base = hour_path(self.directory, self.venue, ts_ns)
        base.parent.mkdir(parents=True, exist_ok=True)
        candidate = base
        n = 0
        while True:
            try:
                w = WslogWriter(candidate, fsync=self._fsync)
                break
            except FileExistsError:
                n += 1
                candidate = base.with_name(f"{base.name[: -len('.wslog')]}.{n}.wslog")
            except ResourceBusyError:
                n += 1
                candidate = base.with_name(f"{base.name[: -len('.wslog')]}.{n}.wslog")
            except OSError as exc:
                raise AlphapulseError(
                    f"{candidate}: cannot create log file: {exc.strerror}"
                ) from None
        self._w = w
        self.files.append(candidate)
        self._hour_end = (ts_ns // HOUR_NS + 1) * HOUR_NS
        for conn, ev in sorted(self._connects.items()):
            w.write_event(ts_ns, self.venue_id, {**ev, "event": "continue"}, conn)
        return w

    def write(self, ts_ns: int, tag: int, payload: bytes) -> None:
        w = self._w
        if w is None or ts_ns >= self._hour_end:
            w = self._open(ts_ns)
        w.write(ts_ns, tag, payload)
        self.records += 1

    def write_event(self, ts_ns: int, obj: dict[str, Any], conn: int = 0) -> None:
        w = self._w
        if w is None or ts_ns >= self._hour_end:
            w = self._open(ts_ns)
        w.write_event(ts_ns, self.venue_id, obj, conn)
        self.records += 1
        if obj.get("event") == "connect":
            self._connects[conn] = dict(obj)

    def flush(self) -> None:
        if self._w is not None:
            self._w.flush()

    def _close_current(self, ts_ns: int | None) -> None:
        if self._w is not None:
            if self.on_close is not None:
                stamp = ts_ns if ts_ns is not None else time.time_ns()
                for conn, obj in self.on_close():
                    self._w.write_event(stamp, self.venue_id, obj, conn)
                    self.records += 1
                ts_ns = stamp
            self._w.close(end=True, ts_ns=ts_ns, venue=self.venue_id)
            self.bytes_written += self._w.bytes_written
            self._w = None

    def close(self, ts_ns: int | None = None) -> None:
        self._close_current(ts_ns)
