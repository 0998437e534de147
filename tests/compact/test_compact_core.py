"""compact: compression, verification, the index, cut-off tails, dry runs, retention."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
import zstandard

from alphapulse_cli.compact.scan import TMP_PREFIX
from tests.helpers.cli import run_cli
from tests.helpers.compact_data import make_data_dir, recorded
from tests.helpers.wslog_spec import spec_log

pytestmark = pytest.mark.slow  # logs recorded from a local WebSocket exchange; the CLI and zstd


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def zstd_d(path: Path) -> bytes:
    return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout


def event_counts(path: Path) -> dict[str, int]:
    r = run_cli("replay", str(path), "--format", "events")
    assert r.returncode == 0, r.stderr
    out: dict[str, int] = {}
    for line in r.stdout.splitlines():
        t = json.loads(line)["type"]
        out[t] = out.get(t, 0) + 1
    return out


def test_compresses_closed_logs_and_zstd_restores_them(tmp_path):
    data = tmp_path / "data"
    originals = make_data_dir(data)
    r = run_cli("compact", str(data))
    assert r.returncode == 0, r.stderr
    index = json.loads((data / "index.json").read_bytes())["files"]
    assert sorted(index) == sorted(f"{rel}.zst" for rel in originals)
    for rel, body in originals.items():
        assert not (data / rel).exists()
        z = data / f"{rel}.zst"
        assert zstd_d(z) == body  # an independent reader, byte for byte
        piped = subprocess.run(
            f"zstd -dc '{z}' | sha256sum", shell=True, capture_output=True, check=True
        )
        assert piped.stdout.split()[0].decode() == index[f"{rel}.zst"]["sha256"]
        e = index[f"{rel}.zst"]
        assert e["sha256"] == hashlib.sha256(body).hexdigest()
        assert e["raw_bytes"] == len(body)
        assert e["compressed_bytes"] == z.stat().st_size
        assert e["venue"] == rel.split("/")[0]
        assert e["cut"] is None
        assert e["kinds"]["in"] > 0 and e["kinds"]["event"] >= 1
        assert e["first_ts"] <= e["last_ts"]
        counts = event_counts(z)
        assert e["integrity"]["trades"] == counts.get("trade", 0) > 0
    assert not [f for f in files_under(tmp_path) if TMP_PREFIX in f]
    # Nothing left to do: a second run changes nothing.
    before = (data / "index.json").read_bytes()
    r = run_cli("compact", str(data), "--stats")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stderr.splitlines()[-1])["compressed"] == 0
    assert (data / "index.json").read_bytes() == before
    assert run_cli("compact", str(data), "--verify").returncode == 0


def test_zstd_frame_has_a_content_checksum(tmp_path):
    data = tmp_path / "data"
    make_data_dir(data, hours=1)
    assert run_cli("compact", str(data)).returncode == 0
    z = next(data.rglob("*.zst"))
    # zstd -lv reports the checksum it finds in the frame.
    info = subprocess.run(["zstd", "-lv", str(z)], capture_output=True, text=True).stdout
    assert "Check: XXH64" in info


def test_cut_off_tail_is_compacted_up_to_the_last_record_and_reported(tmp_path):
    data = tmp_path / "data"
    (data / "coinbase").mkdir(parents=True)
    body = recorded("coinbase")
    cut = body[:-37]
    log = data / "coinbase" / "20260101_05.wslog"
    log.write_bytes(cut)
    from alphapulse_cli.wslog.reader import complete_length

    complete, _n = complete_length(cut)
    r = run_cli("compact", str(data), "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"cut off at offset {complete}" in r.stderr.decode()
    z = log.with_name(log.name + ".zst")
    assert zstd_d(z) == cut[:complete]
    e = json.loads((data / "index.json").read_bytes())["files"]["coinbase/20260101_05.wslog.zst"]
    assert e["cut"]["offset"] == complete and e["cut"]["dropped"] == len(cut) - complete
    assert e["raw_bytes"] == complete


def test_quiet_is_silent_when_all_is_well(tmp_path):
    data = tmp_path / "data"
    make_data_dir(data, hours=1)
    r = run_cli("compact", str(data), "--quiet")
    assert r.returncode == 0 and r.stderr == b"" and r.stdout == b""


def test_dry_run_changes_nothing(tmp_path):
    data = tmp_path / "data"
    originals = make_data_dir(data, hours=1)
    before = files_under(data)
    r = run_cli("compact", str(data), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert files_under(data) == before
    planned = r.stdout.decode().splitlines()
    assert sorted(planned) == sorted(f"compress {data / rel}" for rel in originals)


def test_verify_catches_a_corrupted_file(tmp_path):
    data = tmp_path / "data"
    make_data_dir(data, hours=1)
    assert run_cli("compact", str(data)).returncode == 0
    assert run_cli("compact", str(data), "--verify").returncode == 0
    z = data / "kraken" / "20260101_00.wslog.zst"
    raw = bytearray(z.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    z.write_bytes(bytes(raw))
    r = run_cli("compact", str(data), "--verify")
    assert r.returncode == 3
    err = r.stderr.decode()
    assert str(z) in err and "Traceback" not in err
    assert "1 file failed verification" in err and "damaged" in err


def test_verify_catches_a_missing_and_a_replaced_file(tmp_path):
    data = tmp_path / "data"
    make_data_dir(data, hours=2)
    assert run_cli("compact", str(data)).returncode == 0
    (data / "kraken" / "20260101_01.wslog.zst").unlink()
    # Same size, different content: a valid zstd frame of other bytes.
    z = data / "coinbase" / "20260101_00.wslog.zst"
    other = data / "coinbase" / "20260101_01.wslog.zst"
    size = z.stat().st_size
    z.write_bytes(other.read_bytes()[:size].ljust(size, b"\0"))
    r = run_cli("compact", str(data), "--verify")
    assert r.returncode == 3
    err = r.stderr.decode()
    assert "20260101_01.wslog.zst: listed in index.json but missing" in err
    assert "coinbase/20260101_00.wslog.zst" in err


def test_indexes_logs_compressed_by_hand(tmp_path):
    data = tmp_path / "data"
    (data / "kraken").mkdir(parents=True)
    body = recorded("kraken")
    log = data / "kraken" / "20260101_00.wslog"
    log.write_bytes(body)
    subprocess.run(["zstd", "-q", "--rm", str(log)], check=True)
    r = run_cli("compact", str(data))
    assert r.returncode == 0, r.stderr
    e = json.loads((data / "index.json").read_bytes())["files"]["kraken/20260101_00.wslog.zst"]
    assert e["sha256"] == hashlib.sha256(body).hexdigest()
    assert e["integrity"]["checksum_ok"] > 0 and e["integrity"]["checksum_mismatch"] == 0
    assert run_cli("compact", str(data), "--verify").returncode == 0


def test_bad_arguments(tmp_path):
    assert run_cli("compact", str(tmp_path / "nope")).returncode == 3
    assert run_cli("compact", str(tmp_path), "--level", "40").returncode == 2
    assert run_cli("compact", str(tmp_path), "--keep-raw", "soon").returncode == 2
    assert run_cli("compact", str(tmp_path), "--parquet", str(tmp_path)).returncode == 2


def test_a_damaged_log_is_left_alone_and_reported(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "bad.wslog").write_bytes(b"this is not a wslog at all" * 10)
    good = data / "good.wslog"
    good.write_bytes(spec_log([(1, 1, 0, b"x"), (2, 1, 2, b'{"event":"end"}')]))
    r = run_cli("compact", str(data))
    assert r.returncode == 3
    assert "bad.wslog" in r.stderr.decode()
    assert (data / "bad.wslog").exists() and not (data / "bad.wslog.zst").exists()
    assert (data / "good.wslog.zst").exists() and not good.exists()


@pytest.mark.parametrize("lake", [False, True])
def test_keep_raw_deletes_only_old_verified_logs(tmp_path, lake):
    data = tmp_path / "data"
    data.mkdir()
    old_ts = 1_600_000_000_000_000_000  # 2020
    trade = (
        b'{"type":"match","trade_id":%d,"side":"sell","size":"0.5","price":"100.25",'
        b'"product_id":"BTC-USD","time":"2020-09-13T12:26:40.000000Z"}'
    )
    recs = [(old_ts + i, 1, 0, trade % (i + 1)) for i in range(5)]
    (data / "old.wslog").write_bytes(spec_log(recs))
    (data / "new.wslog").write_bytes(recorded("coinbase"))
    args = ["compact", str(data), "--keep-raw", "30d"]
    if lake:
        args += ["--parquet", str(tmp_path / "lake")]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    assert not (data / "old.wslog.zst").exists() and not (data / "old.wslog").exists()
    assert (data / "new.wslog.zst").exists()
    index = json.loads((data / "index.json").read_bytes())["files"]
    assert sorted(index) == ["new.wslog.zst"]
    if lake:
        import duckdb

        n = (
            duckdb.connect()
            .execute(
                f"SELECT count(*) FROM read_parquet('{tmp_path}/lake/trades/**/*.parquet', "
                "hive_partitioning=true) WHERE ts < '2021-01-01'"
            )
            .fetchone()
        )
        assert n == (5,)
    assert run_cli("compact", str(data), "--verify").returncode == 0


def test_logs_too_big_for_one_call_are_streamed(tmp_path, monkeypatch):
    from alphapulse_cli.compact import compress

    monkeypatch.setattr(compress, "ONESHOT_MAX", 4096)
    body = recorded("kraken")
    cut = body[:-3]
    src = tmp_path / "big.wslog"
    src.write_bytes(cut)
    dest = tmp_path / "big.wslog.zst"
    fd = os.open(src, os.O_RDONLY)
    try:
        c = compress.compress_fd(fd, str(src), dest)
    finally:
        os.close(fd)
    assert c.cut is not None and c.raw_bytes == c.cut["offset"] < len(cut)
    assert zstd_d(dest) == cut[: c.raw_bytes]
    assert c.sha256 == hashlib.sha256(cut[: c.raw_bytes]).hexdigest()


def test_verification_after_writing_catches_a_difference(tmp_path):
    from alphapulse_cli.compact.compress import _compare_zst
    from alphapulse_cli.errors import VerifyError

    body = recorded("kraken")
    z = tmp_path / "k.wslog.zst"
    z.write_bytes(zstandard.ZstdCompressor().compress(body))
    _compare_zst(z, body, len(body))
    changed = bytearray(body)
    changed[len(body) // 2] ^= 1
    with pytest.raises(VerifyError, match="differ from the original"):
        _compare_zst(z, bytes(changed), len(body))
    with pytest.raises(VerifyError, match="decompresses to"):
        _compare_zst(z, body + b"x", len(body) + 1)


def test_keep_raw_keeps_logs_not_yet_in_the_lake(tmp_path):
    data, lake = tmp_path / "data", tmp_path / "lake"
    data.mkdir()
    old_ts = 1_600_000_000_000_000_000
    (data / "old.wslog").write_bytes(spec_log([(old_ts, 1, 2, b'{"event":"end"}')]))
    assert run_cli("compact", str(data)).returncode == 0  # indexed, not exported
    r = run_cli("compact", str(data), "--parquet", str(lake), "--keep-raw", "1d", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [f"export {data / 'old.wslog.zst'}"]
    assert b"kept: not in the lake yet" in r.stderr
    assert (data / "old.wslog.zst").exists() and not lake.exists()
    r = run_cli("compact", str(data), "--keep-raw", "1d", "--dry-run")
    assert r.stdout.decode().splitlines() == [f"delete {data / 'old.wslog.zst'}"]
    assert (data / "old.wslog.zst").exists()
