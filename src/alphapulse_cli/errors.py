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
    │   ├── RedisUnavailable                 cannot reach Redis, or the connection broke
    │   ├── RedisAuthError                   Redis refused our credentials
    │   ├── RedisCommandError                Redis answered a command with an error
    │   ├── RedisClusterError                a Redis Cluster leaves hash slots uncovered
    │   └── ObjectStoreError                 S3 unreachable, credentials refused, no such bucket
    └── ResourceBusyError           exit 1   a lock held by another live process

Signals between library layers, caught where they are raised and never let out of a command
(if one escapes, it is a bug, and the CLI exits 1)::

    Malformed           a venue frame its protocol does not allow (counted, the frame is kept)
    RespError           an error reply from Redis, returned in a pipeline's replies
    Incomplete          a RESP buffer that does not hold a whole reply yet
    ProtocolError       bytes that are not RESP2

Warnings (``warnings.warn``; the CLI prints each as one ``warning:`` line)::

    LakeWarning         a research result leaves something out (an unreachable Redis)

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


class RedisUnavailable(UpstreamError):
    """Cannot reach Redis, or the connection broke."""


class RedisAuthError(UpstreamError):
    """Redis refused our credentials."""


class RedisCommandError(UpstreamError):
    """Redis answered a command with an error."""


class RedisClusterError(UpstreamError):
    """A Redis Cluster leaves hash slots uncovered (the message names them)."""


class ObjectStoreError(UpstreamError):
    """An S3 store that cannot be reached, refuses our credentials, or lacks the bucket."""


class ResourceBusyError(AlphapulseError):
    """Another live process holds what we need (a ring, a lock)."""


class Malformed(Exception):
    """A frame the protocol does not allow; carries the symbol when one is known."""

    def __init__(self, reason: str, symbol: str | None = None, venue_symbol: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.symbol = symbol
        self.venue_symbol = venue_symbol


class RespError(Exception):
    """An error reply from Redis (`-ERR ...`, `-WRONGPASS ...`); returned, not raised, by the
    parsers so that one failed command in a pipeline does not hide the others."""

    @property
    def code(self) -> str:
        return str(self).split(" ", 1)[0]


class Incomplete(Exception):
    """The buffer does not hold a whole reply yet."""


class ProtocolError(Exception):
    """Bytes that are not RESP2."""


class LakeWarning(UserWarning):
    """Something a research result leaves out (an unreachable Redis: the gap is named)."""


def exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, AlphapulseError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.ERROR
