"""Record real traffic from the local exchange into a .wslog, as a capture would: a connect
session event, what we sent (kind 1), then every frame received (kind 0), raw first."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alphapulse_cli.adapters import make_adapter
from alphapulse_cli.exchange.thread import ExchangeThread
from alphapulse_cli.venues_table import VENUE_IDS
from alphapulse_cli.wslog.format import make_tag
from alphapulse_cli.wslog.writer import WslogWriter, session_payload


async def capture(
    w: WslogWriter,
    venue: str,
    url: str,
    symbols: list[str],
    frames: int,
    conn: int,
    depth: int | None = None,
) -> None:
    """One connection's session into `w`: the connect event, what we sent, `frames` frames."""
    from websockets.asyncio.client import connect

    vid = VENUE_IDS[venue]
    adapter = make_adapter(venue)
    async with connect(url, max_queue=None) as ws:
        w.write(time.time_ns(), make_tag(vid, 2, conn), session_payload("connect", url=url))
        for msg in adapter.subscribe_messages(symbols, depth=depth):
            await ws.send(msg.decode())
            w.write(time.time_ns(), make_tag(vid, 1, conn), msg)
        for _ in range(frames):
            data = await asyncio.wait_for(ws.recv(), 10)
            raw = data.encode() if isinstance(data, str) else data
            w.write(time.time_ns(), make_tag(vid, 0, conn), raw)


def record_local(path: Path, frames: int = 1500, rate: float = 4000.0, levels: int = 120) -> Path:
    """Coinbase (BTC-USD, ETH-USD) then Kraken v2 (BTC/USD, ETH/USD) into one log."""
    w = WslogWriter(path)
    try:
        for conn, (venue, symbols) in enumerate(
            (("coinbase", ["BTC-USD", "ETH-USD"]), ("kraken", ["BTC/USD", "ETH/USD"]))
        ):
            # Kraken books 100 deep, so the ring's 50 levels a side are all filled.
            depth = 100 if venue == "kraken" else None
            with ExchangeThread(venue, rate=rate, seed=7 + conn, levels=levels) as ex:
                asyncio.run(capture(w, venue, ex.url, symbols, frames, conn, depth))
    finally:
        w.close()
    return path
