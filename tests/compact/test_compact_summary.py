"""compact reads the integrity counters collect wrote (the closing `summary` events) and
derives them only for logs without them, or with --recheck; both give the same counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from alphapulse_cli.compact import index as idx
from alphapulse_cli.wslog.reader import iter_records
from alphapulse_cli.wslog.writer import WslogWriter
from tests.helpers.cli import run_cli
from tests.helpers.collect import records, run_collect, sessions

pytestmark = pytest.mark.slow  # captures by the real collect from the local exchange

# Faults that the counters must show: Kraken corrupted checksums and skipped book
# messages (mismatches, resyncs), Coinbase skipped trades (a trade-id gap, a resync).
CAPTURES = {
    "kraken": ["--corrupt-checksum", "150", "--skip", "400", "--depth", "25"],
    "kraken-v1": ["--protocol", "v1", "--corrupt-checksum", "200"],
    "coinbase": ["--skip", "150", "--skip", "500"],
}


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for name, faults in CAPTURES.items():
        venue = name.split("-")[0]
        d = tmp_path_factory.mktemp(name)
        r = run_collect(
            venue, "BTC-USD", "ETH-USD", "--simulate", "-n", "1200", "-o", str(d), *faults
        )
        assert r.returncode == 0, r.stderr
        [f] = sorted(d.rglob("*.wslog"))
        out[name] = f
    return out


def without_summaries(src: Path, dest: Path) -> Path:
    """The same log as an older collect wrote it: no summary events."""
    w = WslogWriter(dest, lock=False)
    for ts, tag, payload in iter_records(src):
        if not payload.startswith(b'{"event":"summary"'):
            w.write(ts, tag, payload)
    w.close(end=False)
    return dest


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_written_counters_equal_derived(captures, name):
    f = captures[name]
    ev = sessions(records(f), summaries=True)
    assert [e["event"] for e in ev[-2:]] == ["summary", "end"]
    written = idx.profile(f)
    derived = idx.profile(f, recheck=True)
    assert written.pop("integrity_source") == "summary"
    assert derived.pop("integrity_source") == "derived"
    assert written == derived
    counts = written["integrity"]
    assert counts["resyncs"] > 0
    if name.startswith("kraken"):
        assert counts["checksum_mismatch"] > 0 and counts["checksum_ok"] > 0
    else:
        assert counts["gaps"] > 0 and counts["trades"] > 0
    assert written["symbols"] == ["BTC-USD", "ETH-USD"]


def test_a_log_without_a_summary_falls_back(captures, tmp_path):
    for name, f in captures.items():
        old = without_summaries(f, tmp_path / f"{name}.wslog")
        prof = idx.profile(old)
        assert prof.pop("integrity_source") == "derived"
        written = idx.profile(f)
        written.pop("integrity_source")
        assert prof["integrity"] == written["integrity"]
        assert prof["records"] == written["records"] - 1


def test_a_summary_that_does_not_close_the_log_is_not_trusted(captures, tmp_path):
    src = captures["kraken"]
    recs = list(iter_records(src))
    # Frames after the summary (a log appended to), and a summary counting other frames.
    late = tmp_path / "late.wslog"
    w = WslogWriter(late, lock=False)
    for ts, tag, payload in [*recs[:-1], recs[3], recs[-1]]:
        w.write(ts, tag, payload)
    w.close(end=False)
    assert idx.written_profile(late) is None
    assert idx.profile(late)["integrity_source"] == "derived"
    off = tmp_path / "off.wslog"
    w = WslogWriter(off, lock=False)
    for ts, tag, payload in recs:
        if payload.startswith(b'{"event":"summary"'):
            obj = json.loads(payload)
            obj["in"] += 1
            payload = json.dumps(obj, separators=(",", ":")).encode()
        w.write(ts, tag, payload)
    w.close(end=False)
    assert idx.written_profile(off) is None
    # Joined logs: each half's summary covers only its half.
    joined = tmp_path / "joined.wslog"
    joined.write_bytes(src.read_bytes() * 2)
    assert idx.written_profile(joined) is None


def test_compact_reads_them_and_recheck_derives(captures, tmp_path):
    entries = {}
    for mode in ("plain", "recheck"):
        data = tmp_path / mode
        for name, f in captures.items():
            (data / name).mkdir(parents=True)
            shutil.copyfile(f, data / name / f.name)
        args = ["--recheck"] if mode == "recheck" else []
        r = run_cli("compact", str(data), *args)
        assert r.returncode == 0, r.stderr
        assert b"differ" not in r.stderr
        entries[mode] = json.loads((data / "index.json").read_bytes())["files"]
    assert {e["integrity_source"] for e in entries["plain"].values()} == {"summary"}
    assert {e["integrity_source"] for e in entries["recheck"].values()} == {"derived"}
    for rel, e in entries["plain"].items():
        other = entries["recheck"][rel]
        for key in ("integrity", "symbols", "records", "kinds", "first_ts", "last_ts", "sha256"):
            assert e[key] == other[key], key


def test_replay_skips_the_summary(captures, tmp_path):
    f = captures["coinbase"]
    old = without_summaries(f, tmp_path / "old.wslog")
    a = run_cli("replay", str(f), "--format", "events")
    b = run_cli("replay", str(old), "--format", "events")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout and a.stdout


def test_recheck_warns_when_the_written_counters_differ(captures, tmp_path):
    from alphapulse_cli.compact.run import CompactRequest, Reporter, run_compact

    data = tmp_path / "data"
    (data / "kraken").mkdir(parents=True)
    w = WslogWriter(data / "kraken" / "20260101_00.wslog", lock=False)
    for ts, tag, payload in iter_records(captures["kraken"]):
        if payload.startswith(b'{"event":"summary"'):
            obj = json.loads(payload)
            obj["integrity"]["checksum_ok"] += 5
            payload = json.dumps(obj, separators=(",", ":")).encode()
        w.write(ts, tag, payload)
    w.close(end=False)
    warnings: list[str] = []
    run_compact(CompactRequest(data_dir=data, recheck=True), Reporter(warn=warnings.append))
    [warning] = warnings
    assert "differ" in warning
    [entry] = json.loads((data / "index.json").read_bytes())["files"].values()
    assert entry["integrity_source"] == "derived"
    assert entry["integrity"] == idx.profile(captures["kraken"])["integrity"]
