"""The simulated market behind the local exchange: one L2 book per instrument, a random walk of
quotes and trades, and listeners (the venue sessions) told about every change as it happens.

Sans-I/O: no sockets, no clock. The caller sets the time (`set_time`) and calls `step` once
per event. Prices are integers in units of 10**-price_precision, quantities in units of
10**-qty_precision ("lots"), so every number a session prints is exact.

Each change is reported with its rank (0 = best) just after it is applied, so a session that
shows only the top N levels can decide on the spot whether its client must see the change,
and which level comes back into view when one inside it is removed.
"""

from __future__ import annotations

import random
import time
import zlib
from bisect import bisect_left
from collections import deque
from typing import Any, Protocol

from alphapulse_cli.core.times import ns_to_epoch_text, ns_to_rfc3339
from alphapulse_cli.exchange.instruments import Instrument
from alphapulse_cli.exchange.wire import fixed, uuid_text

BID, ASK = 0, 1
INSERT, UPDATE, DELETE = 0, 1, 2
BUY, SELL = 0, 1  # taker side of a trade
MIN_LEVELS = 20  # a side never shrinks below this many levels
TRADE_HISTORY = 50  # Kraken v2 trade snapshots hold the last 50 trades


class Listener(Protocol):
    def on_change(
        self, book: Book, side: int, price: int, lots: int, prev: int, rank: int, op: int
    ) -> None: ...

    def on_trades(self, book: Book, trades: list[Trade]) -> None: ...

    def on_event_end(self, book: Book) -> None: ...


class Trade:
    __slots__ = (
        "lots",
        "maker_order",
        "ord_type",
        "price",
        "seq",
        "taker",
        "taker_order",
        "trade_id",
        "ts_ns",
    )

    def __init__(
        self,
        trade_id: int,
        price: int,
        lots: int,
        taker: int,
        ts_ns: int,
        ord_type: str,
        seq: int,
        maker_order: str = "",
        taker_order: str = "",
    ) -> None:
        self.trade_id = trade_id
        self.price = price
        self.lots = lots
        self.taker = taker
        self.ts_ns = ts_ns
        self.ord_type = ord_type
        self.seq = seq
        self.maker_order = maker_order
        self.taker_order = taker_order


