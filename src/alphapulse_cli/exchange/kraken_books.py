"""What Kraken v1 and v2 share: a depth-limited view of each book, checksums, heartbeats, the
idle timeout, and the gap and checksum faults.

The client of a depth-D subscription holds exactly the top D levels of each side. So a change
is sent only if it lands inside them; when a level inside them is removed and the side is
deeper than D, the level that comes back into view is sent with it (v1 marks it "r",
republish); when an insert pushes the D-th level out, nothing is sent for it (clients
truncate, Kraken sends no qty 0 for it). The checksum over the top 10 is then the same as the
full book's, because D >= 10.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any

from alphapulse_cli.adapters.kraken_checksum import checksum_from_text
from alphapulse_cli.exchange.market import ASK, BID, DELETE, INSERT, Book, Trade
from alphapulse_cli.exchange.session import Session

DEPTHS = (10, 25, 100, 500, 1000)
REPUBLISH, TRUNCATED = 1, 2  # flags of a pending entry (TRUNCATED: left the view, not sent)
MAX_MASKED = 20  # a gap left invisible by this many follow-ups in a row is given up
IDLE_CLOSE = 1000

Entry = tuple[int, int, int, int, int]  # side, price, lots, previous lots, flag
View = tuple[dict[int, int], dict[int, int]]  # bids, asks: price -> lots


class BookSub:
    __slots__ = (
        "book",
        "channel_id",
        "depth",
        "last_ck",
        "masked",
        "pending",
        "shadow",
        "wire_symbol",
    )

    def __init__(self, book: Book, depth: int, wire_symbol: str, channel_id: int = 0) -> None:
        self.book = book
        self.depth = depth
        self.wire_symbol = wire_symbol
        self.channel_id = channel_id
        self.pending: list[Entry] = []
        self.last_ck = -1  # checksum of the last book message sent
        self.shadow: View | None = None  # the client's book while a skipped update is pending
        self.masked = 0


class KrakenSession(Session):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.books: dict[int, BookSub] = {}
        self.trades: dict[int, tuple[str, int]] = {}  # book idx -> (wire symbol, channel id)
        self.book_updates = 0  # ordinal, for the skip and corrupt faults
        self.skip_from = sorted(self.faults.skip)
        self.corrupt = set(self.faults.corrupt)
        self.heartbeats = False  # the venue sends heartbeats once anything is subscribed

    # ---- per dialect
    @abstractmethod
    def checksum(self, book: Book) -> int: ...

    @abstractmethod
    def level_text(self, book: Book, price: int, lots: int) -> tuple[str, str]: ...

    @abstractmethod
    def send_update(self, sub: BookSub, entries: list[Entry], checksum: int) -> None: ...

    @abstractmethod
    def send_trades(self, book: Book, wire: tuple[str, int], trades: list[Trade]) -> None: ...

    @abstractmethod
    def heartbeat(self) -> bytes: ...

    # ---- subscriptions
    def watch_book(self, sub: BookSub) -> None:
        self.books[sub.book.idx] = sub
        sub.last_ck = self.checksum(sub.book)
        self.heartbeats = True
        self.attach(sub.book)

    def watch_trades(self, book: Book, wire: tuple[str, int]) -> None:
        self.trades[book.idx] = wire
        self.heartbeats = True
        self.attach(book)

    def unwatch(self, book: Book, channel: str) -> None:
        if channel == "book":
            self.books.pop(book.idx, None)
        else:
            self.trades.pop(book.idx, None)
        if book.idx not in self.books and book.idx not in self.trades:
            self.detach(book)

    # ---- market listener
    def on_change(
        self, book: Book, side: int, price: int, lots: int, prev: int, rank: int, op: int
    ) -> None:
        sub = self.books.get(book.idx)
        if sub is None:
            return
        depth = sub.depth
        if rank >= depth:
            return
        pending = sub.pending
        pending.append((side, price, lots, prev, 0))
        if op == DELETE:
            back = book.level_at(side, depth - 1)
            if back is not None:
                pending.append((side, back[0], back[1], 0, REPUBLISH))
        elif op == INSERT:
            out = book.level_at(side, depth)
            if out is not None:
                pending.append((side, out[0], out[1], out[1], TRUNCATED))

    def on_trades(self, book: Book, trades: list[Trade]) -> None:
        wire = self.trades.get(book.idx)
        if wire is not None:
            self.send_trades(book, wire, trades)
            self.stats.last_trade_id[book.symbol] = trades[-1].trade_id

    def on_event_end(self, book: Book) -> None:
        sub = self.books.get(book.idx)
        if sub is None or not sub.pending:
            return
        entries = sub.pending
        sub.pending = []
        ck = self.checksum(book)
        self.book_updates += 1
        if sub.shadow is not None:
            if self._still_masked(sub, entries, ck):
                self.stats.skipped += 1
                return
            sub.shadow = None
        elif self.skip_from and self.book_updates >= self.skip_from[0] and ck != sub.last_ck:
            self.skip_from.pop(0)
            sub.shadow = self._view_before(sub, entries)
            sub.masked = 0
            self.stats.skipped += 1
            self.stats.gaps.append({"symbol": book.symbol, "update": self.book_updates})
            return
        sub.last_ck = ck
        if self.book_updates in self.corrupt:
            ck = (ck + 1) & 0xFFFFFFFF
            self.stats.corrupted += 1
        self.send_update(sub, entries, ck)

    # ---- the gap fault
    def _view_before(self, sub: BookSub, entries: list[Entry]) -> View:
        """The client's book before this update: today's top D with the update undone."""
        book, depth = sub.book, sub.depth
        view: View = (dict(book.top(BID, depth)), dict(book.top(ASK, depth)))
        for side, price, lots, prev, flag in reversed(entries):
            levels = view[side]
            if flag == TRUNCATED:
                levels[price] = lots
            elif flag == REPUBLISH or not prev:
                levels.pop(price, None)
            else:
                levels[price] = prev
        return view

    def _still_masked(self, sub: BookSub, entries: list[Entry], ck: int) -> bool:
        """Would the client, missing the skipped update, still match this update's checksum?
        If so this one is withheld too, so the first checksum the client sees after a skip
        is one its book fails."""
        assert sub.shadow is not None
        trial: View = (dict(sub.shadow[0]), dict(sub.shadow[1]))
        for side, price, lots, _prev, flag in entries:
            if flag == TRUNCATED:
                continue
            if lots:
                trial[side][price] = lots
            else:
                trial[side].pop(price, None)
        bids = sorted(trial[BID], reverse=True)
        asks = sorted(trial[ASK])
        text = self.level_text
        b, a = trial[BID], trial[ASK]
        client_ck = checksum_from_text(
            [text(sub.book, p, a[p]) for p in asks[:10]],
            [text(sub.book, p, b[p]) for p in bids[:10]],
        )
        if client_ck != ck or sub.masked >= MAX_MASKED:
            return False
        sub.masked += 1
        return True

    # ---- timers
    def on_clock(self, now_ns: int) -> None:
        s = self.settings
        if (
            s.idle_timeout
            and now_ns - self.last_in_ns > s.idle_timeout * 1e9
            and self.close_request is None
        ):
            self.close_request = (IDLE_CLOSE, "idle timeout")
            return
        if self.heartbeats and now_ns - self.last_out_ns >= s.heartbeat_interval * 1e9:
            self.emit(self.heartbeat(), "heartbeat")

    def parse(self, data: str | bytes) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            return None
