"""compact with real processes around it: a writer holding its log, two compacts at once,
and a compact killed at random instants, then run again."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time

import pytest
import zstandard

from alphapulse_cli.compact.lock import DirLock
from alphapulse_cli.compact.scan import TMP_PREFIX
from alphapulse_cli.wslog.reader import complete_length
from tests.helpers.cli import run_cli
from tests.helpers.compact_data import make_data_dir, recorded
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow  # compact as processes, killed and racing

WRITER = """
import sys
from alphapulse_cli.wslog.writer import WslogWriter
w = WslogWriter(sys.argv[1])
w.write(1_700_000_000_000_000_000, 1, b'{"type":"heartbeat"}')
w.flush()
print("ready", flush=True)
sys.stdin.readline()
w.close()
"""


def compact_proc(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "alphapulse_cli", "compact", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_log_a_writer_holds_is_skipped(tmp_path):
    data = tmp_path / "data"
    make_data_dir(data, hours=1)
    live = data / "coinbase" / "20260101_07.wslog"
    w = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(live)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert w.stdout is not None and w.stdout.readline() == b"ready\n"
        r = run_cli("compact", str(data), "--stats")
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stderr.splitlines()[-1])
        assert summary["skipped_live"] == [str(live)]
        assert summary["compressed"] == 2
        assert live.exists() and not live.with_name(live.name + ".zst").exists()
    finally:
        w.communicate(b"\n", timeout=10)
    assert w.returncode == 0
    body = live.read_bytes()
    r = run_cli("compact", str(data), "--quiet")
    assert r.returncode == 0, r.stderr
    assert not live.exists()
    z = live.with_name(live.name + ".zst")
    assert zstandard.ZstdDecompressor().decompress(z.read_bytes()) == body


def test_second_compact_waits_or_exits_with_no_wait(tmp_path):
    data = tmp_path / "data"
    make_data_dir(data, hours=1)
    lock = DirLock(data).acquire(wait=False)
    try:
        r = run_cli("compact", str(data), "--no-wait")
        assert r.returncode == 1
        assert b"another compact is running" in r.stderr and b"Traceback" not in r.stderr
        p = compact_proc(str(data))
        assert p.stderr is not None
        wait_until(lambda: select.select([p.stderr], [], [], 0)[0], timeout=30)
        assert b"waiting for another compact" in p.stderr.readline()
        assert p.poll() is None, p.communicate()
        assert not list(data.rglob("*.zst"))
    finally:
        lock.release()
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert len(list(data.rglob("*.zst"))) == 2 and not list(data.rglob("*.wslog"))


def test_two_compacts_at_once_do_the_work_once(tmp_path):
    data = tmp_path / "data"
    originals = make_data_dir(data, hours=3)
    procs = [compact_proc(str(data), "--stats") for _ in range(2)]
    summaries = []
    for p in procs:
        _out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
        summaries.append(json.loads(err.splitlines()[-1]))
    assert sorted(s["compressed"] for s in summaries) == [0, len(originals)]
    index = json.loads((data / "index.json").read_bytes())["files"]
    assert sorted(index) == sorted(f"{r}.zst" for r in originals)
    assert run_cli("compact", str(data), "--verify").returncode == 0


def test_killed_at_random_instants_then_rerun_loses_nothing(tmp_path):
    data = tmp_path / "data"
    lake = tmp_path / "lake"
    rnd = random.Random(int(os.environ.get("COMPACT_KILL_SEED", "11")))
    originals: dict[str, bytes] = {}
    kills = 0
    for i in range(14):
        # New logs arrive every round (as from a capture), so every kill interrupts work.
        for venue in ("coinbase", "kraken"):
            rel = f"{venue}/20260102_{i:02d}.wslog"
            whole = recorded(venue)
            # Distinct contents: the lake keeps one copy of identical logs (named by sha256).
            body = whole
            while any(body == b for b in originals.values()):
                cut = int(len(whole) * rnd.uniform(0.4, 1))
                body = whole[: complete_length(whole[:cut])[0]]
            (data / venue).mkdir(parents=True, exist_ok=True)
            (data / rel).write_bytes(body)
            originals[rel] = body
        t0 = time.monotonic()
        p = compact_proc(str(data), "--parquet", str(lake), "--threads", str(rnd.choice([0, 2])))
        if i == 0:
            # The first round runs to the end: it measures how long a run takes here.
            p.communicate(timeout=60)
            full = time.monotonic() - t0
            continue
        # A random instant of the run is the point: the kill lands wherever it lands.
        time.sleep(rnd.uniform(0.05, 0.95) * full)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.communicate(timeout=30)
        # After every kill, each log is whole in its raw or compressed form.
        for rel, body in originals.items():
            raw, z = data / rel, data / f"{rel}.zst"
            if raw.exists():
                assert raw.read_bytes() == body
            else:
                assert zstandard.ZstdDecompressor().decompress(z.read_bytes()) == body
    print(f"{kills} kills")
    assert kills >= 8
    r = run_cli("compact", str(data), "--parquet", str(lake))
    assert r.returncode == 0, r.stderr
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(TMP_PREFIX)]
    assert leftovers == []
    index = json.loads((data / "index.json").read_bytes())["files"]
    assert sorted(index) == sorted(f"{r}.zst" for r in originals)
    for rel, body in originals.items():
        assert not (data / rel).exists()
        z = data / f"{rel}.zst"
        assert zstandard.ZstdDecompressor().decompress(z.read_bytes()) == body
    assert run_cli("compact", str(data), "--verify").returncode == 0
    # The lake holds every log's rows once: as many trades as the adapters counted.
    import duckdb

    expected = sum(e["integrity"]["trades"] for e in index.values())
    per_file = dict(
        duckdb.connect()
        .execute(
            f"SELECT parse_filename(filename, true), count(*) FROM read_parquet("
            f"'{lake}/trades/**/*.parquet', filename=true) GROUP BY ALL"
        )
        .fetchall()
    )
    for rel, e in index.items():
        assert per_file.get(e["sha256"], 0) == e["integrity"]["trades"], (rel, e)
    got = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FROM read_parquet('{lake}/trades/**/*.parquet', "
            "hive_partitioning=true)"
        )
        .fetchone()
    )
    assert got == (expected,)
    files = {p.name for p in lake.rglob("*.parquet")}
    assert files == {e["sha256"] + ".parquet" for e in index.values()}


def test_replay_range_skips_indexed_files_outside_it(tmp_path):
    data = tmp_path / "data"
    originals = make_data_dir(data, hours=1)
    assert run_cli("compact", str(data)).returncode == 0
    index = json.loads((data / "index.json").read_bytes())["files"]
    last = max(e["last_ts"] for e in index.values())
    # Damage every file while keeping its size: only a file that is opened can complain.
    for rel in index:
        z = data / rel
        z.write_bytes(b"\0" * z.stat().st_size)
    r = run_cli("replay", str(data), "--from", str(last + 1))
    assert r.returncode == 0 and r.stdout == b"", r.stderr
    r = run_cli("replay", str(data), "--to", str(last))
    assert r.returncode == 3
    assert originals


def test_sigterm_stops_cleanly_and_keeps_what_is_done(tmp_path):
    data = tmp_path / "data"
    originals = make_data_dir(data, hours=4)
    p = compact_proc(str(data))
    wait_until(lambda: len(list(data.rglob("*.zst"))) >= 2, timeout=30, interval=0.01)
    p.send_signal(signal.SIGTERM)
    _out, err = p.communicate(timeout=30)
    assert p.returncode in (0, 130), err
    assert b"Traceback" not in err
    assert [f for f in tmp_path.rglob("*") if f.name.startswith(TMP_PREFIX)] == []
    saved = data / "index.json"
    index = json.loads(saved.read_bytes())["files"] if saved.exists() else {}
    for rel, body in originals.items():
        raw, z = data / rel, data / f"{rel}.zst"
        if raw.exists():
            assert raw.read_bytes() == body
        else:  # compressed and recorded before the signal
            assert f"{rel}.zst" in index
            assert zstandard.ZstdDecompressor().decompress(z.read_bytes()) == body


def test_a_live_collect_capture_is_skipped_until_it_closes(tmp_path):
    from alphapulse_cli.exchange.thread import ExchangeThread

    data = tmp_path / "data"

    def grown() -> list:
        logs = list(data.rglob("*.wslog"))
        return logs if logs and logs[0].stat().st_size > 20_000 else []

    with ExchangeThread("coinbase", rate=2000, seed=4) as ex:
        cmd = [sys.executable, "-m", "alphapulse_cli", "collect", "coinbase", "BTC-USD"]
        cmd += ["--url", ex.url, "-o", str(data), "-q"]
        col = subprocess.Popen(cmd, stderr=subprocess.PIPE)
        try:
            logs = wait_until(grown, timeout=30, interval=0.05)
            assert len(logs) == 1, col.stderr
            r = run_cli("compact", str(data), "--stats")
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stderr.splitlines()[-1])["skipped_live"] == [str(logs[0])]
            assert logs[0].exists() and not list(data.rglob("*.zst"))
        finally:
            col.send_signal(signal.SIGTERM)
            col.communicate(timeout=30)
    assert col.returncode == 0
    body = logs[0].read_bytes()
    r = run_cli("compact", str(data), "--stats")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stderr.splitlines()[-1])["compressed"] == 1
    z = logs[0].with_name(logs[0].name + ".zst")
    assert zstandard.ZstdDecompressor().decompress(z.read_bytes()) == body
    entry = json.loads((data / "index.json").read_bytes())["files"][z.relative_to(data).as_posix()]
    assert entry["cut"] is None and entry["integrity"]["trades"] > 0
