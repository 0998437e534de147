"""Realistic logs for the compact tests: frames from the local exchange, recorded by a real
`websockets` client into a WslogWriter exactly as a capture does (connect event, the
outbound subscribe, every inbound frame, end of log)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from alphapulse_cli.exchange.thread import ExchangeThread
from alphapulse_cli.venues_table import venue_id
from alphapulse_cli.wslog.format import Kind, make_tag
from alphapulse_cli.wslog.writer import WslogWriter

SUBSCRIBE = {
    "coinbase": {
        "type": "subscribe",
        "product_ids": ["BTC-USD", "ETH-USD"],
        "channels": ["level2_batch", "matches", "heartbeat"],
    },
    "kraken": {
        "method": "subscribe",
        "params": {"channel": "book", "symbol": ["BTC/USD", "ETH/USD"], "depth": 10},
    },
}
KRAKEN_TRADES = {"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"]}}


async def _record(url: str, venue: str, path: Path, frames: int, end: bool) -> None:
    from websockets.asyncio.client import connect

    vid = venue_id(venue)
    w = WslogWriter(path)
    w.write_event(time.time_ns(), vid, {"event": "connect", "url": url})
    async with connect(url, max_queue=None, compression=None) as ws:
        subs = [SUBSCRIBE[venue]] + ([KRAKEN_TRADES] if venue == "kraken" else [])
        for sub in subs:
            body = json.dumps(sub).encode()
            w.write(time.time_ns(), make_tag(vid, Kind.OUT), body)
            await ws.send(body.decode())
        tag = make_tag(vid, Kind.IN)
        for _ in range(frames):
            msg = await asyncio.wait_for(ws.recv(decode=False), 10)
            w.write(time.time_ns(), tag, msg)
    if end:
        w.close(end=True, venue=vid)
    else:
        w.close(end=False)


def record(venue: str, path: Path, frames: int, rate: float = 20000, end: bool = True) -> Path:
    with ExchangeThread(venue, rate=rate, seed=3, trade_share=0.3) as ex:
        asyncio.run(_record(ex.url, venue, path, frames, end))
    return path


_CACHE: dict[str, bytes] = {}


def recorded(venue: str, frames: int = 6000) -> bytes:
    """One recorded log per venue for the whole test session (bytes; copy it anywhere)."""
    key = f"{venue}:{frames}"
    if key not in _CACHE:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            p = record(venue, Path(d) / "x.wslog", frames)
            _CACHE[key] = p.read_bytes()
    return _CACHE[key]


def make_data_dir(root: Path, hours: int = 2) -> dict[str, bytes]:
    """DATA_DIR/<venue>/YYYYMMDD_HH.wslog files, hourly, like a capture leaves them; returns
    each file's content by path relative to root."""
    out = {}
    for venue in ("coinbase", "kraken"):
        data = recorded(venue)
        (root / venue).mkdir(parents=True, exist_ok=True)
        for h in range(hours):
            rel = f"{venue}/20260101_{h:02d}.wslog"
            # Different hours hold different bytes: cut the recording at a record boundary.
            body = data if h == 0 else data[: _boundary(data, len(data) * (h + 1) // (hours + 2))]
            (root / rel).write_bytes(body)
            out[rel] = body
    return out


def _boundary(data: bytes, near: int) -> int:
    from alphapulse_cli.wslog.reader import complete_length

    return complete_length(data[:near])[0]
