"""Logs recorded from the local exchange by a real WebSocket client, written the way a
capture writes them (connect event, the outbound subscribes, every inbound frame, end of
log): realistic traffic for the compact suite and the compact tests."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

SUBSCRIBES: dict[str, list[dict[str, Any]]] = {
    "coinbase": [
        {
            "type": "subscribe",
            "product_ids": ["BTC-USD", "ETH-USD"],
            "channels": ["level2_batch", "matches", "heartbeat"],
        }
    ],
    "kraken": [
        {
            "method": "subscribe",
            "params": {"channel": "book", "symbol": ["BTC/USD", "ETH/USD"], "depth": 10},
        },
        {"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"]}},
    ],
}


async def _record(url: str, venue: str, path: Path, frames: int, end: bool) -> None:
    from websockets.asyncio.client import connect

    from alphapulse_cli.venues_table import venue_id
    from alphapulse_cli.wslog.format import Kind, make_tag
    from alphapulse_cli.wslog.writer import WslogWriter

    vid = venue_id(venue)
    w = WslogWriter(path)
    w.write_event(time.time_ns(), vid, {"event": "connect", "url": url})
    async with connect(url, max_queue=None, compression=None) as ws:
        for sub in SUBSCRIBES[venue]:
            body = json.dumps(sub).encode()
            w.write(time.time_ns(), make_tag(vid, Kind.OUT), body)
            await ws.send(body.decode())
        tag = make_tag(vid, Kind.IN)
        for _ in range(frames):
            msg = await asyncio.wait_for(ws.recv(decode=False), 10)
            w.write(time.time_ns(), tag, msg)
    w.close(end=end, venue=vid)


def record_local(
    venue: str,
    path: Path,
    frames: int,
    *,
    rate: float = 20_000,
    seed: int = 3,
    trade_share: float = 0.3,
    end: bool = True,
) -> Path:
    """Serve `venue` from a local exchange and record `frames` inbound frames into `path`."""
    from alphapulse_cli.exchange.thread import ExchangeThread

    with ExchangeThread(venue, rate=rate, seed=seed, trade_share=trade_share) as ex:
        asyncio.run(_record(ex.url, venue, path, frames, end))
    return path
