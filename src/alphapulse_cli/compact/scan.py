"""Finding work: closed logs, compressed logs, and the debris a killed run left.

A writer holds `flock(LOCK_EX)` on the log it writes (wslog/writer.py), so a log is closed
when a non-blocking exclusive flock on a separate descriptor succeeds. The probe keeps the
lock while the log is compressed: a writer can never start on a name we are reading (it
opens with O_EXCL and moves to a numbered sibling when the lock is taken).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Every temporary file compact writes starts with this; a run removes any it finds, because
# holding the directory lock means no other run can be writing them.
TMP_PREFIX = ".alphapulse-tmp-"
# A writer creates its file (O_EXCL) a moment before it takes the flock; an empty file this
# young may be one a writer is about to lock.
EMPTY_GRACE_S = 60.0


@dataclass
class Found:
    raw: list[Path]  # *.wslog, closed
    live: list[Path]  # *.wslog a writer holds
    compressed: list[Path]  # *.wslog.zst


def _walk(root: Path, exclude: Path | None) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if exclude is not None and d.resolve() == exclude.resolve():
            dirnames[:] = []
            continue
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        out.extend(d / n for n in sorted(filenames))
    return out


def scan(root: Path, exclude: Path | None = None) -> Found:
    found = Found([], [], [])
    for p in _walk(root, exclude):
        name = p.name
        if name.startswith("."):
            continue
        if name.endswith(".wslog.zst"):
            found.compressed.append(p)
        elif name.endswith(".wslog"):
            found.raw.append(p)
    return found


def remove_debris(root: Path) -> list[Path]:
    """Delete temporary files a killed run left under `root`; the caller holds the lock."""
    removed = []
    for dirpath, _dirs, filenames in os.walk(root):
        for n in filenames:
            if n.startswith(TMP_PREFIX):
                p = Path(dirpath) / n
                try:
                    p.unlink()
                    removed.append(p)
                except FileNotFoundError:
                    pass
    return removed


def tmp_path(target: Path) -> Path:
    return target.with_name(f"{TMP_PREFIX}{target.name}.{os.getpid()}")


class ClosedLog:
    """An open, flock-held descriptor on a log no writer holds; None from `probe` if live."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def probe(cls, path: Path) -> ClosedLog | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        st = os.fstat(fd)
        if st.st_size == 0 and time.time() - st.st_mtime < EMPTY_GRACE_S:
            os.close(fd)
            return None
        return cls(path, fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> ClosedLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def atomic_file(dest: Path, mode: str = "xb") -> Iterator[IO[Any]]:
    """Write `dest` under a temporary name, fsync it, rename it into place, fsync the
    directory: readers see the old file or the whole new one. Nothing is left on failure."""
    tmp = tmp_path(dest)
    try:
        with open(tmp, mode) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
