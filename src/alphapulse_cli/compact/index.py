"""DATA_DIR/index.json: what each compressed log holds, to verify it and to find it by time.

    {"version": 1, "files": {"<path relative to DATA_DIR>": ENTRY, ...}}

ENTRY: venue (or venues, comma-joined, for a mixed log), first_ts/last_ts (ns; the least
and greatest record timestamp), records, kinds ({in, out, event} counts), raw_bytes (the
decompressed size), compressed_bytes, sha256 (of the decompressed content), cut (null, or
the cut-off tail that was left out: offset, missing, exact, dropped), integrity (the venue
adapters' counters: trades, book_updates, checksum_ok, checksum_mismatch, gaps, resyncs,
malformed), symbols, compacted_at, level, and lake (after a Parquet export: the lake
directory, row counts and the files written).

The file is replaced atomically (temporary name, fsync, rename, fsync of the directory),
so a reader sees the old index or the new one, never a mix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphapulse_cli.compact.scan import atomic_file
from alphapulse_cli.errors import BadLogError
from alphapulse_cli.wslog.format import KIND_NAMES
from alphapulse_cli.wslog.reader import ReadStats, iter_records

if TYPE_CHECKING:
    from alphapulse_cli.core.derive import Normalizer

INDEX_NAME = "index.json"
VERSION = 1
EventHook = Callable[[Any, int, list[dict[str, Any]]], None]


def load(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The entries by relative path; {} when there is no index yet."""
    path = data_dir / INDEX_NAME
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise BadLogError(
            str(path), 0, f"unreadable index ({exc})", "move it away and rerun compact to rebuild"
        ) from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict):
        raise BadLogError(
            str(path), 0, "not an alphapulse index", "move it away and rerun compact to rebuild"
        )
    return files


def save(data_dir: Path, files: dict[str, dict[str, Any]]) -> None:
    path = data_dir / INDEX_NAME
    body = json.dumps({"version": VERSION, "files": dict(sorted(files.items()))}, indent=1)
    with atomic_file(path, "x") as f:
        f.write(body + "\n")


def profile(
    source: Path, on_events: EventHook | None = None, norm: Normalizer | None = None
) -> dict[str, Any]:
    """Read every complete record of a log (plain or zstd): times, kinds, venues, symbols and
    the adapters' integrity counters; hand each message's events to `on_events`. `norm`: the
    normalizer to feed (one primed with the previous log's state), else a fresh one."""
    from alphapulse_cli.core.derive import Normalizer

    norm = norm if norm is not None else Normalizer()
    process = norm.process
    kinds = dict.fromkeys(KIND_NAMES.values(), 0)
    by_kind = [0, 0, 0]
    venues: set[int] = set()
    first = last = None
    count = 0
    symbols: set[str] = set()
    for ts, tag, payload in iter_records(source, tail="stop", stats=ReadStats()):
        count += 1
        if first is None or ts < first:
            first = ts
        if last is None or ts > last:
            last = ts
        kind = tag >> 12
        if kind < 3:
            by_kind[kind] += 1
        venues.add(tag & 0xFF)
        events = process(ts, tag, payload)
        if events:
            for ev in events:
                sym = ev["symbol"]
                if sym is not None:
                    symbols.add(sym)
            if on_events is not None and norm.last_adapter is not None:
                on_events(norm.last_adapter, ts, events)
    for k, name in KIND_NAMES.items():
        kinds[name] = by_kind[int(k)]
    from alphapulse_cli.venues_table import venue_name

    names = sorted(venue_name(v) for v in venues)
    stats = norm.stats
    return {
        "venue": ",".join(names) if names else None,
        "first_ts": first,
        "last_ts": last,
        "records": count,
        "kinds": kinds,
        "symbols": sorted(symbols),
        "integrity": stats.get(names[0], {}) if len(names) == 1 else stats,
    }


def entry_for(data_dir: Path, path: Path) -> str:
    return path.relative_to(data_dir).as_posix()


def _find_index(start: Path, stop: Path) -> Path | None:
    """The nearest directory from `start` up to `stop` holding an index.json."""
    d = start
    while True:
        if (d / INDEX_NAME).is_file():
            return d
        if d == stop or d.parent == d:
            return None
        d = d.parent


def skip_outside(
    inputs: list[str], files: list[str], start_ns: int | None, end_ns: int | None
) -> list[str]:
    """`files` without the compressed logs whose indexed time span misses [start, end].

    Only files under an input directory that holds (or has above the file) an index.json
    are judged, and only by an entry whose size still matches; anything else is kept, so
    the index can only save work, never hide data.
    """
    if start_ns is None and end_ns is None:
        return files
    roots = [Path(i).resolve() for i in inputs if i != "-" and Path(i).is_dir()]
    if not roots:
        return files
    cache: dict[Path, dict[str, dict[str, Any]]] = {}
    out = []
    for f in files:
        if f == "-" or not f.endswith(".zst"):
            out.append(f)
            continue
        p = Path(f).resolve()
        root = next((r for r in roots if r in p.parents), None)
        home = _find_index(p.parent, root) if root is not None else None
        if home is None:
            out.append(f)
            continue
        if home not in cache:
            try:
                cache[home] = load(home)
            except BadLogError:
                cache[home] = {}
        entry = cache[home].get(p.relative_to(home).as_posix())
        if entry is None or not _outside(entry, p, start_ns, end_ns):
            out.append(f)
    return out


def _outside(entry: dict[str, Any], p: Path, start_ns: int | None, end_ns: int | None) -> bool:
    first, last = entry.get("first_ts"), entry.get("last_ts")
    try:
        if p.stat().st_size != entry.get("compressed_bytes"):
            return False
    except OSError:
        return False
    if first is None or last is None:
        return entry.get("records") == 0
    return (start_ns is not None and last < start_ns) or (end_ns is not None and first > end_ns)
