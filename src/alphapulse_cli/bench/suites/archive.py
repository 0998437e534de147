"""archive: `compact --archive` to an S3 API on loopback against `pyarrow.fs.copy_files`.

The suite starts its own `moto_server` (pip install 'moto[server]') on a free loopback
port. Ours is the whole archive step (storage/archive.py): each file's size checked against
its index entry, uploaded, read back and compared by size and sha256, recorded in index.json
and deleted, then index.json uploaded. The reference copies the same files into the same
bucket with `pyarrow.fs.copy_files` (threads on, no verification), in the same run.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alphapulse_cli.bench.core import (
    BenchContext,
    Result,
    free_port,
    scratch_dir,
    wait_listening,
)
from alphapulse_cli.bench.suites.traffic import coinbase_frames, write_log
from alphapulse_cli.errors import AlphapulseError, UsageError

FILES = 8


def _moto() -> str:
    exe = Path(sys.executable).with_name("moto_server")
    found = str(exe) if exe.exists() else shutil.which("moto_server")
    if found is None:
        raise UsageError("bench archive: moto_server is not installed: pip install 'moto[server]'")
    return found


@contextmanager
def _server(log: Path) -> Iterator[str]:
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [_moto(), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    try:
        wait_listening(proc, port, "moto_server", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _data(ctx: BenchContext, d: Path) -> Path:
    """FILES compressed, indexed hour logs under d/pristine (one log, copied FILES times)."""
    from alphapulse_cli.compact.run import CompactRequest, run_compact

    pristine = d / "pristine"
    (pristine / "coinbase").mkdir(parents=True)
    first = pristine / "coinbase" / "20260101_00.wslog"
    write_log(first, coinbase_frames(ctx.scale(100_000)), ctx.scale(400_000))
    for h in range(1, FILES):
        shutil.copyfile(first, first.with_name(f"20260101_{h:02d}.wslog"))
    run_compact(CompactRequest(data_dir=pristine, level=1))
    return pristine


def suite(ctx: BenchContext) -> list[Result]:
    """Archive MB/s to a loopback S3 (moto) with verification vs pyarrow.fs.copy_files."""
    from pyarrow import fs

    from alphapulse_cli.compact import index as idx
    from alphapulse_cli.storage.archive import ArchiveJob, run_archive
    from alphapulse_cli.storage.s3 import S3Url, Store

    results: list[Result] = []
    with scratch_dir(ctx, "archive") as d, _server(d / "moto.log") as endpoint:
        pristine = _data(ctx, d)
        zsts = sorted(pristine.rglob("*.wslog.zst"))
        size = sum(p.stat().st_size for p in zsts)
        entries0 = idx.load(pristine)
        env = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
        store = Store("s3://bench", env)
        s3 = fs.S3FileSystem(
            access_key="bench",
            secret_key="bench-secret",
            region="us-east-1",
            endpoint_override=endpoint.split("://", 1)[1],
            scheme="http",
            allow_bucket_creation=True,
            connect_timeout=10,
            request_timeout=60,
        )
        s3.create_dir("bench")
        ours, theirs = [], []
        for i in range(ctx.repeats + 1):
            work = d / f"work{i}"
            shutil.copytree(pristine, work)
            # Logs are archived days after they were written: none of their pages are dirty,
            # so the index's fsync does not also flush the copy just made.
            os.sync()
            entries = copy.deepcopy(entries0)
            job = ArchiveJob(
                root=work,
                entries=entries,
                dest=S3Url("bench", f"ours{i}"),
                older_than_ns=0,
                save=functools.partial(idx.save, work, entries),
                note=lambda msg: None,
                problem=ctx.log,
            )
            t0 = time.perf_counter()
            counts = run_archive(store, job)
            dt = time.perf_counter() - t0
            if counts.archived != len(zsts):
                raise AlphapulseError(f"bench archive: archived {counts.archived} of {len(zsts)}")
            t0 = time.perf_counter()
            fs.copy_files(str(pristine / "coinbase"), f"bench/ref{i}", destination_filesystem=s3)
            rdt = time.perf_counter() - t0
            shutil.rmtree(work)
            if i:
                ours.append(size / dt / 1e6)
                theirs.append(size / rdt / 1e6)
        results.append(
            Result(
                f"archive {len(zsts)} files, {size / 1e6:.1f} MB",
                "MB/s",
                ours,
                reference=Result("pyarrow.fs.copy_files, same files", "MB/s", theirs),
                note="ours: size check, upload, read back + sha256, index, delete "
                "(4 threads); moto_server on loopback",
            )
        )
    return results
