"""Helpers for the collect tests: run the real `alphapulse collect` against the in-package
local exchange (in a thread of the test process) and read back what it recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from alphapulse_cli.wslog.reader import iter_records

KINDS = {0: "in", 1: "out", 2: "event"}


def collect_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "alphapulse_cli", "collect", *args]


def run_collect(*args: str, timeout: float = 60, env: dict | None = None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(collect_cmd(*args), capture_output=True, timeout=timeout, env=full_env)


def records(root: Path, tail: str = "raise") -> list[tuple[int, str, bytes]]:
    """Every record of every .wslog under `root` (or of one file), in file order."""
    files = sorted(root.rglob("*.wslog")) if root.is_dir() else [root]
    out = []
    for f in files:
        for ts, tag, payload in iter_records(f, tail=tail):
            out.append((ts, KINDS[tag >> 12], payload))
    return out


def inbound(recs: list[tuple[int, str, bytes]]) -> list[bytes]:
    return [p for _, k, p in recs if k == "in"]


def outbound(recs: list[tuple[int, str, bytes]]) -> list[Any]:
    return [json.loads(p) for _, k, p in recs if k == "out"]


def sessions(recs: list[tuple[int, str, bytes]], summaries: bool = False) -> list[dict[str, Any]]:
    """The session events; the closing `summary` events only when asked for (they are
    checked by the summary tests, and are not part of the connection's story)."""
    out = [json.loads(p) for _, k, p in recs if k == "event"]
    return out if summaries else [e for e in out if e["event"] != "summary"]


def log_lines(stderr: bytes) -> list[dict[str, Any]]:
    """The structured JSON lines collect writes on stderr without a terminal."""
    out = []
    for line in stderr.decode().splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def stopped(stderr: bytes) -> dict[str, Any]:
    [line] = [x for x in log_lines(stderr) if x["event"] == "stopped"]
    return line


def sent_frames(stats: dict[str, Any]) -> int:
    return sum(c["frames_sent"] for c in stats["connections"])
