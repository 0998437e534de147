"""Shared helpers: an independent .wslog encoder (plain struct, written from the spec,
not from our writer) and a runner for the real `alphapulse` executable."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

MAGIC = b"\x93WSLOG\r\n"


def spec_preamble() -> bytes:
    return MAGIC + struct.pack("<HHI", 1, 0, 0)


def spec_record(ts: int, venue: int, kind: int, payload: bytes, conn: int = 0) -> bytes:
    return struct.pack("<QHI", ts, venue | (conn << 8) | (kind << 12), len(payload)) + payload


def spec_log(records: list[tuple[int, int, int, bytes]]) -> bytes:
    return spec_preamble() + b"".join(spec_record(*r) for r in records)


def run_cli(*args: str, input: bytes | None = None, timeout: float = 60, env: dict | None = None):
    """Run `python -m alphapulse_cli ARGS` as a user would; returns CompletedProcess (bytes)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "alphapulse_cli", *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        env=full_env,
    )


@pytest.fixture
def sample_records() -> list[tuple[int, int, int, bytes]]:
    return [
        (
            1_700_000_000_000_000_000,
            1,
            2,
            b'{"event":"connect","url":"wss://ws-feed.exchange.coinbase.com"}',
        ),
        (
            1_700_000_000_000_000_100,
            1,
            1,
            b'{"type":"subscribe","product_ids":["BTC-USD"],"channels":["matches"]}',
        ),
        (
            1_700_000_000_100_000_000,
            1,
            0,
            b'{"type":"match","trade_id":10,"side":"sell","size":"5.23512","price":"400.23","product_id":"BTC-USD"}',
        ),
        (1_700_000_000_200_000_000, 1, 0, b"\xff\xfe not utf-8"),
        (1_700_000_000_300_000_000, 1, 2, b'{"event":"end"}'),
    ]


@pytest.fixture
def sample_log(tmp_path: Path, sample_records) -> Path:
    p = tmp_path / "sample.wslog"
    p.write_bytes(spec_log(sample_records))
    return p
