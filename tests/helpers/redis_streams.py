"""A real `redis-server` per test session (free port, temporary dir), a recorder of real
local-exchange traffic, and readers that check what the publisher wrote with redis-py,
a client independent of ours. The fixtures built on them are in tests/redis_streams/conftest.py."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from tests.helpers.cli import run_cli
from tests.helpers.record import capture
from tests.helpers.wait import wait_until

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """redis-server on 127.0.0.1:<port> in `dir`; `kill()` is SIGKILL, `start()` restarts
    it on the same port and dir (with `durable`, AOF fsync always keeps acknowledged
    writes across a kill)."""

    def __init__(self, dir: Path, *, durable: bool = False, extra: tuple[str, ...] = ()):
        self.dir = dir
        self.port = free_port()
        self.durable = durable
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--dir", str(self.dir)]
        if self.durable:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        args += list(self.extra)
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir
        )
        proc = self.proc

        def accepting() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {proc.returncode}") from None
                return False

        wait_until(accepting, timeout=10, what="redis-server accepts connections")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, password: str | None = None) -> redis.Redis:
        return redis.Redis(port=self.port, password=password, decode_responses=True)


def entries(r: redis.Redis, key: str) -> list[tuple[str, dict[str, str]]]:
    return [(eid, dict(f)) for eid, f in r.xrange(key, "-", "+")]


def trade_entry(ev: dict[str, Any]) -> dict[str, str]:
    """What a trade event must become in Redis, written from the issue's field list."""
    recv = ev["ts_local"] // 1000
    tx = ev["ts_exchange"]
    return {
        "timestamp": str(recv if tx is None else tx // 1000),
        "price": ev["price"],
        "volume": ev["size"],
        "side": ev["side"],
        "trade_id": "" if ev["trade_id"] is None else str(ev["trade_id"]),
        "received": str(recv),
    }


def trades_of(log: Path) -> dict[str, list[dict[str, str]]]:
    """The trade entries a log must give, per stream, in order: from `replay --format events`."""

    out = run_cli("replay", str(log), "--format", "events")
    assert out.returncode == 0, out.stderr
    want: dict[str, list[dict[str, str]]] = {}
    for line in out.stdout.splitlines():
        e = json.loads(line)
        if e["type"] == "trade":
            want.setdefault(f"trades:{e['exchange']}:{e['symbol']}", []).append(trade_entry(e))
    return want


def check_restart(
    got: dict[str, list[dict[str, str]]], want: dict[str, list[dict[str, str]]], red: dict
) -> None:
    """After a Redis killed and restarted (durable) mid-run: every stored entry really traded,
    in order, none twice, publishing went on to the end, and the gap is what was counted."""
    assert red["reconnects"] >= 1 and red["errors"] >= 1
    assert red["offered"] == red["published"] + red["dropped"]
    assert sorted(got) == sorted(want)
    stored = 0
    for key, entries in got.items():
        ids = [e["trade_id"] for e in entries]
        assert len(ids) == len(set(ids))
        it = iter(want[key])
        assert all(e in it for e in entries)
        assert entries[-1] == want[key][-1]
        stored += len(entries)
    total = sum(len(v) for v in want.values())
    # Acknowledged writes survive the kill (AOF, fsync always); in-flight ones may or not.
    assert red["published"] <= stored <= red["published"] + red["dropped_lost"]
    assert total - stored <= red["dropped"]


def stored(server: RedisServer) -> int:
    """How many entries the streams of database 0 hold."""
    r = server.client()
    try:
        return sum(r.xlen(k) for k in r.keys("*"))
    finally:
        r.close()


def run_through_restart(cmd: list[str], server: RedisServer, down_s: float) -> tuple[int, bytes]:
    """Run cmd; SIGKILL the server once cmd has published to it, start it again after down_s;
    wait for cmd. Returns cmd's exit status and stderr."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: stored(server) > 0, timeout=30, what="cmd publishes to Redis")
        server.kill()
        time.sleep(down_s)  # the outage itself: Redis stays down this long, on purpose
        server.start()
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def contents(server: RedisServer, db: int = 0) -> dict[str, list[dict[str, str]]]:
    """Every stream of a database: key -> the entries' fields, in order."""
    r = server.client()
    r.select(db)
    out = {k: [f for _i, f in r.xrange(k)] for k in sorted(r.keys("*"))}
    r.close()
    return out


def trade(i: int, **over: Any) -> dict[str, Any]:
    ev = {
        "type": "trade",
        "exchange": "coinbase",
        "symbol": "BTC-USD",
        "ts_local": 1_767_225_600_000_000_000 + i * 1_000_000,
        "ts_exchange": 1_767_225_600_000_000_000 + i * 1_000_000 - 3_000,
        "price": f"{67000 + i % 100}.{i % 100:02d}",
        "size": f"0.{i:08d}",
        "side": "buy" if i % 2 else "sell",
        "trade_id": i,
    }
    ev.update(over)
    return ev


async def _capture(path: Path, frames: int) -> None:
    """Record as a capture does: connect event, what we sent, then every frame, raw."""
    from alphapulse_cli.exchange.server import LocalExchange
    from alphapulse_cli.wslog.writer import WslogWriter

    w = WslogWriter(path)
    try:
        plan = (("coinbase", ["BTC-USD", "ETH-USD"]), ("kraken", ["BTC/USD", "ETH/USD"]))
        for slot, (venue, symbols) in enumerate(plan):
            market = {"rate": 5000, "seed": 11 + slot, "levels": 60, "trade_share": 0.4}
            async with LocalExchange(venue, **market) as ex:
                await capture(w, venue, ex.url, symbols, frames, slot)
    finally:
        w.close()


def record_local_exchange(path: Path, frames: int = 1500) -> Path:
    asyncio.run(_capture(path, frames))
    return path


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process we started (no cleanup of any kind on its side)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)


class NotRedis:
    """A server on a free 127.0.0.1 port that answers like an HTTP server (what a Redis URL
    reaches when its port is wrong). `url` carries a password, which must never be printed."""

    def __enter__(self) -> NotRedis:
        import socketserver
        import threading

        class Http(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.recv(65536)
                self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Http)
        self.server.daemon_threads = True
        self.url = f"redis://:hunter2pw@127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
