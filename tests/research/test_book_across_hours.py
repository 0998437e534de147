"""Books continue across collect's hourly rotation in the lake.

A capture of each venue is written again through the RotatingWriter with its times moved so
that an hour boundary falls in the middle: the second file starts with `continue` events and
updates to books whose snapshot is in the first. The files are compacted in two runs, as the
hourly cron job does, so the second export can only learn the books from what the first left
in the lake. book_at in the second hour must equal a rebuild over both files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alphapulse_cli.exchange import Faults
from alphapulse_cli.exchange.thread import ExchangeThread
from alphapulse_cli.research import Lake
from alphapulse_cli.wslog.reader import iter_records
from alphapulse_cli.wslog.writer import HOUR_NS, RotatingWriter
from tests.helpers.research import SYMBOLS, collect, compact
from tests.research.test_book_at import instants, rebuild

pytestmark = pytest.mark.slow

BOUNDARY = 1_780_000_000 // 3600 * 3600 * 1_000_000_000 + 2 * HOUR_NS


def rotate(src: Path, out: Path, venue: str) -> list[Path]:
    """`src` rewritten under out/<venue>/ as hourly files, the boundary at its middle record."""
    records = [r for r in iter_records(src) if not (r[1] >> 12 == 2 and b'"end"' in r[2])]
    shift = BOUNDARY - records[len(records) // 2][0]
    w = RotatingWriter(out, venue)
    for ts, tag, payload in records:
        if tag >> 12 == 2:
            w.write_event(ts + shift, json.loads(payload), (tag >> 8) & 0xF)
        else:
            w.write(ts + shift, tag, payload)
    w.close()
    assert len(w.files) == 2
    return list(w.files)


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hours")
    with ExchangeThread("kraken", rate=1500, seed=11, faults=Faults(corrupt=(2100,))) as ex:
        collect("kraken", ex.url, root / "capture", 3.0, "--depth", "25")
    with ExchangeThread("coinbase", rate=1500, seed=12, trade_share=0.3) as ex:
        collect("coinbase", ex.url, root / "capture", 3.0)
    for venue in ("coinbase", "kraken"):
        (src,) = sorted((root / "capture" / venue).glob("*.wslog"))
        first, _second = rotate(src, root / "hourly", venue)
        dest = root / "data" / venue
        dest.mkdir(parents=True)
        shutil.copy(first, dest / first.name)
    # The cron job: the first hour is compacted before the second exists.
    compact(root / "data", root / "lake")
    for venue in ("coinbase", "kraken"):
        for p in sorted((root / "hourly" / venue).glob("*.wslog"))[1:]:
            shutil.copy(p, root / "data" / venue / p.name)
    compact(root / "data", root / "lake")
    return root


@pytest.mark.parametrize("venue", ["coinbase", "kraken"])
def test_book_at_in_the_second_hour_equals_a_rebuild_over_both(rotated: Path, venue: str):
    files = sorted((rotated / "hourly" / venue).glob("*.wslog"))
    records = [r for p in files for r in iter_records(p)]
    second = [r for r in records if r[0] >= BOUNDARY]
    lake = Lake(rotated / "lake")
    valid = 0
    for i, at in enumerate(instants(second, 30, seed=5)):
        symbol = SYMBOLS[i % 2]
        want = rebuild(records, symbol, at)
        got = lake.book_at(symbol, at, depth=0, venue=venue)
        assert got["valid"] == want["valid"], (symbol, at, got["reason"])
        if want["valid"]:
            valid += 1
            assert (got["ts"], got["bids"], got["asks"]) == (
                want["ts"],
                want["bids"],
                want["asks"],
            )
    assert valid >= 20


def test_the_second_hour_keeps_its_book_updates(rotated: Path) -> None:
    """Without the carried state the second file's updates, which precede any snapshot in
    it, were dropped: the lake held no book update after the rotation."""
    for venue in ("coinbase", "kraken"):
        rows = 0
        for p in (rotated / "lake" / "book_updates" / f"venue={venue}").rglob("*.parquet"):
            t = pq.read_table(p, columns=["ts"])
            rows += sum(1 for v in t.column("ts").to_pylist() if _ns(v) >= BOUNDARY)
        assert rows > 100, venue


def test_the_raw_second_hour_continues_the_lakes_first(rotated: Path, tmp_path: Path) -> None:
    """Hour one compacted, hour two still a raw log under --raw: book_at reads the raw log,
    starting from the state the first export left in the lake."""
    hourly = sorted((rotated / "hourly" / "kraken").glob("*.wslog"))
    data = tmp_path / "data"
    (data / "kraken").mkdir(parents=True)
    shutil.copy(hourly[0], data / "kraken" / hourly[0].name)
    compact(data, tmp_path / "lake")
    shutil.copy(hourly[1], data / "kraken" / hourly[1].name)
    records = [r for p in hourly for r in iter_records(p)]
    lake = Lake(tmp_path / "lake", raw=data)
    second = [r for r in records if r[0] >= BOUNDARY]
    for i, at in enumerate(instants(second, 6, seed=9)):
        symbol = SYMBOLS[i % 2]
        want = rebuild(records, symbol, at)
        got = lake.book_at(symbol, at, depth=0, venue="kraken")
        assert got["valid"] == want["valid"], (symbol, at, got["reason"])
        if want["valid"]:
            assert (got["bids"], got["asks"]) == (want["bids"], want["asks"])


def test_a_missing_carry_means_a_cold_start(rotated: Path, tmp_path: Path) -> None:
    """Without _carry/ the second hour is exported as before: not valid, never wrong."""
    data = tmp_path / "data"
    shutil.copytree(rotated / "hourly" / "coinbase", data / "coinbase")
    lake = tmp_path / "lake"
    (data / "coinbase" / sorted(p.name for p in (data / "coinbase").iterdir())[1]).rename(
        tmp_path / "second.wslog"
    )
    compact(data, lake)
    shutil.rmtree(lake / "_carry")
    (tmp_path / "second.wslog").rename(data / "coinbase" / "second-hour.wslog")
    # A name that is not an hour's cannot have a predecessor either.
    compact(data, lake)
    files = sorted((rotated / "hourly" / "coinbase").glob("*.wslog"))
    records = [r for p in files for r in iter_records(p)]
    at = records[-1][0]
    got = Lake(lake).book_at("BTC-USD", at, venue="coinbase")
    want = rebuild(records, "BTC-USD", at)
    assert not got["valid"] or (got["bids"], got["asks"]) == (want["bids"][:10], want["asks"][:10])


def _ns(v: object) -> int:
    import datetime as dt

    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return int(v.timestamp()) * 1_000_000_000 + v.microsecond * 1000
    return int(v)  # type: ignore[call-overload]
