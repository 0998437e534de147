"""One rule per situation, in every command (README "Exit codes", docs/architecture.md §9):
Ctrl-C (SIGINT) exits 130, after the command has closed what it holds; an input path that
does not exist exits 3, in one line."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.redis_streams import RedisServer
from tests.helpers.shm import new_ring_name, remove_ring_files, run_writer
from tests.helpers.wait import wait_until
from tests.helpers.wslog_spec import spec_log

pytestmark = pytest.mark.slow  # every test runs the CLI as a process


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def ring() -> Iterator[str]:
    name = new_ring_name()
    run_writer(name, 64, 3)
    yield name
    remove_ring_files(name)


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "a.wslog"
    log.write_bytes(spec_log([(1, 1, 0, b'{"type":"heartbeat"}')]))
    return log


def _says(text: str) -> Callable[[subprocess.Popen[bytes], list[bytes]], bool]:
    """Ready when stderr has shown `text` (the lines read so far are kept in `seen`)."""

    def ready(p: subprocess.Popen[bytes], seen: list[bytes]) -> bool:
        assert p.stderr is not None
        while not any(text.encode() in line for line in seen):
            line = p.stderr.readline()
            if not line:
                return False
            seen.append(line)
        return True

    return ready


def _maps(path_part: str) -> Callable[[subprocess.Popen[bytes], list[bytes]], bool]:
    """Ready when the process has mapped or opened a file whose path holds `path_part`."""

    def ready(p: subprocess.Popen[bytes], seen: list[bytes]) -> bool:
        def found() -> bool:
            fds = Path(f"/proc/{p.pid}/fd")
            try:
                targets = [os.readlink(f) for f in fds.iterdir()]
                maps = Path(f"/proc/{p.pid}/maps").read_text()
            except OSError:
                return False
            return any(path_part in t for t in targets) or path_part in maps

        return bool(wait_until(found, 20, 0.05, f"the process opened {path_part}"))

    return ready


def _tail_connected(p: subprocess.Popen[bytes], seen: list[bytes]) -> bool:
    def connected() -> bool:
        try:
            return any(
                "TCP" in os.readlink(f) or "socket" in os.readlink(f)
                for f in Path(f"/proc/{p.pid}/fd").iterdir()
            )
        except OSError:
            return False

    return bool(wait_until(connected, 20, 0.05, "tail-stream connected"))


@pytest.mark.parametrize(
    "command",
    ["collect", "replay", "replay --serve", "local-exchange", "tail-stream", "shm-dump", "compact"],
)
def test_sigint_exits_130_in_every_command(tmp_path, command, redis_url, ring):
    held = None
    if command == "collect":
        args = ["collect", "kraken", "--simulate", "-o", str(tmp_path / "d")]
        ready = _says('"connect"')
    elif command == "replay":
        args = ["replay", str(_log(tmp_path)), "--follow"]
        ready = _maps("a.wslog")
    elif command == "replay --serve":
        args = ["replay", str(_log(tmp_path)), "--serve", "127.0.0.1:0"]
        ready = _says("listening on")
    elif command == "local-exchange":
        args = ["local-exchange", "coinbase", "--port", "0"]
        ready = _says("listening on")
    elif command == "tail-stream":
        args = ["tail-stream", "trades:*", "--redis", redis_url]
        ready = _tail_connected
    elif command == "shm-dump":
        args = ["shm-dump", ring, "--follow"]
        ready = _maps(ring)
    else:
        # Another compact holds the directory: this one waits for it, until Ctrl-C.
        data = tmp_path / "data"
        data.mkdir()
        held = os.open(data / ".alphapulse-compact.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(held, fcntl.LOCK_EX)
        args = ["compact", str(data)]
        ready = _says("waiting for another compact")
    p = subprocess.Popen(
        [sys.executable, "-m", "alphapulse_cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        seen: list[bytes] = []
        assert ready(p, seen), b"".join(seen).decode()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if held is not None:
            os.close(held)
    assert p.returncode == 130, (b"".join(seen) + err).decode()
    assert b"Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["replay", "{missing}"],
        ["replay", "{missing}", "--serve", "127.0.0.1:0"],
        ["compact", "{missing}"],
        ["compact", "{missing}", "--verify"],
        ["query", "trades", "BTC-USD", "--lake", "{missing}"],
    ],
    ids=["replay", "replay --serve", "compact", "compact --verify", "query --lake"],
)
def test_a_missing_path_exits_3_in_one_line(tmp_path, args):
    missing = str(tmp_path / "nope")
    r = run_cli(*[a.replace("{missing}", missing) for a in args])
    err = r.stderr.decode()
    assert r.returncode == 3, err
    assert len(err.strip().splitlines()) == 1 and missing in err
