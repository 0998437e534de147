"""A progress bar on stderr for long reads (`replay` of big logs): bytes of the input files
read so far out of their total size, the rate and the time left.

The reader is not touched: a thread samples, a few times a second, the file positions of
this process's open descriptors (Linux `/proc/self/fdinfo`), so the hot path pays nothing.
A file seen open and then closed counts as read in full. Elsewhere (no /proc), no bar.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SAMPLE_S = 0.2


class _Positions:
    def __init__(self, files: list[Path]) -> None:
        self.sizes: dict[str, int] = {}
        for f in files:
            try:
                self.sizes[os.path.realpath(f)] = f.stat().st_size
            except OSError:
                continue
        self.total = sum(self.sizes.values())
        self._seen: dict[str, int] = {}

    def done(self) -> int:
        open_now: dict[str, int] = {}
        try:
            fds = os.listdir("/proc/self/fd")
        except OSError:
            return 0
        for fd in fds:
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
                if path not in self.sizes:
                    continue
                with open(f"/proc/self/fdinfo/{fd}") as info:
                    pos = int(info.readline().split()[1])
            except (OSError, ValueError, IndexError):
                continue
            open_now[path] = max(open_now.get(path, 0), pos)
        for path in list(self._seen):
            if path not in open_now:
                self._seen[path] = self.sizes[path]  # closed: read to its end
        for path, pos in open_now.items():
            self._seen[path] = max(self._seen.get(path, 0), min(pos, self.sizes[path]))
        return sum(self._seen.values())


def bytes_bar(label: str) -> Any:
    """A transient rich bar on stderr: label, bar, bytes done/total, rate, time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        label,
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


@contextmanager
def file_progress(label: str, files: list[Path]) -> Iterator[None]:
    """Show the bar while the body runs (the caller decides that stderr is a terminal)."""
    if not os.path.isdir("/proc/self/fdinfo"):
        yield
        return
    positions = _Positions(files)
    bar = bytes_bar(label)
    task = bar.add_task(label, total=positions.total or None)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_S):
            bar.update(task, completed=positions.done())

    sampler = threading.Thread(target=sample, name="progress", daemon=True)
    bar.start()
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()
        bar.stop()
