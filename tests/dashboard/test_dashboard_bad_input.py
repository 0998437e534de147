"""Bad input: every source down at once keeps the dashboard up and says why for each; a
port in use exits 2 with one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.dashboard import DashboardProc
from tests.helpers.redis_streams import free_port
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow


def test_every_source_down_is_reported_and_nothing_crashes(tmp_path: Path) -> None:
    dead = free_port()
    dash = DashboardProc(
        tmp_path / "dashboard.err",
        "--data", str(tmp_path / "no-data"), "--redis", f"redis://127.0.0.1:{free_port()}",
        "--shm", "no-such-ring-for-dashboard", "--collector", f"http://127.0.0.1:{dead}",
    )  # fmt: skip
    try:

        def reported() -> dict | None:
            s = dash.state()
            return s if s["status"]["tape"] != "connecting" and s["system"] else None

        state = wait_until(reported, timeout=10, interval=0.1)
        [row] = state["collectors"]
        assert row["status"] == "unreachable" and "refused" in row["error"]
        assert state["status"]["tape"].startswith("redis unreachable:")
        depth = state["status"]["depth"]
        assert "no such ring" in depth and "redis unreachable" in depth
        assert "no such directory" in state["status"]["firehose"]
        assert state["trades"] == [] and state["books"] == {} and state["firehose"] == []
        assert dash.proc.poll() is None
    finally:
        assert dash.stop() == 0
    assert "Traceback" not in (tmp_path / "dashboard.err").read_text()


def test_port_in_use_exits_2_with_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_cli("dashboard", "--port", str(port), timeout=30)
        assert r.returncode == 2
        [line] = r.stderr.decode().splitlines()
        assert line == (
            f"alphapulse: dashboard on 127.0.0.1:{port}: address already in use; "
            "choose another --port"
        )
        r = run_cli("dashboard", "--host", "0.0.0.0", "--port", str(port), timeout=30)
        warning, error = r.stderr.decode().splitlines()
        assert r.returncode == 2 and "address already in use" in error
        assert warning.startswith("alphapulse: warning: listening on 0.0.0.0: anyone")
