"""Every conversion between time text and Unix-epoch nanoseconds, in one place.

Names say what goes in and what comes out:

- ``rfc3339_to_ns(text)``: a venue's RFC 3339 time ("2014-11-07T08:19:27.028459Z") -> ns,
  exactly, or None (never raises; the adapters' hot path).
- ``epoch_text_to_ns(text)``: Kraken v1's "seconds.micros" text -> ns, or None.
- ``parse_time_ns(text)``, ``parse_duration_ns(text)``: command-line times (ISO 8601,
  relative ``-15m``, epoch numbers) and durations -> ns; raise UsageError.
- ``ns_to_rfc3339(ns, digits)``: ns -> "YYYY-MM-DDTHH:MM:SS.fff...Z" with 0-9 fraction digits.
- ``us_text_to_rfc3339(text)``: Redis entries' epoch-microsecond text -> RFC 3339.
- ``ns_to_epoch_text(ns)``: ns -> "seconds.micros", as Kraken v1 prints times.

No float seconds anywhere: every conversion is integer arithmetic.

RFC 3339 input takes a fast path: the date-and-second prefix changes once a second per
stream, so its epoch value is cached and only the fraction is converted per message.
"""

from __future__ import annotations

import datetime as _dt
import re
import time

from alphapulse_cli.errors import UsageError

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_FRAC_SCALE = (0, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1000, 100, 10, 1)
# 'YYYY-MM-DDTHH:MM:SS' -> epoch ns; hot loops may read it directly for the common
# microsecond form ("...:SS.ffffffZ", 27 characters) and call rfc3339_to_ns for anything else.
SECONDS: dict[str, int] = {}
_second_cache = SECONDS
_CACHE_LIMIT = 100_000


def _prefix_ns(prefix: str) -> int | None:
    """'YYYY-MM-DDTHH:MM:SS' (UTC) -> epoch ns, or None if it is not that shape."""
    if len(prefix) != 19 or prefix[10] not in "Tt " or not prefix.isascii():
        return None
    try:
        d = _dt.datetime(
            int(prefix[0:4]),
            int(prefix[5:7]),
            int(prefix[8:10]),
            int(prefix[11:13]),
            int(prefix[14:16]),
            int(prefix[17:19]),
            tzinfo=_UTC,
        )
    except ValueError:
        return None
    if prefix[4] != "-" or prefix[7] != "-" or prefix[13] != ":" or prefix[16] != ":":
        return None
    return (d - _EPOCH) // _dt.timedelta(seconds=1) * 1_000_000_000


def rfc3339_to_ns(text: object) -> int | None:
    """RFC 3339 text -> epoch ns; None when it does not parse (never raises)."""
    if not isinstance(text, str):
        return None
    prefix = text[:19]
    base = _second_cache.get(prefix)
    if base is None:
        base = _prefix_ns(prefix)
        if base is None:
            return None
        if len(_second_cache) >= _CACHE_LIMIT:
            _second_cache.clear()
        _second_cache[prefix] = base
    rest = text[19:]
    if rest == "Z" or rest == "z":
        return base
    if rest[:1] == "." and rest[-1:] in ("Z", "z"):
        frac = rest[1:-1]
        n = len(frac)
        if 0 < n <= 9 and frac.isdigit() and frac.isascii():
            return base + int(frac) * _FRAC_SCALE[n]
    return _with_offset(base, rest)


def _with_offset(base: int, rest: str) -> int | None:
    """The uncommon forms: more than 9 fraction digits, or a +HH:MM / -HH:MM offset."""
    frac_ns = 0
    if rest[:1] == ".":
        i = 1
        while i < len(rest) and rest[i].isdigit():
            i += 1
        digits = rest[1:i]
        if not digits or not digits.isascii():
            return None
        frac_ns = int(digits[:9].ljust(9, "0"))
        rest = rest[i:]
    if rest in ("Z", "z"):
        return base + frac_ns
    if len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and rest.isascii():
        hh, mm = rest[1:3], rest[4:6]
        if hh.isdigit() and mm.isdigit():
            off = (int(hh) * 3600 + int(mm) * 60) * 1_000_000_000
            return base + frac_ns - off if rest[0] == "+" else base + frac_ns + off
    return None


def epoch_text_to_ns(text: object) -> int | None:
    """Kraken v1 'seconds.micros' text ("1534614248.123678") -> epoch ns; None if bad."""
    if not isinstance(text, str):
        return None
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or not whole.isascii() or len(whole) > 12 or len(frac) > 9:
        return None
    if frac and (not frac.isdigit() or not frac.isascii()):
        return None
    return int(whole) * 1_000_000_000 + (int(frac) * _FRAC_SCALE[len(frac)] if frac else 0)


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


def ns_to_rfc3339(ns: int, digits: int = 6) -> str:
    """ns since the epoch -> RFC 3339 UTC with `digits` (0-9) fraction digits and a Z."""
    sec, rem = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if digits <= 0:
        return stamp + "Z"
    return f"{stamp}.{rem // 10 ** (9 - digits):0{digits}d}Z"


def us_text_to_rfc3339(text: str) -> str:
    """Epoch microseconds as text (a Redis entry's timestamp) -> RFC 3339 UTC with
    microseconds; the text itself when it is not a number."""
    try:
        us = int(text)
    except ValueError:
        return text
    return ns_to_rfc3339(us * 1000, 6)


def ns_to_epoch_text(ns: int) -> str:
    """ns -> epoch seconds with six decimals, as Kraken v1 prints times: '1534614248.123678'."""
    sec, rem = divmod(ns, 1_000_000_000)
    return f"{sec}.{rem // 1000:06d}"


def time_value_to_ns(value: object, option: str = "time", now_ns: int | None = None) -> int:
    """A time as a library caller gives it -> ns: a `datetime` (naive means UTC), a `date`
    (its midnight UTC), an int (ns since the epoch), or text as `parse_time_ns` reads it."""
    if isinstance(value, bool):
        raise UsageError(f"{option}: expected a time, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, _dt.datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
        delta = dt - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(value, _dt.date):
        return (value.toordinal() - _EPOCH.toordinal()) * 86_400_000_000_000
    if isinstance(value, str):
        return parse_time_ns(value, option, now_ns)
    ts_ns = getattr(value, "value", None)  # a pandas Timestamp: ns since the epoch, UTC
    if isinstance(ts_ns, int) and hasattr(value, "tz_localize"):
        return ts_ns
    raise UsageError(
        f"{option}: expected a datetime, ISO 8601 text, a relative time (-15m) or epoch ns, "
        f"got {type(value).__name__}"
    )
