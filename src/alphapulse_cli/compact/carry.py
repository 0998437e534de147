"""Adapter state carried from one hourly log to the next, so the lake continues its books.

`collect` rotates its log every hour without reconnecting: the new file starts with a
`continue` event per connection, then updates to books whose snapshot is in an older file.
Exported on its own, such a file would drop every update until the venue's next snapshot
(for Kraken and Coinbase's level2, never, on a healthy connection), and the lake would hold
no book after the first hour.

So each export leaves, beside the lake's tables, the venue's adapters as they stood at the
end of its log: `LAKE/_carry/<venue>/<log name>.pickle.zst`. The export of a log that
starts with `continue` loads its predecessor's state first: the newest carry of the same
venue that ended at most `MAX_GAP_NS` before it (the previous hour's file; a numbered
sibling of it when collect restarted within that hour). A missing, foreign or damaged carry
only means a cold start, as before: the books become valid at their next snapshot.

The carry is a pickle, the one way to keep every adapter's state (books, checksum tokens,
instrument precisions, depths, trade-id continuity) without a second serializer per venue.
It is an internal cache of the lake: deleting `_carry/` loses nothing but that continuity,
and a lake is only read by those who trust it.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphapulse_cli import __version__
from alphapulse_cli.compact.scan import tmp_path
from alphapulse_cli.venues_table import venue_name
from alphapulse_cli.wslog.writer import HOUR_NS, hour_of_name

if TYPE_CHECKING:
    from alphapulse_cli.core.derive import Normalizer

CARRY_DIR = "_carry"
SUFFIX = ".pickle.zst"
FORMAT = 1
# Rotation happens at the first record of the new hour; a live feed sends a frame (at least
# a heartbeat) every second or so, so a wider gap means the files do not continue each other.
MAX_GAP_NS = 300_000_000_000
# The `continue` events come first in a rotated file; no need to look further.
HEAD_RECORDS = 64


def log_stem(source: Path) -> str:
    name = source.name
    for ext in (".zst", ".wslog"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name


def head(source: Path) -> tuple[int | None, str | None, bool]:
    """(first receive time, venue name, whether the log continues a connection)."""
    import json

    from alphapulse_cli.wslog.reader import ReadStats, iter_records

    first: int | None = None
    venue: str | None = None
    continues = False
    for i, (ts, tag, payload) in enumerate(iter_records(source, tail="stop", stats=ReadStats())):
        if first is None:
            first, venue = ts, venue_name(tag & 0xFF)
        if tag >> 12 == 2 and b'"continue"' in payload:
            try:
                continues = json.loads(payload).get("event") == "continue"
            except ValueError:
                continues = False
            if continues:
                break
        if i >= HEAD_RECORDS:
            break
    return first, venue, continues


def save(lake: Path, source: Path, norm: Normalizer, last_ts: int | None) -> None:
    """Write the venue adapters' state at the end of `source` (atomically)."""
    import zstandard

    if last_ts is None or not norm.adapters:
        return
    venues = {a.venue for a in norm.adapters.values() if a is not None}
    if len(venues) != 1:
        return  # a log mixing venues is not one of collect's hourly files
    d = lake / CARRY_DIR / venues.pop()
    d.mkdir(parents=True, exist_ok=True)
    body = pickle.dumps(
        {
            "format": FORMAT,
            "version": __version__,
            "last_ts": last_ts,
            "adapters": norm.adapters,
            "shared_ids": norm._shared_ids,
        },
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    final = d / (log_stem(source) + SUFFIX)
    tmp = tmp_path(final)  # a killed run's leftover is removed as debris by the next
    tmp.write_bytes(zstandard.ZstdCompressor(level=3).compress(body))
    os.replace(tmp, final)


def prime(lake: Path, source: Path, norm: Normalizer) -> Path | None:
    """Load into `norm` the state its predecessor left, when `source` continues one; the
    carry file used, or None (a cold start)."""
    first, venue, continues = head(source)
    if first is None or venue is None or not continues:
        return None
    d = lake / CARRY_DIR / venue
    start = hour_of_name(source.name)
    if start is None or not d.is_dir():
        return None
    best: tuple[int, Path, dict[str, Any]] | None = None
    me = log_stem(source)
    for p in d.glob("*" + SUFFIX):
        stem = p.name[: -len(SUFFIX)]
        hour = hour_of_name(stem + ".wslog")
        if stem == me or hour is None or not start - HOUR_NS <= hour <= start:
            continue
        state = _load(p)
        if state is None:
            continue
        last = state["last_ts"]
        if last <= first and first - last <= MAX_GAP_NS and (best is None or last > best[0]):
            best = (last, p, state)
    if best is None:
        return None
    _, path, state = best
    norm.adapters.update(state["adapters"])
    norm._shared_ids.update(state["shared_ids"])
    for adapter in state["adapters"].values():
        if adapter is not None:
            # In place: the compiled path holds this very dict. The index counts this log only.
            for key in adapter.stats:
                adapter.stats[key] = 0
    return path


def _load(path: Path) -> dict[str, Any] | None:
    import zstandard

    try:
        with path.open("rb") as f:
            body = zstandard.ZstdDecompressor().stream_reader(f).read()
        state = pickle.loads(body)
    except Exception:  # a damaged or foreign carry: start cold, as without one
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return None
    if state.get("version") != __version__ or not isinstance(state.get("last_ts"), int):
        return None
    return state
