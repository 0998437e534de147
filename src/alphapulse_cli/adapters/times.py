"""Venue timestamps to Unix-epoch nanoseconds, exactly (no float seconds on the way).

RFC 3339 UTC times ("2014-11-07T08:19:27.028459Z", up to 9 fraction digits) take a fast
path: the date-and-second prefix changes once a second per stream, so its epoch value is
cached and only the fraction is converted per message.
"""

from __future__ import annotations

import datetime as _dt

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_FRAC_SCALE = (0, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1000, 100, 10, 1)
# 'YYYY-MM-DDTHH:MM:SS' -> epoch ns; hot loops may read it directly for the common
# microsecond form ("...:SS.ffffffZ", 27 characters) and call iso_ns for anything else.
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


def iso_ns(text: object) -> int | None:
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


def epoch_text_ns(text: object) -> int | None:
    """Kraken v1 'seconds.micros' text ("1534614248.123678") -> epoch ns; None if bad."""
    if not isinstance(text, str):
        return None
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or not whole.isascii() or len(whole) > 12 or len(frac) > 9:
        return None
    if frac and (not frac.isdigit() or not frac.isascii()):
        return None
    return int(whole) * 1_000_000_000 + (int(frac) * _FRAC_SCALE[len(frac)] if frac else 0)
