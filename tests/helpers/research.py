"""Captures for the research tests: the local exchange recorded by the real `collect`, then
compacted to a lake by the real `compact --parquet`, once per test session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from alphapulse_cli.exchange import Faults
from alphapulse_cli.exchange.thread import ExchangeThread

SYMBOLS = ("BTC-USD", "ETH-USD")


def collect(venue: str, url: str, out: Path, seconds: float, *extra: str) -> None:
    cmd = [sys.executable, "-m", "alphapulse_cli", "collect", venue, *SYMBOLS]
    cmd += ["--url", url, "--duration", str(seconds), "-o", str(out), "-q", *extra]
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()


def compact(data: Path, lake: Path, every: str = "1s") -> None:
    cmd = [sys.executable, "-m", "alphapulse_cli", "compact", str(data), "--parquet", str(lake)]
    r = subprocess.run([*cmd, "--checkpoint-every", every, "-q"], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()


def capture_both(root: Path, seconds: float = 4.0) -> Path:
    """root/data: one Coinbase and one Kraken v2 capture (the Kraken one with two corrupted
    checksums, so its books fail and resync); root/lake: compacted, checkpoints every 1 s;
    root/replay: a copy of the logs before compaction."""
    data = root / "data"
    with ExchangeThread("kraken", rate=1500, seed=5, faults=Faults(corrupt=(900, 2600))) as ex:
        collect("kraken", ex.url, data, seconds, "--depth", "25")
    with ExchangeThread("coinbase", rate=1500, seed=6, trade_share=0.3) as ex:
        collect("coinbase", ex.url, data, seconds)
    shutil.copytree(data, root / "replay")
    compact(data, root / "lake")
    return root


def logs(root: Path, venue: str) -> list[Path]:
    return sorted((root / "replay" / venue).glob("*.wslog"))
