"""Generated records that look like exchange traffic (about 160-byte frames)."""

from __future__ import annotations

import random
from pathlib import Path

from alphapulse_cli.wslog.format import Kind, make_tag
from alphapulse_cli.wslog.writer import WslogWriter

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00Z


def coinbase_frames(n: int, seed: int = 7) -> list[bytes]:
    """A mix of level2_batch l2updates and matches, as Coinbase sends them."""
    rnd = random.Random(seed)
    out = []
    trade_id = 900_000_000
    mid = 67_000_00
    for i in range(n):
        mid += rnd.randint(-3, 3)
        if i % 5 == 4:
            trade_id += 1
            side = "buy" if rnd.random() < 0.5 else "sell"
            frame = (
                '{"type":"match","trade_id":%d,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8",'
                '"taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","side":"%s","size":"0.%08d",'
                '"price":"%d.%02d","product_id":"BTC-USD","sequence":%d,"time":"2026-01-01T00:00:%02d.%06dZ"}'
                % (
                    trade_id,
                    side,
                    rnd.randint(1, 99_999_999),
                    mid // 100,
                    mid % 100,
                    80_000_000_000 + i,
                    i % 60,
                    i % 1_000_000,
                )
            )
        else:
            price = mid + rnd.randint(-500, 500)
            side = "buy" if price < mid else "sell"
            size = (
                "0.00000000"
                if rnd.random() < 0.3
                else f"{rnd.randint(1, 5)}.{rnd.randint(0, 99_999_999):08d}"
            )
            frame = (
                '{"type":"l2update","product_id":"BTC-USD","changes":[["%s","%d.%02d","%s"]],'
                '"time":"2026-01-01T00:00:%02d.%06dZ"}'
                % (side, price // 100, price % 100, size, i % 60, i % 1_000_000)
            )
        out.append(frame.encode())
    return out


def write_log(
    path: Path,
    frames: list[bytes],
    count: int,
    *,
    gap_ns: int = 50_000,
    start: int = T0,
    venue: int = 1,
) -> int:
    """Write `count` records cycling through `frames`; returns the file size."""
    tag = make_tag(venue, Kind.IN)
    w = WslogWriter(path)
    write = w.write
    nf = len(frames)
    for i in range(count):
        write(start + i * gap_ns, tag, frames[i % nf])
    w.close(end=True, ts_ns=start + count * gap_ns, venue=venue)
    return path.stat().st_size
