"""Venue ids as stored in bits 0-7 of a .wslog record's exchange_id (docs/architecture.md §4).

This table is the only place the ids are defined; the wslog(5) man page is generated from it.
"""

from __future__ import annotations

from alphapulse_cli.errors import UsageError

VENUE_IDS: dict[str, int] = {"coinbase": 1, "kraken": 2}
VENUE_NAMES: dict[int, str] = {v: k for k, v in VENUE_IDS.items()}
NO_VENUE = 0


def venue_id(name: str) -> int:
    try:
        return VENUE_IDS[name.lower()]
    except KeyError:
        known = ", ".join(VENUE_IDS)
        raise UsageError(f"unknown venue {name!r}: expected one of {known}") from None


def venue_name(vid: int) -> str:
    return VENUE_NAMES.get(vid, "none" if vid == NO_VENUE else f"venue{vid}")
