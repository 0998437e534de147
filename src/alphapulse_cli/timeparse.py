"""Times and durations on the command line: ISO 8601, relative (`-15m`), epoch numbers."""

from __future__ import annotations

import datetime as _dt
import re
import time

from alphapulse_cli.errors import UsageError

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d|w)?\s*$")


def parse_duration_ns(text: str, option: str = "duration", default_unit: str = "s") -> int:
    """`90`, `1.5s`, `250ms`, `15m`, `2h`, `7d` -> nanoseconds."""
    m = _DURATION.match(text)
    if not m:
        raise UsageError(
            f"{option}: cannot read {text!r} as a duration; expected a number with a unit "
            "(ns, us, ms, s, m, h, d, w), e.g. 15m"
        )
    value, unit = m.group(1), m.group(2) or default_unit
    from decimal import Decimal

    return int(Decimal(value) * _UNITS_NS[unit])


def parse_time_ns(text: str, option: str = "time", now_ns: int | None = None) -> int:
    """ISO 8601 (`2026-01-13T09:30Z`, a date alone), relative (`-15m`, `now`), epoch seconds
    or epoch nanoseconds -> ns since the Unix epoch. A time without zone is UTC."""
    s = text.strip()
    now = time.time_ns() if now_ns is None else now_ns
    if s == "now":
        return now
    if s[:1] in ("-", "+"):
        sign = -1 if s[0] == "-" else 1
        return now + sign * parse_duration_ns(s[1:], option)
    if re.fullmatch(r"\d{16,}", s):
        return int(s)
    if re.fullmatch(r"\d{9,10}(\.\d+)?", s):
        from decimal import Decimal

        return int(Decimal(s) * 1_000_000_000)
    iso = s.replace(" ", "T")
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    try:
        dt = _dt.datetime.fromisoformat(iso)
    except ValueError:
        raise UsageError(
            f"{option}: cannot read {text!r} as a time; expected ISO 8601 "
            "(2026-01-13T09:30Z), a relative time (-15m) or epoch seconds"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    delta = dt - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def iso_ns(ts_ns: int) -> str:
    """ns since the epoch -> ISO 8601 UTC with microseconds and a trailing Z."""
    t = _dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=_dt.timezone.utc)
    us = (ts_ns % 1_000_000_000) // 1_000
    return f"{t:%Y-%m-%dT%H:%M:%S}.{us:06d}Z"
