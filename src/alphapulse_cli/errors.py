"""Every exception alphapulse raises on purpose, and the exit code each maps to.

Exception tree::

    AlphapulseError                 exit 1
    ├── UsageError                  exit 2   bad option values (a malformed CPU list, time, ...)
    ├── DataError                   exit 3   bad or truncated data
    │   ├── BadLogError                      not a .wslog, wrong magic or version, corrupt record
    │   ├── TruncatedLogError                a cut-off last record (``--tail raise``)
    │   ├── RingError                        missing shared-memory ring or not a ring
    │   └── VerifyError                      ``compact --verify`` found a mismatch
    ├── UpstreamError               exit 4   exchange or Redis unreachable
    └── ResourceBusyError           exit 1   a lock held by another live process

The mapping to exit codes lives in :class:`ExitCode` and :func:`exit_code_for`, and nowhere else.
Messages are one line: the file, the offset, what was expected and what to do.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit status, as documented in every man page."""

    OK = 0
    ERROR = 1
    USAGE = 2
    DATA = 3
    UPSTREAM = 4
    INTERRUPTED = 130


class AlphapulseError(Exception):
    """Base class; ``exit_code`` says how the CLI ends when this escapes a command."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(AlphapulseError):
    exit_code = ExitCode.USAGE


class DataError(AlphapulseError):
    exit_code = ExitCode.DATA


class BadLogError(DataError):
    """Input is not a readable .wslog stream."""

    def __init__(self, source: str, offset: int, problem: str, hint: str = "") -> None:
        self.source = source
        self.offset = offset
        self.problem = problem
        msg = f"{source}: offset {offset}: {problem}"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


class TruncatedLogError(DataError):
    """The last record of a log is cut off."""

    def __init__(self, source: str, offset: int, missing: int, exact: bool = True) -> None:
        self.source = source
        self.offset = offset
        self.missing = missing
        amount = f"{missing}" if exact else f"at least {missing}"
        super().__init__(
            f"{source}: offset {offset}: last record cut off, {amount} bytes missing; "
            "use --tail stop to keep every complete record"
        )


class RingError(DataError):
    """A shared-memory ring that is missing or is not a ring."""


class VerifyError(DataError):
    """A compacted file does not match its index entry."""


class UpstreamError(AlphapulseError):
    exit_code = ExitCode.UPSTREAM


class ResourceBusyError(AlphapulseError):
    """Another live process holds what we need (a ring, a lock)."""


def exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, AlphapulseError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.ERROR
