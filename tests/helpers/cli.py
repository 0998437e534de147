"""A runner for the real `alphapulse` executable."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, input: bytes | None = None, timeout: float = 60, env: dict | None = None):
    """Run `python -m alphapulse_cli ARGS` as a user would; returns CompletedProcess (bytes)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "alphapulse_cli", *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        env=full_env,
    )
