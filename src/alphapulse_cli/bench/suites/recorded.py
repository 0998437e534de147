"""Logs recorded from the local exchange by a real WebSocket client, written the way a
capture writes them (connect event, the outbound subscribes, every inbound frame, and at a
clean end the `summary` of what the adapter counted, then `end`): realistic traffic for the
compact suite and the compact tests."""

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


def _subscribes(venue: str, depth: int | None) -> list[dict[str, Any]]:
    subs = json.loads(json.dumps(SUBSCRIBES[venue]))
    for sub in subs:
        if depth is not None and sub.get("params", {}).get("channel") == "book":
            sub["params"]["depth"] = depth
    return subs


async def _record(
    url: str, venue: str, path: Path, frames: int, end: bool, depth: int | None
) -> None:
    from websockets.asyncio.client import connect

    from alphapulse_cli.core.derive import Normalizer
    from alphapulse_cli.venues_table import venue_id
    from alphapulse_cli.wslog.format import Kind, make_tag
    from alphapulse_cli.wslog.writer import WslogWriter

    vid = venue_id(venue)
    w = WslogWriter(path)
    # The adapter collect would run, fed every record as it is written, for the summary.
    norm = Normalizer()
    symbols: set[str | None] = set()

    def write(ts: int, tag: int, body: bytes) -> None:
        w.write(ts, tag, body)
        symbols.update(ev["symbol"] for ev in norm.process(ts, tag, body))

    connect_ev = json.dumps({"event": "connect", "url": url}, separators=(",", ":"))
    write(time.time_ns(), make_tag(vid, Kind.EVENT), connect_ev.encode())
    async with connect(url, max_queue=None, compression=None) as ws:
        for sub in _subscribes(venue, depth):
            body = json.dumps(sub).encode()
            write(time.time_ns(), make_tag(vid, Kind.OUT), body)
            await ws.send(body.decode())
        tag = make_tag(vid, Kind.IN)
        for _ in range(frames):
            msg = await asyncio.wait_for(ws.recv(decode=False), 10)
            write(time.time_ns(), tag, msg)
    if end:
        summary = {
            "event": "summary",
            "in": frames,
            "integrity": norm.stats[venue],
            "symbols": sorted(s for s in symbols if s is not None),
        }
        w.write_event(time.time_ns(), vid, summary)
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
    depth: int | None = None,
) -> Path:
    """Serve `venue` from a local exchange and record `frames` inbound frames into `path`
    (Kraken's book at `depth`, default 10)."""
    from alphapulse_cli.exchange.thread import ExchangeThread

    with ExchangeThread(venue, rate=rate, seed=seed, trade_share=trade_share) as ex:
        asyncio.run(_record(ex.url, venue, path, frames, end, depth))
    return path
