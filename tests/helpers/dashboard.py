"""Run `alphapulse dashboard` as a process on a free port and read its /api/state."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers.wait import wait_until


class DashboardProc:
    def __init__(self, log: Path, *args: str) -> None:
        self.log = log
        cmd = [sys.executable, "-m", "alphapulse_cli", "dashboard", "--port", "0", *args]
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        self.url = wait_until(self._url, timeout=30, interval=0.05, what="dashboard listening")

    def _url(self) -> str | None:
        m = re.search(r"dashboard: (http://\S+/)", self.log.read_text())
        if m is None and self.proc.poll() is not None:
            raise RuntimeError(f"dashboard exited {self.proc.returncode}: {self.log.read_text()}")
        return m.group(1) if m else None

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "api/state", timeout=5) as r:
            return json.load(r)

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(10)
