"""Helpers for the ring tests: unique ring names under the real /dev/shm/alphapulse,
removed afterwards (the fixtures are in tests/shm/conftest.py), and writer processes
(tests/helpers/ring_proc.py, run as a script)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from alphapulse_cli.shm.layout import ring_dir

RING_PROC = str(Path(__file__).with_name("ring_proc.py"))


def new_ring_name() -> str:
    return f"test-{os.getpid()}-{uuid.uuid4().hex[:10]}"


def remove_ring_files(name: str) -> None:
    d = ring_dir()
    for p in (d / name, *d.glob(f".{name}.*.tmp")):
        p.unlink(missing_ok=True)


def ring_fixture() -> Iterator[str]:
    name = new_ring_name()
    yield name
    remove_ring_files(name)


def writer_proc(name: str, capacity: int, count: int, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, RING_PROC, name, str(capacity), str(count), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_writer(name: str, capacity: int, count: int, mode: str = "close") -> None:
    p = writer_proc(name, capacity, count, mode)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err


def wait_ready(p: subprocess.Popen) -> None:
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line == "ready\n", (line, p.stderr.read() if p.stderr else "")
