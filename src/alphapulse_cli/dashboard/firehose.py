"""The firehose: the newest frames of the .wslog files being written under --data, per
venue, followed as they grow. At high rates only the last few frames of each poll are kept
(`shown` of `seen` per second says how many)."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alphapulse_cli.dashboard import PUSH_S
from alphapulse_cli.venues_table import VENUE_NAMES
from alphapulse_cli.wslog import format as F

KEEP = 200  # frames kept per venue
PER_POLL = 8  # frames kept from one poll per venue: the sampling
TEXT_MAX = 300
READ_MAX = 4 << 20  # bytes read from one file per poll
# Opening a large file mid-capture: start this far before its end and find a record
# boundary, rather than reading the whole hour.
TAIL_START = 256 << 10
KIND = {0: "in", 1: "out", 2: "event"}


def _plausible(buf: bytes, pos: int, now_ns: int) -> int:
    """The end of a record that could start at pos, or -1."""
    if pos + F.HEADER_SIZE > len(buf):
        return -1
    ts, tag, length = F.HEADER.unpack_from(buf, pos)
    if tag >> 12 > 2 or length > (16 << 20) or abs(ts - now_ns) > 86_400 * 10**9 * 30:
        return -1
    end = pos + F.HEADER_SIZE + length
    return end if end <= len(buf) else -1


def find_boundary(buf: bytes, now_ns: int) -> int:
    """The first offset in buf where three records in a row parse; len(buf) if none."""
    for pos in range(len(buf)):
        a = _plausible(buf, pos, now_ns)
        if a < 0:
            continue
        b = _plausible(buf, a, now_ns)
        if b >= 0 and (b == len(buf) or _plausible(buf, b, now_ns) >= 0):
            return pos
    return len(buf)


class LogFollower:
    """One file, read from where the last poll stopped, whole records only. Unless
    `from_start`, a large file is entered near its end, at a record boundary."""

    def __init__(self, path: Path, venue: str, from_start: bool = False) -> None:
        self.path = path
        self.venue = venue
        self.offset = 0
        self.synced = from_start

    def read(self) -> list[tuple[int, int, bytes]]:
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return []
        start = self.offset
        if not self.synced and size > TAIL_START:
            start = size - TAIL_START
        if size <= start:
            return []
        with open(self.path, "rb") as f:
            f.seek(start)
            buf = f.read(min(size - start, READ_MAX))
        pos = 0
        if not self.synced:
            self.synced = True
            if start > 0:
                pos = find_boundary(buf, time.time_ns())
        out = []
        while pos + F.HEADER_SIZE <= len(buf):
            ts, tag, length = F.HEADER.unpack_from(buf, pos)
            if ts == F.MAGIC_AS_TS:
                if pos + F.PREAMBLE_SIZE > len(buf):
                    break
                pos += F.PREAMBLE_SIZE
                continue
            end = pos + F.HEADER_SIZE + length
            if end > len(buf):
                break
            out.append((ts, tag, buf[pos + F.HEADER_SIZE : end]))
            pos = end
        self.offset = start + pos
        return out


def newest_logs(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """(venue, the newest DIR/<venue>/*.wslog) for each venue directory holding a log."""
    if not data_dir.is_dir():
        return
    for venue_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        logs = [p for p in venue_dir.glob("*.wslog") if p.is_file()]
        if logs:
            yield venue_dir.name, max(logs, key=lambda p: (p.stat().st_mtime_ns, p.name))


class FirehoseSource:
    name = "firehose"
    interval = PUSH_S

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir
        self._followers: dict[str, LogFollower] = {}
        self._frames: dict[str, deque[dict[str, Any]]] = {}
        self._rate: dict[str, deque[tuple[float, int, int]]] = {}
        self._last_scan = 0.0
        self.view: dict[str, Any] = {"frames": [], "rates": {}, "status": self._why()}

    def _why(self) -> str:
        if self.data_dir is None:
            return "no --data directory"
        if not self.data_dir.is_dir():
            return f"{self.data_dir}: no such directory"
        return "waiting for .wslog files"

    def _scan(self) -> None:
        assert self.data_dir is not None
        for venue, newest in newest_logs(self.data_dir):
            cur = self._followers.get(venue)
            if cur is None or cur.path != newest:
                # A rotated file is read from its start.
                self._followers[venue] = LogFollower(newest, venue, from_start=cur is not None)

    def poll(self) -> None:
        if self.data_dir is None:
            return
        now = time.monotonic()
        if not self._followers or now - self._last_scan >= 1.0:
            self._last_scan = now
            self._scan()
        for venue, follower in self._followers.items():
            recs = follower.read()
            kept = recs[-PER_POLL:]
            frames = self._frames.setdefault(venue, deque(maxlen=KEEP))
            for ts, tag, payload in kept:
                frames.append(
                    {
                        "ts": ts,
                        "venue": VENUE_NAMES.get(tag & 0xFF, venue),
                        "kind": KIND.get(tag >> 12, "?"),
                        "text": payload[:TEXT_MAX].decode("utf-8", "replace"),
                    }
                )
            window = self._rate.setdefault(venue, deque())
            window.append((now, len(recs), len(kept)))
            while window and now - window[0][0] > 1.0:
                window.popleft()
        rates = {
            v: {"seen_per_s": sum(w[1] for w in win), "shown_per_s": sum(w[2] for w in win)}
            for v, win in self._rate.items()
        }
        merged = sorted((f for q in self._frames.values() for f in q), key=lambda f: f["ts"])
        status = "ok" if self._followers else self._why()
        self.view = {"frames": merged[-KEEP:], "rates": rates, "status": status}
