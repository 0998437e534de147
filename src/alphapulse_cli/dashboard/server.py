"""The dashboard's HTTP and WebSocket server, on websockets' own HTTP handling: GET / and
its assets from the package, GET /api/state, and /ws, where every client gets the newest
snapshot at most every PUSH_S (coalesced: a slow client skips snapshots, never queues
them)."""

from __future__ import annotations

import asyncio
import errno
import signal
from importlib import resources
from typing import Any

import orjson

from alphapulse_cli.dashboard import PUSH_S
from alphapulse_cli.dashboard.state import Dashboard
from alphapulse_cli.errors import UsageError

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def asset(name: str) -> bytes | None:
    """A file of the page, shipped as package data under dashboard/static."""
    if "/" in name or name.startswith("."):
        return None
    try:
        return resources.files("alphapulse_cli.dashboard").joinpath("static", name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _response(status: int, reason: str, ctype: str, body: bytes) -> Any:
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    headers = Headers(
        [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status, reason, headers, body)


class DashboardServer:
    def __init__(self, dash: Dashboard, host: str, port: int) -> None:
        self.dash = dash
        self.host = host
        self.port = port
        self.clients: set[Any] = set()
        self.pushes = 0

    def process_request(self, connection: Any, request: Any) -> Any:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            return None
        if path == "/api/state":
            body = orjson.dumps(self.dash.snapshot())
            return _response(200, "OK", "application/json", body)
        name = "index.html" if path == "/" else path.lstrip("/")
        data = asset(name)
        suffix = name[name.rfind(".") :] if "." in name else ""
        if data is None or suffix not in TYPES:
            return _response(404, "Not Found", "text/plain", b"not found\n")
        return _response(200, "OK", TYPES[suffix], data)

    async def handler(self, ws: Any) -> None:
        self.clients.add(ws)
        try:
            await ws.send(orjson.dumps(self.dash.snapshot()).decode())
            async for _ in ws:
                pass  # the page sends nothing we act on; reading notices the close
        except Exception:
            pass
        finally:
            self.clients.discard(ws)

    async def push(self) -> None:
        from websockets.asyncio.server import broadcast

        seen = -1
        while True:
            await asyncio.sleep(PUSH_S)
            polls = self.dash.polls
            if not self.clients or polls == seen:
                continue
            seen = polls
            broadcast(self.clients, orjson.dumps(self.dash.snapshot()).decode())
            self.pushes += 1

    async def run(self, ready: Any = None) -> None:
        from websockets.asyncio.server import serve

        try:
            server = await serve(
                self.handler,
                self.host,
                self.port,
                process_request=self.process_request,
                max_size=1 << 16,
                compression=None,
            )
        except OSError as exc:
            why = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise UsageError(
                f"dashboard on {self.host}:{self.port}: {why or exc}; choose another --port"
            ) from None
        self.port = next(iter(server.sockets)).getsockname()[1]
        if ready is not None:
            ready(self)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        pusher = asyncio.create_task(self.push())
        try:
            await stop.wait()
        finally:
            pusher.cancel()
            server.close()
            await server.wait_closed()
