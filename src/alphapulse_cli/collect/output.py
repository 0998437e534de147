"""Where a capture's records go: hourly files under a directory, or one stream on stdout.

Both write through the wslog writers; `flush()` hands everything buffered to the kernel and
is called once per burst of received frames, so a frame is on its way to disk within
a burst of being received (and a `kill -9` loses nothing that was flushed).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from alphapulse_cli.errors import AlphapulseError
from alphapulse_cli.venues_table import venue_id
from alphapulse_cli.wslog.format import Kind, make_tag
from alphapulse_cli.wslog.writer import RotatingWriter, WslogWriter, session_payload


class LogOutput:
    """`target` is a directory (hourly files DIR/<venue>/YYYYMMDD_HH.wslog) or '-'.

    `summaries`, when set (by the connection), gives the session events that close a file
    before its `end` (docs/architecture.md §3, `summary`): on rotation, and at close.
    """

    def __init__(self, target: str, venue: str, *, stream: BinaryIO | None = None) -> None:
        self.venue = venue
        self.venue_id = venue_id(venue)
        self.target = target
        self._rot: RotatingWriter | None = None
        self.broken = False
        self.summaries: Callable[[], list[tuple[int, dict[str, Any]]]] | None = None
        self._stream: WslogWriter | None = None
        if target == "-":
            self._stream = WslogWriter(stream or sys.stdout.buffer, lock=False)
            self._write = self._stream.write
        else:
            directory = Path(target)
            if directory.exists() and not directory.is_dir():
                raise AlphapulseError(f"{target}: not a directory; give -o a directory or -")
            self._rot = RotatingWriter(directory, venue, on_close=self._summaries)
            self._write = self._rot.write

    def write(self, ts_ns: int, tag: int, payload: bytes) -> None:
        self._write(ts_ns, tag, payload)

    def _summaries(self) -> list[tuple[int, dict[str, Any]]]:
        return self.summaries() if self.summaries is not None else []

    def write_event(self, ts_ns: int, obj: dict[str, Any], conn: int = 0) -> bytes:
        """Write a session event; returns its JSON body (what a reader will parse)."""
        body = session_payload(**obj)
        if self._rot is not None:
            self._rot.write_event(ts_ns, obj, conn)
        else:
            assert self._stream is not None
            self._stream.write(ts_ns, make_tag(self.venue_id, Kind.EVENT, conn), body)
        return body

    def flush(self) -> None:
        if self.broken:
            return
        try:
            if self._rot is not None:
                self._rot.flush()
            elif self._stream is not None:
                self._stream.flush()
        except BrokenPipeError:
            self.broken = True  # the reader of `-o -` went away: say so once
            raise
        except OSError as exc:
            raise AlphapulseError(
                f"{self.path or self.target}: cannot write the log: {exc.strerror}; "
                "free disk space or choose another -o"
            ) from None

    @property
    def path(self) -> Path | None:
        return self._rot.path if self._rot is not None else None

    @property
    def files(self) -> list[Path]:
        return list(self._rot.files) if self._rot is not None else []

    @property
    def bytes_written(self) -> int:
        if self._rot is not None:
            current = self._rot._w.bytes_written if self._rot._w is not None else 0
            return self._rot.bytes_written + current
        assert self._stream is not None
        return self._stream.bytes_written

    def close(self, ts_ns: int | None = None) -> None:
        """Flush, write the end-of-log event, and close the file (the stream stays open)."""
        if self._rot is not None:
            self._rot.close(ts_ns)
        elif self._stream is not None and not self.broken:
            stamp = ts_ns if ts_ns is not None else time.time_ns()
            for conn, obj in self._summaries():
                self._stream.write_event(stamp, self.venue_id, obj, conn)
            self._stream.close(end=True, ts_ns=stamp, venue=self.venue_id)
