"""peers: alphapulse against the best Python peer, cryptofeed, on the same frames in the same
run, checksums verified on both sides. Nothing is installed for it: without an importable
`cryptofeed` the suite says so and measures nothing.

Both sides are timed in-process from the same frames, held in memory, snapshots fed first
and not timed. alphapulse runs its events path as `replay --format events` does (JSON lines
into a buffer), with the compiled kernels and again with the pure-Python twins; cryptofeed
runs its feed handler's `message_handler` with no-op callbacks. cryptofeed's Kraken speaks
v1 only and its Coinbase Advanced Trade only, so those are its frames: the Kraken v2 rows
compare against cryptofeed on the v1 frames of the same traffic (same books, same trades).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from alphapulse_cli.bench.core import BenchContext, Result
from alphapulse_cli.bench.suites.realistic import (
    coinbase_advanced,
    coinbase_realistic,
    kraken_realistic,
)

T0 = 1_767_225_600_000_000_000
SYMBOLS = ["BTC-USD", "ETH-USD"]


def _ours(venue: str, compiled: bool, sessions: list[bytes], frames: list[bytes], setup: int):
    """A timer for alphapulse's events path over frames[setup:] (after the first `setup`)."""
    import msgspec

    from alphapulse_cli.adapters.coinbase import CoinbaseAdapter
    from alphapulse_cli.adapters.kraken import KrakenAdapter

    def run() -> float:
        ad: Any = (CoinbaseAdapter if venue == "coinbase" else KrakenAdapter)(speedups=compiled)
        ad.feed_session(msgspec.json.decode(sessions[0]), T0)
        for msg in sessions[1:]:
            ad.feed_outbound(msg, T0)
        for f in frames[:setup]:
            ad.feed(f, T0)
        encode = msgspec.json.Encoder().encode_lines
        feed_into = ad.feed_into
        out = bytearray()
        body = frames[setup:]
        t0 = time.perf_counter()
        for i, frame in enumerate(body):
            events = feed_into(frame, T0 + i, out)
            if events:
                out += encode(events)
            if len(out) > 1 << 20:
                del out[:]
        dt = time.perf_counter() - t0
        stats = ad.stats
        if stats["malformed"] or stats["checksum_mismatch"] or stats["gaps"]:
            raise RuntimeError(f"peers: {venue} traffic is not clean: {stats}")
        return len(body) / dt

    return run


def _cryptofeed(venue: str, frames: list[bytes], setup: int) -> Callable[[], float]:
    from cryptofeed.defines import COINBASE, KRAKEN, L2_BOOK, TRADES
    from cryptofeed.exchanges import Coinbase, Kraken
    from cryptofeed.symbols import Symbols

    if venue == "kraken":
        mapping = {"BTC-USD": "XBT/USD", "ETH-USD": "ETH/USD"}
        Symbols.set(KRAKEN, mapping, {"instrument_type": dict.fromkeys(mapping, "spot")})
    else:
        mapping = {s: s for s in SYMBOLS}
        Symbols.set(COINBASE, mapping, {"instrument_type": dict.fromkeys(mapping, "spot")})
    texts = [f.decode() for f in frames]

    async def noop(obj: object, ts: float) -> None:
        return None

    def run() -> float:
        cls: Any = Kraken if venue == "kraken" else Coinbase
        kw = {"max_depth": 1000} if venue == "kraken" else {}
        feed = cls(
            symbols=SYMBOLS,
            channels=[L2_BOOK, TRADES],
            callbacks={L2_BOOK: noop, TRADES: noop},
            checksum_validation=True,
            **kw,
        )
        handler = feed.message_handler

        async def go() -> float:
            for t in texts[:setup]:
                await handler(t, None, 0.0)
            body = texts[setup:]
            t0 = time.perf_counter()
            for t in body:
                await handler(t, None, time.time())
            return len(body) / (time.perf_counter() - t0)

        return asyncio.run(go())

    return run


def suite(ctx: BenchContext) -> list[Result]:
    """alphapulse vs cryptofeed (when importable) msgs/s on the same frames, checksums on."""
    try:
        import cryptofeed  # noqa: F401
    except ImportError:
        ctx.log("peers: cryptofeed is not importable here (pip install cryptofeed): skipped")
        return []
    n = ctx.scale(60_000)
    kv1 = kraken_realistic(n, "v1")
    kv2 = kraken_realistic(n, "v2")
    cb = coinbase_realistic(n)
    adv = coinbase_advanced(cb[1])
    plans = [
        # (label, our venue, our sessions/frames, our setup frames, peer venue, peer frames)
        ("kraken v1 book-1000+trade", "kraken", kv1, 2, "kraken", kv1[1]),
        ("kraken v2 book-1000+trade", "kraken", kv2, 3, "kraken", kv1[1]),
        ("coinbase exchange, realistic", "coinbase", cb, 2, "coinbase", adv[1]),
        ("coinbase advanced, realistic", "coinbase", adv, 2, "coinbase", adv[1]),
    ]
    out = []
    for label, venue, (sessions, frames), setup, peer_venue, peer_frames in plans:
        fast = _ours(venue, True, sessions, frames, setup)
        slow = _ours(venue, False, sessions, frames, setup)
        peer = _cryptofeed(peer_venue, peer_frames, 2)
        f_s, s_s, p_s = [], [], []
        for i in range(ctx.repeats + 1):  # alternating, the first round warms up
            f, s, p = fast(), slow(), peer()
            if i:
                f_s.append(f)
                s_s.append(s)
                p_s.append(p)
        ref = Result("cryptofeed (same traffic)", "msg/s", p_s)
        note = f"{len(frames) - setup} frames"
        out.append(Result(f"{label} (compiled)", "msg/s", f_s, reference=ref, note=note))
        out.append(Result(f"{label} (NO_SPEEDUPS)", "msg/s", s_s, reference=ref, note=note))
    return out
