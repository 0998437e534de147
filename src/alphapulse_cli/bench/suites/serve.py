"""serve: frames/s that `alphapulse replay LOG --serve` delivers to one client over loopback.

The server is the real executable (`--keep-serving`, one client after another); the client
runs in this process. Two clients: a `websockets` client under uvloop (what a user's client
gets; usually the client is the limit), and a raw socket that does the handshake by hand and
only counts bytes (the server's own ceiling).
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir
from alphapulse_cli.bench.suites.traffic import coinbase_frames, write_log
from alphapulse_cli.replay.serve_feed import frame_header

_FIRST = b"\x81\x82" + b"\x00\x00\x00\x00" + b"{}"  # a masked (zero key) text frame "{}"


def _start(log: Path) -> tuple[subprocess.Popen[bytes], str, int]:
    cmd = [sys.executable, "-m", "alphapulse_cli", "replay", str(log)]
    proc = subprocess.Popen(
        [*cmd, "--serve", "127.0.0.1:0", "--keep-serving"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    if not line.startswith("listening on ws://"):
        proc.kill()
        raise RuntimeError(f"replay --serve did not start: {line!r}")
    url = line.split()[2]
    return proc, url, int(url.rsplit(":", 1)[1])


def _ws_client_rate(url: str, expected: int) -> float:
    async def main() -> float:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        n = 0
        async with connect(url, max_queue=None, max_size=None, compression=None) as ws:
            await ws.send("{}")
            recv = ws.recv
            await recv(decode=False)
            t0 = time.perf_counter()
            n = 1
            try:
                while True:
                    await recv(decode=False)
                    n += 1
            except ConnectionClosed:
                pass
            dt = time.perf_counter() - t0
        if n != expected:
            raise RuntimeError(f"serve bench: {n} of {expected} frames arrived")
        return (n - 1) / dt

    import uvloop

    return uvloop.run(main())


def _raw_client_rate(port: int, wire_bytes: int, frames: int) -> float:
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            more = sock.recv(4096)
            if not more:
                raise RuntimeError("serve bench: no handshake answer")
            head += more
        got = len(head) - head.index(b"\r\n\r\n") - 4
        sock.sendall(_FIRST)
        buf = bytearray(1 << 20)
        t0 = time.perf_counter()
        while got < wire_bytes:
            n = sock.recv_into(buf)
            if not n:
                raise RuntimeError(f"serve bench: connection ended after {got} of {wire_bytes}")
            got += n
        dt = time.perf_counter() - t0
    return frames / dt


def serve_suite(ctx: BenchContext) -> list[Result]:
    """Frames/s from `replay --serve` to a websockets client and to a raw socket reader."""
    n = ctx.scale(400_000)
    frames = coinbase_frames(1000)
    wire = sum(len(frame_header(f)) + len(f) for f in (frames[i % len(frames)] for i in range(n)))
    with scratch_dir(ctx, "serve") as d:
        log = d / "serve.wslog"
        write_log(log, frames, n)
        proc, url, port = _start(log)
        try:
            ws_rates, raw_rates = [], []
            for i in range(ctx.repeats + 1):
                ws_rate = _ws_client_rate(url, n)
                raw_rate = _raw_client_rate(port, wire, n)
                if i:
                    ws_rates.append(ws_rate)
                    raw_rates.append(raw_rate)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    note = f"{n} frames of about {wire // n} bytes on the wire, one client at a time"
    return [
        Result(
            "frames/s to a websockets client",
            "frames/s",
            ws_rates,
            reference=Result("frames/s to a raw socket reader", "frames/s", raw_rates),
            note=note + "; ratio: the websockets client's share of the server's ceiling",
        ),
        Result("frames/s to a raw socket reader", "frames/s", raw_rates, note=note),
    ]