class Book:
    """One instrument's full book plus its trade and sequence counters."""

    def __init__(self, idx: int, inst: Instrument) -> None:
        self.idx = idx
        self.inst = inst
        self.symbol = inst.symbol
        self.pp = inst.price_precision
        self.qp = inst.qty_precision
        self.tick = inst.tick_units
        self.bids: list[int] = []  # ascending: the best bid is last
        self.asks: list[int] = []  # ascending: the best ask is first
        self.qty: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.since: tuple[dict[int, int], dict[int, int]] = ({}, {})  # ns of a level's last change
        self.listeners: list[Listener] = []
        self.now_ns = 0
        self.top_version = [0, 0]  # per side, bumped whenever its top 10 may have changed
        self._ck: dict[str, list[Any]] = {}
        self._ptxt: dict[int, str] = {}
        self._p1txt: dict[int, str] = {}
        self._qscale = 10**self.qp
        self._qfmt = f"%d.%0{self.qp}d" if self.qp else "%d%.0s"
        self.size_scale = 1
        self.seq = 0  # Coinbase full-channel sequence: advances on every event, seen in jumps
        self.last_trade_id = 0
        self.trades: deque[Trade] = deque(maxlen=TRADE_HISTORY)
        self.open_24h = self.high_24h = self.low_24h = 0
        self.volume_24h = 0

    # ---- reading
    def side_len(self, side: int) -> int:
        return len(self.asks) if side else len(self.bids)

    def level_at(self, side: int, rank: int) -> tuple[int, int] | None:
        ticks = self.asks if side else self.bids
        if rank >= len(ticks):
            return None
        price = ticks[rank] if side else ticks[-1 - rank]
        return price, self.qty[side][price]

    def top(self, side: int, n: int | None = None) -> list[tuple[int, int]]:
        """Levels best first; all of them when `n` is None."""
        q = self.qty[side]
        if side:
            prices = self.asks if n is None else self.asks[:n]
        else:
            prices = self.bids[::-1] if n is None else self.bids[: -n - 1 : -1]
        return [(p, q[p]) for p in prices]

    def ptxt(self, price: int) -> str:
        t = self._ptxt.get(price)
        if t is None:
            if len(self._ptxt) > 50_000:
                self._ptxt.clear()
            t = self._ptxt[price] = fixed(price, self.pp)
        return t

    def p1txt(self, price: int) -> str:
        """Kraken v1 price text: at least five decimals ("5541.30000")."""
        t = self._p1txt.get(price)
        if t is None:
            if len(self._p1txt) > 50_000:
                self._p1txt.clear()
            extra = self.inst.v1_price_decimals - self.pp
            t = self._p1txt[price] = fixed(price * 10**extra, self.pp + extra)
        return t

    def qtxt(self, lots: int) -> str:
        return self._qfmt % divmod(lots, self._qscale)

    def checksum_v2(self) -> int:
        """Kraken v2 CRC32 of the current top 10, numbers at the instrument's precision."""
        return self._checksum("v2", "")

    def checksum_v1(self) -> int:
        """Kraken v1 CRC32 of the current top 10, over the strings v1 sends."""
        return self._checksum("v1", "0" * (self.inst.v1_price_decimals - self.pp))

    def _checksum(self, kind: str, zeros: str) -> int:
        # Kraken's algorithm (adapters.kraken_checksum) strips '.' and leading zeros from each
        # number printed at full precision; for a positive integer u, fixed(u, p) stripped so
        # is exactly str(u). So the CRC input is the digits of the integers themselves, and
        # each side's digits are rebuilt only when that side's top 10 changed. Tests check
        # the result against kraken_checksum on the printed text.
        c = self._ck.get(kind)
        if c is None:
            c = self._ck[kind] = [-1, -1, "", "", 0]
        vb, va = self.top_version
        if c[0] == vb and c[1] == va:
            return c[4]
        if c[0] != vb:
            q = self.qty[BID]
            c[2] = "".join([f"{p}{zeros}{q[p]}" for p in self.bids[:-11:-1]])
            c[0] = vb
        if c[1] != va:
            q = self.qty[ASK]
            c[3] = "".join([f"{p}{zeros}{q[p]}" for p in self.asks[:10]])
            c[1] = va
        c[4] = zlib.crc32((c[3] + c[2]).encode()) & 0xFFFFFFFF
        return c[4]

    # ---- writing
    def apply(self, side: int, price: int, lots: int) -> None:
        """Set the level at `price` to `lots` (0 removes it) and tell the listeners."""
        q = self.qty[side]
        prev = q.get(price, 0)
        ticks = self.asks if side else self.bids
        if lots:
            q[price] = lots
            self.since[side][price] = self.now_ns
            i = bisect_left(ticks, price)
            if prev:
                op = UPDATE
            else:
                op = INSERT
                ticks.insert(i, price)
            rank = i if side else len(ticks) - 1 - i
        else:
            if not prev:
                return
            del q[price]
            self.since[side].pop(price, None)
            i = bisect_left(ticks, price)
            del ticks[i]
            op = DELETE
            rank = i if side else len(ticks) - i  # rank it had before the removal
        if rank < 10:
            self.top_version[side] += 1
        for listener in self.listeners:
            listener.on_change(self, side, price, lots, prev, rank, op)


