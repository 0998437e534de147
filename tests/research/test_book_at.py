"""Lake.book_at against an independent rebuild: every record up to the instant fed to fresh
adapters, as `replay --format books` does, at many random instants, on both venues."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest

from alphapulse_cli.core.derive import Normalizer
from alphapulse_cli.research import Lake
from alphapulse_cli.wslog.reader import iter_records
from tests.helpers.research import SYMBOLS, capture_both, logs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return capture_both(tmp_path_factory.mktemp("research"))


def rebuild(records: list[tuple[int, int, bytes]], symbol: str, at: int) -> dict:
    """The book after every record received at or before `at`, from scratch."""
    norm = Normalizer([symbol])
    last = None
    adapter = None
    for ts, tag, payload in records:
        if ts > at:
            break
        for ev in norm.process(ts, tag, payload):
            adapter = norm.last_adapter
            if ev["type"] in ("book_snapshot", "book_update") and ev["symbol"] == symbol:
                last = ts
    if adapter is None or not adapter.book_valid(symbol):
        return {"valid": False}
    bids, asks = adapter.books[symbol].top(10_000)
    return {
        "valid": True,
        "ts": last,
        "bids": [[Decimal(p), Decimal(s)] for p, s in bids],
        "asks": [[Decimal(p), Decimal(s)] for p, s in asks],
    }


def instants(records: list[tuple[int, int, bytes]], n: int, seed: int) -> list[int]:
    rnd = random.Random(seed)
    times = [r[0] for r in records]
    out = [rnd.choice(times) + rnd.choice((0, 0, 1, 250_000, 3_000_000)) for _ in range(n)]
    return [*out, times[0], times[-1]]


@pytest.mark.parametrize("venue", ["coinbase", "kraken"])
def test_book_at_equals_an_independent_rebuild(captured: Path, venue: str) -> None:
    records = [r for p in logs(captured, venue) for r in iter_records(p)]
    lake = Lake(captured / "lake")
    invalid = valid = 0
    for i, at in enumerate(instants(records, 40, seed=hash(venue) & 0xFFFF)):
        symbol = SYMBOLS[i % 2]
        want = rebuild(records, symbol, at)
        got = lake.book_at(symbol, at, depth=0, venue=venue)
        assert got["valid"] == want["valid"], (symbol, at, got["reason"])
        if not want["valid"]:
            invalid += 1
            assert got["bids"] == got["asks"] == [] and got["reason"]
            continue
        valid += 1
        assert (got["ts"], got["bids"], got["asks"]) == (want["ts"], want["bids"], want["asks"])
        top = lake.book_at(symbol, at, depth=3, venue=venue)
        assert top["bids"] == want["bids"][:3] and top["asks"] == want["asks"][:3]
    assert valid >= 30


def test_a_failed_checksum_marks_the_kraken_book_not_valid_until_its_resync(captured: Path):
    records = [r for p in logs(captured, "kraken") for r in iter_records(p)]
    lake = Lake(captured / "lake")
    # Find an instant inside each window where a rebuild says the book is not valid.
    windows = 0
    for symbol in SYMBOLS:
        norm = Normalizer([symbol])
        was_valid = False
        for ts, tag, payload in records:
            norm.process(ts, tag, payload)
            ad = norm.last_adapter
            valid = ad is not None and ad.book_valid(symbol)
            if was_valid and not valid:
                got = lake.book_at(symbol, ts, venue="kraken")
                assert not got["valid"] and got["reason"] in ("checksum_mismatch", "disconnect")
                windows += 1
            was_valid = valid
    assert windows >= 2  # both corrupted checksums, at least


def test_book_at_from_raw_logs_not_yet_in_the_lake(captured: Path, tmp_path: Path) -> None:
    """The same instants answered from the raw logs alone (an empty lake, --raw)."""
    empty = tmp_path / "lake"
    empty.mkdir()
    lake = Lake(empty, raw=captured / "replay")
    records = [r for p in logs(captured, "coinbase") for r in iter_records(p)]
    for at in instants(records, 6, seed=7):
        want = rebuild(records, "BTC-USD", at)
        got = lake.book_at("BTC-USD", at, depth=0, venue="coinbase")
        assert got["valid"] == want["valid"]
        if want["valid"]:
            assert (got["ts"], got["bids"], got["asks"]) == (want["ts"], want["bids"], want["asks"])


def test_book_at_asks_for_a_venue_when_two_have_the_symbol(captured: Path) -> None:
    from alphapulse_cli.errors import UsageError

    records = [r for p in logs(captured, "coinbase") for r in iter_records(p)]
    with pytest.raises(UsageError, match="coinbase and kraken"):
        Lake(captured / "lake").book_at("BTC-USD", records[-1][0])
