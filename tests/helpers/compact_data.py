"""Realistic logs for the compact tests: frames from the local exchange, recorded by a real
`websockets` client the way a capture records them (bench/suites/recorded.py)."""

from __future__ import annotations

from pathlib import Path

from alphapulse_cli.bench.suites.recorded import record_local


def record(venue: str, path: Path, frames: int, end: bool = True) -> Path:
    return record_local(venue, path, frames, end=end)


_CACHE: dict[str, bytes] = {}


def recorded(venue: str, frames: int = 6000) -> bytes:
    """One recorded log per venue for the whole test session (bytes; copy it anywhere)."""
    key = f"{venue}:{frames}"
    if key not in _CACHE:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            p = record(venue, Path(d) / "x.wslog", frames)
            _CACHE[key] = p.read_bytes()
    return _CACHE[key]


def make_data_dir(root: Path, hours: int = 2) -> dict[str, bytes]:
    """DATA_DIR/<venue>/YYYYMMDD_HH.wslog files, hourly, like a capture leaves them; returns
    each file's content by path relative to root."""
    out = {}
    for venue in ("coinbase", "kraken"):
        data = recorded(venue)
        (root / venue).mkdir(parents=True, exist_ok=True)
        for h in range(hours):
            rel = f"{venue}/20260101_{h:02d}.wslog"
            # Different hours hold different bytes: cut the recording at a record boundary.
            body = data if h == 0 else data[: _boundary(data, len(data) * (h + 1) // (hours + 2))]
            (root / rel).write_bytes(body)
            out[rel] = body
    return out


def _boundary(data: bytes, near: int) -> int:
    from alphapulse_cli.wslog.reader import complete_length

    return complete_length(data[:near])[0]
