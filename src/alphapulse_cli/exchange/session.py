"""What every venue session shares: the outbox, timers, stats and the listener defaults.

A session is the sans-I/O protocol of one client connection. The server shell feeds it the
client's messages (`receive`) and the time (`on_clock`); the market calls it on every change.
It answers by appending encoded frames to `out`, which the shell writes in bursts, and by
setting `close_request` when the venue would hang up.
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from alphapulse_cli.exchange.faults import Faults
from alphapulse_cli.exchange.instruments import instrument
from alphapulse_cli.exchange.market import Book, Market, Trade
from alphapulse_cli.exchange.stats import ConnStats

SUBSCRIBE_TIMEOUT_CLOSE = 1008


@dataclass(frozen=True)
class Settings:
    subscribe_timeout: float = 5.0  # Coinbase: subscribe within 5 s or be disconnected
    idle_timeout: float = 60.0  # Kraken: about a minute without a client request closes
    heartbeat_interval: float = 1.0
    batch_interval: float = 0.05  # Coinbase level2_batch
    seed: int = 0


def dumps(obj: Any, sort_keys: bool = False) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys).encode()


class Session(ABC):
    dialect = ""

    def __init__(
        self, market: Market, stats: ConnStats, faults: Faults, settings: Settings, now_ns: int
    ) -> None:
        self.market = market
        self.stats = stats
        self.faults = faults
        self.settings = settings
        self.rng = random.Random(settings.seed * 1_000_003 + stats.conn_id)
        self.out: list[bytes] = []
        self.opened_ns = now_ns
        self.last_in_ns = now_ns
        self.last_out_ns = now_ns
        self.close_request: tuple[int, str] | None = None
        self.refused = {instrument(market.venue, s).symbol for s in faults.refuse}
        self._attached: set[int] = set()

    def client_json(self, data: str | bytes, now_ns: int) -> Any:
        """A client message decoded (None when it is not JSON); notes when it came."""
        self.last_in_ns = now_ns
        try:
            return json.loads(data)
        except ValueError:
            return None

    def subscribed_in_time(self, subscribed: bool, now_ns: int) -> bool:
        """Coinbase's rule (both feeds): a connection that has not subscribed within the
        deadline is closed. True once it has subscribed, so its timers may run."""
        if subscribed:
            return True
        deadline = self.opened_ns + self.settings.subscribe_timeout * 1e9
        if now_ns > deadline and self.close_request is None:
            self.close_request = (SUBSCRIBE_TIMEOUT_CLOSE, "no subscribe within the deadline")
        return False

    def emit(self, frame: bytes, kind: str) -> None:
        self.out.append(frame)
        by_type = self.stats.by_type
        by_type[kind] = by_type.get(kind, 0) + 1
        self.last_out_ns = self.market.now_ns

    def lookup(self, symbol: Any, table: dict[str, Book]) -> Book | None:
        """The book for a symbol the client named, or None if unknown or refused by a fault."""
        if not isinstance(symbol, str):
            return None
        book = table.get(symbol)
        if book is None or book.symbol in self.refused:
            return None
        return book

    def attach(self, book: Book) -> None:
        self._attached.add(book.idx)
        self.market.attach(book, self)

    def detach(self, book: Book) -> None:
        self._attached.discard(book.idx)
        self.market.detach(book, self)

    def close(self) -> None:
        """The connection ended: stop listening to the market."""
        for idx in list(self._attached):
            self.detach(self.market.books[idx])

    # ---- driven by the shell
    def opening(self, now_ns: int) -> None:  # noqa: B027 (an optional hook)
        """Frames sent as soon as the connection opens."""

    @abstractmethod
    def receive(self, data: str | bytes, now_ns: int) -> None:
        """One client message (text or binary frame)."""

    def on_clock(self, now_ns: int) -> None:  # noqa: B027 (an optional hook)
        """Timers: heartbeats, batches, deadlines."""

    # ---- market listener: a session overrides the hooks it needs
    def on_change(  # noqa: B027
        self, book: Book, side: int, price: int, lots: int, prev: int, rank: int, op: int
    ) -> None:
        pass

    def on_trades(self, book: Book, trades: list[Trade]) -> None:  # noqa: B027
        pass

    def on_event_end(self, book: Book) -> None:  # noqa: B027
        pass
