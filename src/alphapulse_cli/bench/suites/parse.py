"""parse: normalized messages/s per venue on generated traffic shaped like the real feeds,
against the same frames decoded by the stdlib json module in the same run; and the events
JSONL path end to end (`alphapulse replay LOG --format events > /dev/null`)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable

from alphapulse_cli.adapters import make_adapter
from alphapulse_cli.adapters.kraken_checksum import checksum_from_text
from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00Z
_BTC = 6_700_000  # cents


def _size(rnd: random.Random) -> str:
    return f"{rnd.randint(1, 5)}.{rnd.randint(0, 99_999_999):08d}"


def _clock(i: int) -> str:
    hh, mm, ss = (i // 3_600_000) % 24, (i // 60_000) % 60, (i // 1000) % 60
    return f"2026-01-01T{hh:02d}:{mm:02d}:{ss:02d}.{i * 37 % 1_000_000:06d}Z"


def coinbase_traffic(n: int, seed: int = 7, levels: int = 5000) -> list[bytes]:
    """A level2_batch snapshot, then n frames: 80% l2update (1-3 changes, mostly one, near
    the touch, 30% removals), 20% match with consecutive trade ids."""
    rnd = random.Random(seed)
    mid = _BTC

    def px(c: int) -> str:
        return f"{c // 100}.{c % 100:02d}"

    snap = {
        "type": "snapshot",
        "product_id": "BTC-USD",
        "bids": [[px(mid - i), _size(rnd)] for i in range(1, levels + 1)],
        "asks": [[px(mid + i), _size(rnd)] for i in range(levels)],
    }
    out = [json.dumps(snap, separators=(",", ":")).encode()]
    tid = 900_000_000
    for i in range(n):
        if rnd.random() < 0.2:
            tid += 1
            side = rnd.choice(("buy", "sell"))
            frame = (
                f'{{"type":"match","trade_id":{tid},'
                '"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8",'
                '"taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1",'
                f'"side":"{side}","size":"{_size(rnd)}","price":"{px(mid)}","product_id":"BTC-USD",'
                f'"sequence":{80_000_000_000 + i},"time":"{_clock(i)}"}}'
            )
            out.append(frame.encode())
            continue
        mid += rnd.randint(-2, 2)
        changes = []
        for _ in range(rnd.choice((1, 1, 1, 2, 3))):
            d = int(rnd.expovariate(1 / 20))
            buy = rnd.random() < 0.5
            p = mid - 1 - d if buy else mid + d
            size = "0.00000000" if rnd.random() < 0.3 else _size(rnd)
            changes.append(f'["{"buy" if buy else "sell"}","{px(p)}","{size}"]')
        out.append(
            (
                f'{{"type":"l2update","product_id":"BTC-USD","changes":[{",".join(changes)}],'
                f'"time":"{_clock(i)}"}}'
            ).encode()
        )
    return out


def kraken_v2_traffic(n: int, seed: int = 11, depth: int = 10) -> list[bytes]:
    """A BTC/USD depth-10 book (snapshot, then updates of 1-2 levels with valid checksums,
    numbers as JSON numbers with trailing zeros) mixed with trade updates, 80/20."""
    rnd = random.Random(seed)
    mid = 67_000_0  # tenths of a dollar: price_precision 1
    bids: dict[int, str] = {mid - 1 - i: _size(rnd) for i in range(depth)}
    asks: dict[int, str] = {mid + i: _size(rnd) for i in range(depth)}

    def px(t: int) -> str:
        return f"{t // 10}.{t % 10}"

    def crc() -> int:
        a = [(px(k), asks[k]) for k in sorted(asks)[:10]]
        b = [(px(k), bids[k]) for k in sorted(bids, reverse=True)[:10]]
        return checksum_from_text(a, b)

    def frame(kind: str, b: list[tuple[int, str]], a: list[tuple[int, str]], ts: str) -> bytes:
        side = lambda lv: ",".join(f'{{"price":{px(p)},"qty":{q}}}' for p, q in lv)  # noqa: E731
        return (
            f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD","bids":[{side(b)}],'
            f'"asks":[{side(a)}],"checksum":{crc()},"timestamp":"{ts}"}}]}}'
        ).encode()

    out = [
        frame(
            "snapshot",
            sorted(bids.items(), reverse=True),
            sorted(asks.items()),
            _clock(0),
        )
    ]
    tid = 4_665_846
    for i in range(n):
        if rnd.random() < 0.2:
            tid += 1
            side = rnd.choice(("buy", "sell"))
            out.append(
                (
                    '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD",'
                    f'"side":"{side}","price":{px(mid)},"qty":{_size(rnd)},"ord_type":"limit",'
                    f'"trade_id":{tid},"timestamp":"{_clock(i)}"}}]}}'
                ).encode()
            )
            continue
        b_ch: list[tuple[int, str]] = []
        a_ch: list[tuple[int, str]] = []
        for _ in range(rnd.choice((1, 1, 2))):
            buy = rnd.random() < 0.5
            book, ch = (bids, b_ch) if buy else (asks, a_ch)
            best = max(bids) if buy else min(asks)
            step = -1 if buy else 1
            if rnd.random() < 0.3 and len(book) > 2:
                price = rnd.choice(sorted(book))
                del book[price]
                ch.append((price, "0.00000000"))
                # The venue republishes the level that moves back into the depth.
                refill = (min(book) - 1) if buy else (max(book) + 1)
                qty = _size(rnd)
                book[refill] = qty
                ch.append((refill, qty))
            else:
                price = best + step * rnd.randint(0, 5)
                qty = _size(rnd)
                book[price] = qty
                ch.append((price, qty))
                while len(book) > depth:
                    del book[min(book) if buy else max(book)]
        out.append(frame("update", b_ch, a_ch, _clock(i)))
    return out


def _single_change_traffic(n: int) -> list[bytes]:
    """The replay suites' generator (one change per l2update, a match every 5th frame)
    after a snapshot that covers its price range."""
    from alphapulse_cli.bench.suites.traffic import coinbase_frames

    snapshot = coinbase_traffic(0, levels=3000)[0]
    return [snapshot, *coinbase_frames(n)]


def _rate(fn: Callable[[], int]) -> float:
    t0 = time.perf_counter()
    count = fn()
    dt = time.perf_counter() - t0
    return count / dt if dt > 0 else float("inf")


def _adapter_rate(venue: str, frames: list[bytes]) -> tuple[float, dict[str, int]]:
    adapter = make_adapter(venue)
    if venue == "kraken":  # as a capture starts: the protocol is known from the URL
        adapter.feed_session({"event": "connect", "url": "wss://ws.kraken.com/v2"}, T0)
    feed = adapter.feed
    feed(frames[0], T0)  # the snapshot is set-up, not throughput
    body = frames[1:]

    def run() -> int:
        for i, frame in enumerate(body):
            feed(frame, T0 + i)
        return len(body)

    return _rate(run), adapter.stats


def _session_rate(
    venue: str, sessions: list[bytes], frames: list[bytes], setup: int
) -> tuple[float, dict[str, int]]:
    """_adapter_rate for realistic traffic: the capture's session events and subscribes,
    then the snapshots (the first `setup` frames) as set-up."""
    import msgspec

    adapter = make_adapter(venue)
    adapter.feed_session(msgspec.json.decode(sessions[0]), T0)
    for msg in sessions[1:]:
        adapter.feed_outbound(msg, T0)
    feed = adapter.feed
    for frame in frames[:setup]:
        feed(frame, T0)
    body = frames[setup:]

    def run() -> int:
        for i, frame in enumerate(body):
            feed(frame, T0 + i)
        return len(body)

    return _rate(run), adapter.stats


def _json_rate(frames: list[bytes]) -> float:
    loads = json.loads
    body = frames[1:]

    def run() -> int:
        for frame in body:
            loads(frame)
        return len(body)

    return _rate(run)


def suite(ctx: BenchContext) -> list[Result]:
    """Normalized msgs/s per venue (decode, book, integrity, events) vs stdlib json.loads."""
    n = ctx.scale(200_000)
    out = []
    for label, venue, frames in (
        ("coinbase l2update+match", "coinbase", coinbase_traffic(n)),
        ("coinbase, 1 change per l2update", "coinbase", _single_change_traffic(n)),
        ("kraken v2 book+trade", "kraken", kraken_v2_traffic(n)),
    ):
        ours, ref = [], []
        stats: dict[str, int] = {}
        for i in range(ctx.repeats + 1):
            rate, stats = _adapter_rate(venue, frames)
            json_rate = _json_rate(frames)
            if i:  # the first round warms caches
                ours.append(rate)
                ref.append(json_rate)
        if stats.get("malformed") or stats.get("checksum_mismatch"):
            raise RuntimeError(f"bench traffic for {venue} is not clean: {stats}")
        out.append(
            Result(
                f"{label}",
                "msg/s",
                ours,
                reference=Result("json.loads (same frames)", "msg/s", ref),
                note=f"{len(frames) - 1} frames",
            )
        )
    out.extend(_realistic(ctx))
    out.extend(_events_end_to_end(ctx))
    return out


def _realistic(ctx: BenchContext) -> list[Result]:
    """Traffic shaped like the real feeds (bench/suites/realistic.py): two products,
    1,000-level snapshots, 70% single-change updates, Kraken book-1000 with checksums."""
    from alphapulse_cli.bench.suites.realistic import (
        coinbase_advanced,
        coinbase_realistic,
        kraken_realistic,
    )

    n = ctx.scale(100_000)
    cb = coinbase_realistic(n)
    out = []
    for label, venue, (sessions, frames), setup in (
        ("coinbase exchange, realistic", "coinbase", cb, 2),
        ("coinbase advanced, realistic", "coinbase", coinbase_advanced(cb[1]), 2),
        ("kraken v1 book-1000+trade, realistic", "kraken", kraken_realistic(n, "v1"), 2),
        ("kraken v2 book-1000+trade, realistic", "kraken", kraken_realistic(n, "v2"), 3),
    ):
        ours, ref = [], []
        stats: dict[str, int] = {}
        for i in range(ctx.repeats + 1):
            rate, stats = _session_rate(venue, sessions, frames, setup)
            json_rate = _json_rate(frames[setup - 1 :])
            if i:
                ours.append(rate)
                ref.append(json_rate)
        if stats.get("malformed") or stats.get("checksum_mismatch") or stats.get("gaps"):
            raise RuntimeError(f"realistic bench traffic for {venue} is not clean: {stats}")
        ref_result = Result("json.loads (same frames)", "msg/s", ref)
        note = f"{len(frames) - setup} frames"
        out.append(Result(label, "msg/s", ours, reference=ref_result, note=note))
    return out


def _events_end_to_end(ctx: BenchContext) -> list[Result]:
    """`alphapulse replay LOG --format events > /dev/null` with start-up taken off, and the
    same log read and derived in-process (reader + derive.iter_event_lines, no output)."""
    from alphapulse_cli.core.derive import iter_event_lines
    from alphapulse_cli.wslog.format import Kind, make_tag
    from alphapulse_cli.wslog.reader import iter_records
    from alphapulse_cli.wslog.writer import WslogWriter

    n = ctx.scale(1_000_000)
    frames = coinbase_traffic(n, seed=3)
    cli, inproc = [], []
    with scratch_dir(ctx, "parse-events") as d:
        log, empty = d / "cb.wslog", d / "empty.wslog"
        connect = b'{"event":"connect","url":"wss://ws-feed.exchange.coinbase.com"}'
        with WslogWriter(log) as w:
            w.write(T0, make_tag(1, Kind.EVENT), connect)
            for i, frame in enumerate(frames):
                w.write(T0 + 1000 + i * 50_000, make_tag(1, Kind.IN), frame)
        with WslogWriter(empty) as w:
            w.write(T0, make_tag(1, Kind.IN), frames[0])
        cmd = [sys.executable, "-m", "alphapulse_cli", "replay", "--format", "events"]
        for i in range(ctx.repeats + 1):
            t0 = time.perf_counter()
            subprocess.run([*cmd, str(empty)], stdout=subprocess.DEVNULL, check=True)
            startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            subprocess.run([*cmd, str(log)], stdout=subprocess.DEVNULL, check=True)
            dt = max(time.perf_counter() - t0 - startup, 1e-9)
            t0 = time.perf_counter()
            for _block in iter_event_lines(iter_records(log)):
                pass
            dt_in = time.perf_counter() - t0
            if i:
                cli.append(n / dt)
                inproc.append(n / dt_in)
    note = f"{n} frames (20% match, l2update of 1-3 changes)"
    return [
        Result("replay --format events (coinbase)", "msg/s", cli, note=note + ", start-up off"),
        Result("events in-process: reader + derive", "msg/s", inproc, note=note),
    ]
