"""The depth chart's last resort: books rebuilt from a raw log equal what `replay -f books`
derives from it (core/derive.py), followed as the log grows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphapulse_cli.core.derive import iter_book_lines
from alphapulse_cli.dashboard.depth import DepthSource
from alphapulse_cli.wslog.reader import iter_records
from tests.helpers.compact_data import recorded

pytestmark = pytest.mark.slow


def _last_books(path: Path) -> dict[str, dict]:
    out = {}
    for chunk in iter_book_lines(iter_records(path), depth=50):
        for line in chunk.splitlines():
            b = json.loads(line)
            out[f"{b['exchange']}:{b['symbol']}"] = {
                "ts": b["ts_local"],
                "bids": [[float(p), float(s)] for p, s in b["bids"]],
                "asks": [[float(p), float(s)] for p, s in b["asks"]],
            }
    return out


def test_books_from_the_log_match_replay(tmp_path: Path) -> None:
    data = recorded("kraken", 3000)
    (tmp_path / "kraken").mkdir()
    log = tmp_path / "kraken" / "20260101_00.wslog"
    half = len(data) // 2
    log.write_bytes(data[:half])  # a record cut in two: the follower waits for the rest
    src = DepthSource(None, None, tmp_path)
    src.poll()
    with open(log, "ab") as f:
        f.write(data[half:])
    src.poll()
    assert src.view["source"] == "log"
    assert "no --shm ring" in src.view["status"]
    want = _last_books(log)
    assert want and src.view["books"] == want
