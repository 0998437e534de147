"""Fixtures for every test: a small log written with the spec encoder (tests/helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.wslog_spec import spec_log


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
