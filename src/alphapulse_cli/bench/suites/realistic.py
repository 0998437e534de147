"""Realistic venue traffic for the parse and peers suites (and the differential tests): two
or more products, snapshots of 1,000 levels a side, 70% single-change updates of which 30%
remove a level, 10% updates of 2-3 changes, 20% trades with consecutive ids; Kraken books
with a valid checksum on every update (v1: the wire text; v2: JSON numbers at the
instrument's precision, trailing zeros kept).

Each generator returns `(sessions, frames)`: the session events and subscribe messages a
capture would have logged before the first frame, and the frames, first the snapshots.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_left, insort

from alphapulse_cli.adapters.kraken_checksum import checksum_from_text

_PRODUCTS = {"BTC-USD": 6_700_000, "ETH-USD": 350_000, "SOL-USD": 15_000}  # in cents
_KRAKEN = {"BTC-USD": "BTC/USD", "ETH-USD": "ETH/USD", "SOL-USD": "SOL/USD"}
_KRAKEN_V1 = {"BTC-USD": "XBT/USD", "ETH-USD": "ETH/USD", "SOL-USD": "SOL/USD"}
T0_SECONDS = 1_767_225_600  # 2026-01-01T00:00Z


def _size(rnd: random.Random) -> str:
    return f"{rnd.randint(0, 5)}.{rnd.randint(1, 99_999_999):08d}"


def _clock(i: int) -> str:
    hh, mm, ss = (i // 3_600_000) % 24, (i // 60_000) % 60, (i // 1000) % 60
    return f"2026-01-01T{hh:02d}:{mm:02d}:{ss:02d}.{i * 37 % 1_000_000:06d}Z"


def _epoch(i: int) -> str:
    return f"{T0_SECONDS + i // 1000}.{i * 37 % 1_000_000:06d}"


class _Side:
    """One side of a generated book: price cents -> size text, with the keys kept sorted."""

    def __init__(self, bid: bool) -> None:
        self.bid = bid
        self.sizes: dict[int, str] = {}
        self.keys: list[int] = []  # ascending

    def set(self, price: int, size: str | None) -> None:
        if size is None:
            if self.sizes.pop(price, None) is not None:
                del self.keys[bisect_left(self.keys, price)]
            return
        if price not in self.sizes:
            insort(self.keys, price)
        self.sizes[price] = size

    def best(self, n: int) -> list[int]:
        return self.keys[::-1][:n] if self.bid else self.keys[:n]

    def worst(self) -> int:
        return self.keys[0] if self.bid else self.keys[-1]


class _Book:
    def __init__(self, mid: int, levels: int, rnd: random.Random) -> None:
        self.bids, self.asks = _Side(True), _Side(False)
        for i in range(levels):
            self.bids.set(mid - 1 - i, _size(rnd))
            self.asks.set(mid + i, _size(rnd))
        self.mid = mid


def _changes(
    book: _Book, rnd: random.Random, depth: int | None
) -> list[tuple[bool, int, str | None]]:
    """One update's changes as (bid, price cents, size or None to remove): 7 in 8 frames
    change one level (30% of them removing one), the others 2-3. A removal in a book kept
    `depth` deep brings back the level that moves into the depth, as Kraken sends it."""
    out: list[tuple[bool, int, str | None]] = []
    count = 1 if rnd.random() < 0.875 else rnd.choice((2, 3))
    for _ in range(count):
        bid = rnd.random() < 0.5
        side = book.bids if bid else book.asks
        if rnd.random() < 0.3 and len(side.keys) > 20:
            k = int(rnd.expovariate(1 / 15)) % len(side.keys)  # near the touch
            price = side.keys[-1 - k] if bid else side.keys[k]
            side.set(price, None)
            out.append((bid, price, None))
            if depth is not None:
                refill = side.worst() - 1 if bid else side.worst() + 1
                size = _size(rnd)
                side.set(refill, size)
                out.append((bid, refill, size))
            continue
        best = side.best(1)[0]
        d = int(rnd.expovariate(1 / 20))
        price = best - d if bid else best + d
        other = book.asks if bid else book.bids
        if other.keys and (price >= other.best(1)[0] if bid else price <= other.best(1)[0]):
            price = best
        size = _size(rnd)
        side.set(price, size)
        out.append((bid, price, size))
        if depth is not None:
            while len(side.keys) > depth:
                side.set(side.worst(), None)
    return out


def _trade_price(book: _Book, rnd: random.Random) -> tuple[int, bool]:
    buy = rnd.random() < 0.5
    return (book.asks.best(1)[0] if buy else book.bids.best(1)[0]), buy


def coinbase_realistic(
    n: int, products: int = 2, levels: int = 1000, seed: int = 21
) -> tuple[list[bytes], list[bytes]]:
    """Coinbase Exchange: level2 snapshots, then l2update and match frames."""
    rnd = random.Random(seed)
    names = list(_PRODUCTS)[:products]
    books = {p: _Book(_PRODUCTS[p], levels, rnd) for p in names}
    tids = {p: 900_000_000 + 10_000_000 * i for i, p in enumerate(names)}

    def px(c: int) -> str:
        return f"{c // 100}.{c % 100:02d}"

    sessions = [b'{"event":"connect","url":"wss://ws-feed.exchange.coinbase.com"}']
    frames = []
    for p, b in books.items():
        snap = {
            "type": "snapshot",
            "product_id": p,
            "bids": [[px(k), b.bids.sizes[k]] for k in b.bids.best(levels)],
            "asks": [[px(k), b.asks.sizes[k]] for k in b.asks.best(levels)],
        }
        frames.append(json.dumps(snap, separators=(",", ":")).encode())
    for i in range(n):
        p = rnd.choice(names)
        book = books[p]
        if rnd.random() < 0.2:
            tids[p] += 1
            price, buy = _trade_price(book, rnd)
            maker = "sell" if buy else "buy"
            frames.append(
                (
                    f'{{"type":"match","trade_id":{tids[p]},'
                    '"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8",'
                    '"taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1",'
                    f'"side":"{maker}","size":"{_size(rnd)}","price":"{px(price)}",'
                    f'"product_id":"{p}","sequence":{80_000_000_000 + i},"time":"{_clock(i)}"}}'
                ).encode()
            )
            continue
        changes = ",".join(
            f'["{"buy" if bid else "sell"}","{px(c)}","{s or "0.00000000"}"]'
            for bid, c, s in _changes(book, rnd, None)
        )
        frames.append(
            (
                f'{{"type":"l2update","product_id":"{p}","changes":[{changes}],'
                f'"time":"{_clock(i)}"}}'
            ).encode()
        )
    return sessions, frames


def kraken_realistic(
    n: int, version: str = "v2", products: int = 2, depth: int = 1000, seed: int = 23
) -> tuple[list[bytes], list[bytes]]:
    """Kraken v1 or v2 book-`depth` and trade channels, every update checksummed."""
    rnd = random.Random(seed)
    names = list(_PRODUCTS)[:products]
    books = {p: _Book(_PRODUCTS[p] * 10, depth, rnd) for p in names}  # tenths of a cent
    tids = {p: 4_000_000 + 1_000_000 * i for i, p in enumerate(names)}
    v1 = version == "v1"
    pairs = _KRAKEN_V1 if v1 else _KRAKEN

    def px(t: int) -> str:  # price_precision 3 in v2; v1 sends 5 decimals
        return f"{t // 1000}.{t % 1000:03d}" + ("00" if v1 else "")

    def crc(book: _Book) -> int:
        a = [(px(k), book.asks.sizes[k]) for k in book.asks.best(10)]
        b = [(px(k), book.bids.sizes[k]) for k in book.bids.best(10)]
        return checksum_from_text(a, b)

    syms = [pairs[p] for p in names]
    if v1:
        sub: dict[str, object] = {
            "event": "subscribe",
            "pair": syms,
            "subscription": {"name": "book", "depth": depth},
        }
        sessions = [
            b'{"event":"connect","url":"wss://ws.kraken.com"}',
            json.dumps(sub, separators=(",", ":")).encode(),
        ]
    else:
        params: dict[str, object] = {
            "channel": "book",
            "symbol": syms,
            "depth": depth,
            "snapshot": True,
        }
        sub = {"method": "subscribe", "params": params, "req_id": 1}
        sessions = [
            b'{"event":"connect","url":"wss://ws.kraken.com/v2"}',
            json.dumps(sub, separators=(",", ":")).encode(),
        ]
    frames: list[bytes] = []
    if not v1:
        inst = [{"symbol": pairs[p], "price_precision": 3, "qty_precision": 8} for p in names]
        frames.append(
            json.dumps(
                {"channel": "instrument", "type": "snapshot", "data": {"pairs": inst}},
                separators=(",", ":"),
            ).encode()
        )

    def v1_levels(levels: list[tuple[int, str]], i: int) -> str:
        return ",".join(f'["{px(c)}","{s}","{_epoch(i)}"]' for c, s in levels)

    def v2_levels(levels: list[tuple[int, str]]) -> str:
        return ",".join(f'{{"price":{px(c)},"qty":{s}}}' for c, s in levels)

    chan = 336
    for p, b in books.items():
        bl = [(k, b.bids.sizes[k]) for k in b.bids.best(depth)]
        al = [(k, b.asks.sizes[k]) for k in b.asks.best(depth)]
        if v1:
            frames.append(
                f'[{chan},{{"as":[{v1_levels(al, 0)}],"bs":[{v1_levels(bl, 0)}]}},'
                f'"book-{depth}","{pairs[p]}"]'.encode()
            )
        else:
            frames.append(
                (
                    f'{{"channel":"book","type":"snapshot","data":[{{"symbol":"{pairs[p]}",'
                    f'"bids":[{v2_levels(bl)}],"asks":[{v2_levels(al)}],"checksum":{crc(b)},'
                    f'"timestamp":"{_clock(0)}"}}]}}'
                ).encode()
            )
    for i in range(n):
        p = rnd.choice(names)
        book, vs = books[p], pairs[p]
        if rnd.random() < 0.2:
            tids[p] += 1
            price, buy = _trade_price(book, rnd)
            if v1:
                frames.append(
                    f'[337,[["{px(price)}","{_size(rnd)}","{_epoch(i)}","{"b" if buy else "s"}",'
                    f'"l",""]],"trade","{vs}"]'.encode()
                )
            else:
                frames.append(
                    (
                        '{"channel":"trade","type":"update","data":[{'
                        f'"symbol":"{vs}","side":"{"buy" if buy else "sell"}",'
                        f'"price":{px(price)},"qty":{_size(rnd)},"ord_type":"limit",'
                        f'"trade_id":{tids[p]},"timestamp":"{_clock(i)}"}}]}}'
                    ).encode()
                )
            continue
        ch = _changes(book, rnd, depth)
        bids = [(c, s or "0.00000000") for bid, c, s in ch if bid]
        asks = [(c, s or "0.00000000") for bid, c, s in ch if not bid]
        if v1:
            parts = []
            if asks:
                parts.append(f'"a":[{v1_levels(asks, i)}]')
            if bids:
                parts.append(f'"b":[{v1_levels(bids, i)}]')
            if len(parts) == 2:  # both sides: two payload objects, the checksum in the last
                body = f'{{{parts[0]}}},{{{parts[1]},"c":"{crc(book)}"}}'
            else:
                body = f'{{{parts[0]},"c":"{crc(book)}"}}'
            frames.append(f'[{chan},{body},"book-{depth}","{vs}"]'.encode())
        else:
            frames.append(
                (
                    f'{{"channel":"book","type":"update","data":[{{"symbol":"{vs}",'
                    f'"bids":[{v2_levels(bids)}],"asks":[{v2_levels(asks)}],'
                    f'"checksum":{crc(book)},"timestamp":"{_clock(i)}"}}]}}'
                ).encode()
            )
    return sessions, frames


def coinbase_advanced(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """The same traffic as Advanced Trade frames (l2_data, market_trades): what peers that
    speak only that protocol read. One sequence number across channels, as the venue sends."""
    sessions = [b'{"event":"connect","url":"wss://advanced-trade-ws.coinbase.com"}']
    out = []
    sides = {"buy": "bid", "sell": "offer"}
    for seq, frame in enumerate(frames):
        msg = json.loads(frame)
        kind = msg["type"]
        if kind == "snapshot":
            updates = [
                {
                    "side": side,
                    "event_time": "1970-01-01T00:00:00Z",
                    "price_level": p,
                    "new_quantity": q,
                }
                for side, levels in (("bid", msg["bids"]), ("offer", msg["asks"]))
                for p, q in levels
            ]
            events = [{"type": "snapshot", "product_id": msg["product_id"], "updates": updates}]
            channel, ts = "l2_data", "2026-01-01T00:00:00.000000Z"
        elif kind == "l2update":
            updates = [
                {"side": sides[s], "event_time": msg["time"], "price_level": p, "new_quantity": q}
                for s, p, q in msg["changes"]
            ]
            events = [{"type": "update", "product_id": msg["product_id"], "updates": updates}]
            channel, ts = "l2_data", msg["time"]
        else:
            trade = {
                "trade_id": str(msg["trade_id"]),
                "product_id": msg["product_id"],
                "price": msg["price"],
                "size": msg["size"],
                "side": "SELL" if msg["side"] == "buy" else "BUY",  # the taker's
                "time": msg["time"],
            }
            events = [{"type": "update", "trades": [trade]}]
            channel, ts = "market_trades", msg["time"]
        adv = {
            "channel": channel,
            "client_id": "",
            "timestamp": ts,
            "sequence_num": seq,
            "events": events,
        }
        out.append(json.dumps(adv, separators=(",", ":")).encode())
    return sessions, out
