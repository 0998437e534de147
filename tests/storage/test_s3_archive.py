"""`compact --archive s3://...` and `replay s3://...` against a real S3 API (moto_server on
loopback, authentication on): verified uploads, kills at random instants, byte-identical
replay, and the bad-input exits."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from alphapulse_cli.compact import index as idx
from alphapulse_cli.compact.run import CompactRequest, run_compact
from alphapulse_cli.errors import DataError, ExitCode, exit_code_for
from tests.helpers.cli import run_cli
from tests.helpers.compact_data import make_data_dir

pytestmark = pytest.mark.slow  # a moto_server, compact and replay as processes


def _raw(blob: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(blob)


def _local_copies(data: Path, rel: str) -> list[bytes]:
    """The original's content wherever it is still on disk (raw or compressed)."""
    out = []
    raw, zst = data / rel, data / (rel + ".zst")
    if raw.is_file():
        out.append(raw.read_bytes())
    if zst.is_file():
        out.append(_raw(zst.read_bytes()))
    return out


def _archive(data: Path, url: str, env: dict[str, str], *more: str):
    return run_cli("compact", str(data), "--archive", url, "--archive-after", "0", *more, env=env)


def test_a_kill_at_any_point_loses_nothing_and_a_rerun_finishes(tmp_path, s3_server, s3_env):
    bucket = s3_server.new_bucket()
    data = tmp_path / "data"
    originals = make_data_dir(data, hours=2)
    url = f"s3://{bucket}/logs"
    rng = random.Random(17)

    def everywhere(rel: str) -> list[bytes]:
        obj = s3_server.objects(bucket).get(f"logs/{rel}.zst")
        return _local_copies(data, rel) + ([_raw(obj)] if obj is not None else [])

    cmd = [sys.executable, "-m", "alphapulse_cli", "compact", str(data), "--archive", url]
    for _ in range(3):
        p = subprocess.Popen(
            [*cmd, "--archive-after", "0", "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 2.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        for rel, body in originals.items():
            copies = everywhere(rel)
            assert copies and all(c == body for c in copies), rel

    r = _archive(data, url, s3_env)
    assert r.returncode == 0, r.stderr
    for rel, body in originals.items():
        assert everywhere(rel) == [body], rel  # once, in the bucket
    left = [p.name for p in data.rglob("*") if p.is_file()]
    assert sorted(left) == [".alphapulse-compact.lock", "index.json"]


def test_an_object_that_reads_back_different_keeps_the_file_and_exits_3(
    tmp_path, s3_server, s3_env
):
    bucket = s3_server.new_bucket()
    data = tmp_path / "data"
    make_data_dir(data, hours=1)
    assert run_cli("compact", str(data)).returncode == 0
    before = sorted(p for p in data.rglob("*.wslog.zst"))
    s3 = s3_server.filesystem()

    def tamper(sent) -> None:
        # What a faulty store or another writer would leave: same key, other bytes.
        with s3.open_output_stream(sent.url.path, compression=None) as out:
            out.write(b"not what was sent")

    req = CompactRequest(
        data_dir=data,
        archive=f"s3://{bucket}/logs",
        archive_after_ns=0,
        archive_after_put=tamper,
    )
    with pytest.raises(DataError) as err:
        run_compact(req)
    assert exit_code_for(err.value) == ExitCode.DATA
    assert sorted(p for p in data.rglob("*.wslog.zst")) == before
    assert not any("archive" in e for e in idx.load(data).values())


def test_archive_uploads_verified_logs_and_the_index_then_replay_reads_them(
    tmp_path, s3_server, s3_env
):
    bucket = s3_server.new_bucket()
    data = tmp_path / "data"
    originals = make_data_dir(data, hours=2)
    local = tmp_path / "local"
    shutil.copytree(data, local)
    url = f"s3://{bucket}/logs"

    kept = run_cli("compact", str(data), "--archive", url, "--stats", env=s3_env)
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stderr.splitlines()[-1])["archived"] == 0  # younger than 7d
    assert all((data / f"{rel}.zst").is_file() for rel in originals)

    r = _archive(data, url, s3_env, "--stats")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stderr.splitlines()[-1])
    assert summary["archived"] == len(originals)
    objects = s3_server.objects(bucket)
    assert sorted(objects) == sorted([f"logs/{rel}.zst" for rel in originals] + ["logs/index.json"])
    for rel, body in originals.items():
        assert not (data / f"{rel}.zst").exists()
        assert _raw(objects[f"logs/{rel}.zst"]) == body
    entries = idx.load(data)
    bucket_index = json.loads(objects["logs/index.json"])["files"]
    for rel in originals:
        info = entries[f"{rel}.zst"]["archive"]
        assert info["url"] == f"{url}/{rel}.zst"
        assert info["bytes"] == len(objects[f"logs/{rel}.zst"])
        assert bucket_index[f"{rel}.zst"]["archive"] == info

    again = _archive(data, url, s3_env, "--stats")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stderr.splitlines()[-1])["archived"] == 0
    verify = run_cli("compact", str(data), "--verify", env=s3_env)
    assert verify.returncode == 0, verify.stderr
    assert b"archived to s3://" in verify.stderr

    def replay(*inputs: str, fmt: str = "wslog") -> bytes:
        r = run_cli("replay", *inputs, "-f", fmt, env=s3_env)
        assert r.returncode == 0, r.stderr
        return r.stdout

    # An object, a prefix, and a glob by hour, byte for byte what the local files give.
    rel = "kraken/20260101_01.wslog"
    assert replay(f"{url}/{rel}.zst") == originals[rel]
    assert replay(url, fmt="jsonl") == replay(str(local), fmt="jsonl")
    hour = replay(f"{url}/*/20260101_01*")
    assert hour == replay(str(local / "coinbase/20260101_01.wslog"), str(local / rel))


def test_bad_credentials_a_missing_bucket_and_missing_variables(tmp_path, s3_server, s3_env):
    bucket = s3_server.new_bucket()
    data = tmp_path / "data"
    data.mkdir()
    secret = "wrong-secret-0123456789"
    wrong = run_cli(
        "compact", str(data), "--archive", f"s3://{bucket}/x",
        env={**s3_env, "AWS_SECRET_ACCESS_KEY": secret},
    )  # fmt: skip
    assert wrong.returncode == ExitCode.UPSTREAM, wrong.stderr
    assert secret.encode() not in wrong.stderr and b"refused the credentials" in wrong.stderr
    assert len(wrong.stderr.splitlines()) == 1

    nob = run_cli("replay", "s3://no-such-bucket-17/logs/", env=s3_env)
    assert nob.returncode == ExitCode.UPSTREAM
    assert b"no bucket 'no-such-bucket-17'" in nob.stderr

    env = {k: v for k, v in s3_env.items() if k != "AWS_ACCESS_KEY_ID"}
    missing = run_cli("replay", f"s3://{bucket}/logs/", env={**env, "AWS_ACCESS_KEY_ID": ""})
    assert missing.returncode == ExitCode.USAGE
    assert missing.stderr.count(b"\n") == 1 and b"AWS_ACCESS_KEY_ID is not set" in missing.stderr
    assert s3_env["AWS_SECRET_ACCESS_KEY"].encode() not in missing.stderr
