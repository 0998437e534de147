"""A directory lock, so two `compact` runs on one directory never interleave.

An flock on a dot-file in the directory: the kernel drops it when the holder dies, so a
killed run never leaves a stale lock behind (a pid file would).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from alphapulse_cli.errors import AlphapulseError, ResourceBusyError

LOCK_NAME = ".alphapulse-compact.lock"


class DirLock:
    def __init__(self, directory: Path, what: str = "compact") -> None:
        self.path = directory / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    def acquire(self, wait: bool, on_wait: Callable[[str], None] | None = None) -> DirLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise AlphapulseError(
                f"{self.path}: cannot open the lock file: {exc.strerror}; check the permissions"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            if not wait:
                os.close(fd)
                raise ResourceBusyError(
                    f"{self.path.parent}: another {self.what} is running{holder}; "
                    "run again later, or drop --no-wait to wait for it"
                ) from None
            if on_wait is not None:
                on_wait(f"waiting for another {self.what} on {self.path.parent}{holder}")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""
