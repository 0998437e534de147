"""Helpers for the `replay --serve` tests: record a real log from the local exchange, run the
server as a subprocess (a user's command line), and read what a real client receives."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphapulse_cli.exchange.thread import ExchangeThread
from alphapulse_cli.wslog.format import Kind, make_tag
from alphapulse_cli.wslog.writer import WslogWriter, session_payload
from tests.helpers.aio import run

VENUE = {"coinbase": 1, "kraken": 2}

COINBASE_SUB = json.dumps(
    {
        "type": "subscribe",
        "product_ids": ["BTC-USD", "ETH-USD"],
        "channels": ["level2_batch", "matches", "heartbeat"],
    }
)
KRAKEN_V2_SUB = json.dumps(
    {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}}
)
KRAKEN_V1_SUB = json.dumps(
    {"event": "subscribe", "pair": ["XBT/USD"], "subscription": {"name": "book"}}
)


def connect(url: str) -> Any:
    from websockets.asyncio.client import connect as ws_connect

    return ws_connect(url, max_queue=None, max_size=None, open_timeout=10)


async def _record(
    url: str, venue: int, sub: str, frames: int, writer: WslogWriter, slot: int
) -> list[bytes]:
    got: list[bytes] = []
    async with connect(url) as ws:
        writer.write(
            time.time_ns(), make_tag(venue, Kind.EVENT, slot), session_payload("connect", url=url)
        )
        # The venue's greeting (Kraken's status) arrives before we subscribe, as in a capture.
        if venue == VENUE["kraken"]:
            raw = await asyncio.wait_for(ws.recv(decode=False), 5)
            writer.write(time.time_ns(), make_tag(venue, Kind.IN, slot), raw)
            got.append(raw)
        await ws.send(sub)
        writer.write(time.time_ns(), make_tag(venue, Kind.OUT, slot), sub.encode())
        while len(got) < frames:
            raw = await asyncio.wait_for(ws.recv(decode=False), 5)
            writer.write(time.time_ns(), make_tag(venue, Kind.IN, slot), raw)
            got.append(raw)
    writer.write(
        time.time_ns(),
        make_tag(venue, Kind.EVENT, slot),
        session_payload("disconnect", reason="done"),
    )
    return got


def record_log(
    path: Path, venue: str, frames: int, *, v1: bool = False, rate: float = 3000, slot: int = 0
) -> list[bytes]:
    """Capture `frames` inbound frames from the local exchange into a .wslog at `path`, as the
    collector would (connect event, greeting, subscribe, frames); returns the inbound frames."""
    sub = COINBASE_SUB if venue == "coinbase" else (KRAKEN_V1_SUB if v1 else KRAKEN_V2_SUB)
    with ExchangeThread(venue, rate=rate, seed=11) as ex:
        url = ex.url_v1 if v1 else ex.url
        writer = WslogWriter(path)
        try:
            got = run(_record(url, VENUE[venue], sub, frames, writer, slot))
        finally:
            writer.close(venue=VENUE[venue])
    return got


@dataclass
class Server:
    """`alphapulse replay ... --serve 127.0.0.1:0` as a subprocess."""

    proc: subprocess.Popen
    url: str
    stderr_lines: list[str] = field(default_factory=list)

    def wait(self, timeout: float = 20) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, "".join(self.stderr_lines) + err.decode()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def start_server(*args: str) -> Server:
    env = {**os.environ}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphapulse_cli", "replay", *args, "--serve", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    if not line.startswith("listening on "):
        rest = proc.communicate(timeout=10)[1].decode()
        raise AssertionError(f"no listening line: {line!r} {rest!r}")
    return Server(proc, line.split()[2], [line])


async def receive_all(
    url: str, first: str | None, *, greeting: int = 0
) -> tuple[list[bytes], list[bytes], int | None]:
    """Connect, read `greeting` frames, send `first` (if any), then read to the close.
    Returns (greeting frames, later frames, close code)."""
    async with connect(url) as ws:
        hello = [await asyncio.wait_for(ws.recv(decode=False), 5) for _ in range(greeting)]
        if first is not None:
            await ws.send(first)
        rest = await read_to_close(ws)
        return hello, rest, ws.close_code


async def read_to_close(ws: Any, timeout: float = 10.0) -> list[bytes]:
    """Every frame until the server closes (a silence of `timeout` seconds fails the test)."""
    from websockets.exceptions import ConnectionClosed

    frames: list[bytes] = []
    try:
        while True:
            frames.append(await asyncio.wait_for(ws.recv(decode=False), timeout))
    except ConnectionClosed:
        return frames


def serve_once(
    log: str | Path, first: str | None, *args: str, path: str = "", greeting: int = 0
) -> tuple[list[bytes], list[bytes], int | None, int, str]:
    """Serve `log` to one client that sends `first`; returns (greeting, frames, close code,
    server exit status, server stderr)."""
    srv = start_server(str(log), *args)
    try:
        hello, rest, code = run(receive_all(srv.url + path, first, greeting=greeting))
        rc, err = srv.wait()
    finally:
        srv.stop()
    return hello, rest, code, rc, err