class Market:
    """All books of one venue and the random walk that moves them."""

    def __init__(
        self,
        venue: str,
        instruments: list[Instrument],
        *,
        seed: int = 0,
        levels: int = 400,
        trade_share: float = 0.1,
        now_ns: int | None = None,
    ) -> None:
        self.venue = venue
        self.rng = random.Random(seed)
        self.levels = max(levels, 2 * MIN_LEVELS)
        self.trade_share = trade_share
        self.books = [Book(i, inst) for i, inst in enumerate(instruments)]
        self.by_symbol = {b.symbol: b for b in self.books}
        self.by_v1_symbol = {b.inst.v1_symbol: b for b in self.books}
        self.active: list[Book] = []
        self.now_ns = 0
        self._iso: tuple[int, str] = (-1, "")
        self._epoch: tuple[int, str] = (-1, "")
        self.set_time(time.time_ns() if now_ns is None else now_ns)
        for b in self.books:
            self._fill(b)

    # ---- clock
    def set_time(self, ns: int) -> None:
        self.now_ns = ns
        for b in self.books:
            b.now_ns = ns

    @property
    def iso(self) -> str:
        if self._iso[0] != self.now_ns:
            self._iso = (self.now_ns, ns_to_rfc3339(self.now_ns))
        return self._iso[1]

    @property
    def epoch(self) -> str:
        if self._epoch[0] != self.now_ns:
            self._epoch = (self.now_ns, ns_to_epoch_text(self.now_ns))
        return self._epoch[1]

    # ---- listeners
    def attach(self, book: Book, listener: Listener) -> None:
        if listener not in book.listeners:
            book.listeners.append(listener)
        self.active = [b for b in self.books if b.listeners]

    def detach(self, book: Book, listener: Listener) -> None:
        if listener in book.listeners:
            book.listeners.remove(listener)
        self.active = [b for b in self.books if b.listeners]

    # ---- the walk
    def step(self) -> None:
        """One market event on a random book that someone watches."""
        active = self.active
        if not active:
            return
        rng = self.rng
        book = active[int(rng.random() * len(active))]
        book.seq += 1 + int(rng.expovariate(0.25))
        if rng.random() < self.trade_share:
            trades = self._trade(book)
            if trades:
                for listener in book.listeners:
                    listener.on_trades(book, trades)
        else:
            self._quote(book)
        for listener in book.listeners:
            listener.on_event_end(book)

    def _size(self, b: Book) -> int:
        return max(1, int(b.size_scale * self.rng.expovariate(1.0)))

    def _quote(self, b: Book) -> None:
        rng = self.rng
        u = rng.random()
        if u < 0.05:
            # A market maker re-quotes both sides at once: one message with bids and asks.
            for side in (BID, ASK):
                self._resize(b, side, min(int(rng.expovariate(0.5)), b.side_len(side) - 1))
            return
        side = ASK if rng.random() < 0.5 else BID
        ticks = b.asks if side else b.bids
        n = len(ticks)
        tick = b.tick
        if u < 0.13:
            # The far end: cancel the worst level or add one beyond it, which keeps the depth
            # near its target while the top of the book wanders.
            worst = ticks[-1] if side else ticks[0]
            if n > self.levels:
                b.apply(side, worst, 0)
                return
            gap = tick * (1 + int(rng.expovariate(0.6)))
            price = worst + gap if side else worst - gap
            if price > 0:
                b.apply(side, price, self._size(b))
            return
        if u < 0.3:
            best = ticks[0] if side else ticks[-1]
            spread = (b.asks[0] - b.bids[-1]) // tick
            d = int(rng.expovariate(0.25))
            if spread > 1 and (d == 0 or (spread > 8 and rng.random() < 0.5)):
                step = 1 + int(rng.random() * min(spread - 1, 3))
                price = best - step * tick if side else best + step * tick
            else:
                d = max(d, 1)
                price = best + d * tick if side else best - d * tick
            if price > 0:
                prev = b.qty[side].get(price, 0)
                b.apply(side, price, prev + self._size(b))
            return
        k = min(int(rng.expovariate(1 / 3)), n - 1)
        if u < 0.5 and n > MIN_LEVELS:
            b.apply(side, ticks[k] if side else ticks[n - 1 - k], 0)
            return
        self._resize(b, side, k)

    def _resize(self, b: Book, side: int, rank: int) -> None:
        """An order added to or cancelled from the level at `rank`."""
        rng = self.rng
        ticks = b.asks if side else b.bids
        price = ticks[rank] if side else ticks[len(ticks) - 1 - rank]
        prev = b.qty[side][price]
        if rng.random() < 0.5:
            b.apply(side, price, prev + self._size(b))
        else:
            b.apply(side, price, max(1, int(prev * rng.random())))

    def _trade(self, b: Book) -> list[Trade]:
        rng = self.rng
        taker = BUY if rng.random() < 0.5 else SELL
        side = ASK if taker == BUY else BID  # a buyer takes asks
        ticks = b.asks if side else b.bids
        q = b.qty[side]
        fills = 1 if rng.random() < 0.8 else 2
        ord_type = "market" if rng.random() < 0.6 else "limit"
        coinbase = self.venue == "coinbase"
        taker_order = uuid_text(rng.getrandbits(128)) if coinbase else ""
        out: list[Trade] = []
        for f in range(fills):
            n = len(ticks)
            price = ticks[0] if side else ticks[-1]
            avail = q[price]
            full = f < fills - 1 or avail == 1 or rng.random() < 0.35
            if full and n <= MIN_LEVELS and avail > 1:
                full = False
            take = avail if full else max(1, int(avail * rng.random()))
            b.last_trade_id += 1
            maker_order = uuid_text(rng.getrandbits(128)) if coinbase else ""
            out.append(
                Trade(
                    b.last_trade_id,
                    price,
                    take,
                    taker,
                    b.now_ns,
                    ord_type,
                    b.seq,
                    maker_order,
                    taker_order,
                )
            )
            b.apply(side, price, avail - take)
            b.volume_24h += take
            if price > b.high_24h:
                b.high_24h = price
            elif price < b.low_24h:
                b.low_24h = price
        b.trades.extend(out)
        return out

    def _fill(self, b: Book) -> None:
        """The opening book: `levels` levels a side around the start price, plus a trade history."""
        rng = self.rng
        mid = b.inst.start_units()
        tick = b.tick
        scale = b.inst.price_scale
        # Typical level: about 5,000 quote units.
        b.size_scale = max(1, 5_000 * 10**b.qp * scale // max(mid, 1))
        price = mid - tick
        bids = []
        for _ in range(self.levels):
            if price <= 0:
                break
            bids.append(price)
            price -= tick * (1 + int(rng.expovariate(0.6)))
        price = mid + tick
        asks = []
        for _ in range(self.levels):
            asks.append(price)
            price += tick * (1 + int(rng.expovariate(0.6)))
        b.bids = bids[::-1]
        b.asks = asks
        now = self.now_ns
        for side, prices in ((BID, bids), (ASK, asks)):
            q, since = b.qty[side], b.since[side]
            for p in prices:
                q[p] = self._size(b)
                since[p] = now - int(rng.random() * 60e9)
        b.seq = rng.randint(10**9, 9 * 10**10)
        coinbase = self.venue == "coinbase"
        b.last_trade_id = (
            rng.randint(10**8, 9 * 10**8) if coinbase else rng.randint(10**6, 9 * 10**7)
        )
        b.open_24h = b.high_24h = b.low_24h = mid
        b.volume_24h = b.size_scale * 4_000
        start_id = b.last_trade_id - TRADE_HISTORY + 1
        for k in range(TRADE_HISTORY):
            taker = BUY if rng.random() < 0.5 else SELL
            price = asks[0] if taker == BUY else bids[0]
            b.trades.append(
                Trade(
                    start_id + k,
                    price,
                    self._size(b),
                    taker,
                    now - (TRADE_HISTORY - k) * 1_200_000_000,
                    "limit",
                    b.seq - (TRADE_HISTORY - k) * 7,
                    uuid_text(rng.getrandbits(128)) if coinbase else "",
                    uuid_text(rng.getrandbits(128)) if coinbase else "",
                )
            )
