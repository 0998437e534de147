"""Fault injection for the local exchange: what to break, and on which connections.

Every fault is placed by count or by time, never at random, so a run is reproducible:

- drop_after N / drop_at S: after the N-th frame sent (or S seconds after the connection
  opened) the TCP stream ends without a WebSocket close frame. Every frame counted as sent
  reaches the client first.
- stall_after N / stall_at S, stall_for S: stop sending for S seconds; what the market does
  meanwhile is queued and sent in one burst afterwards.
- skip N (repeatable): a gap. Coinbase: the N-th `match` of the connection is not sent, so
  trade_id jumps by one at the next match and heartbeat `last_trade_id` runs ahead. Kraken:
  the first book update from the N-th on that changes the top 10 is not sent; the next book
  message for that symbol carries a checksum that does not match the client's book.
  Coinbase Advanced Trade: the message numbered N (sequence_num, from 0) is not sent.
- corrupt N (repeatable, Kraken only): the N-th book update carries a wrong checksum.
- malformed_after N (repeatable): after the N-th frame, a frame of cut-off JSON.
- refuse SYMBOL (repeatable): subscribing to SYMBOL fails with the venue's error.

Faults apply to the first `connections` connections of the exchange (0: to every one), so a
client that reconnects after a drop gets a clean connection by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alphapulse_cli.errors import UsageError


@dataclass(frozen=True)
class Faults:
    drop_after: int | None = None
    drop_at: float | None = None
    stall_after: int | None = None
    stall_at: float | None = None
    stall_for: float = 5.0
    skip: tuple[int, ...] = ()
    corrupt: tuple[int, ...] = ()
    malformed_after: tuple[int, ...] = ()
    refuse: tuple[str, ...] = field(default=())
    connections: int = 1

    def __post_init__(self) -> None:
        for name in ("drop_after", "stall_after"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise UsageError(f"{name.replace('_', '-')}: {v} is not a frame count of 1 or more")
        for name in ("drop_at", "stall_at"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise UsageError(f"{name.replace('_', '-')}: {v} is not a time of 0 s or more")
        if self.stall_for < 0:
            raise UsageError(f"stall-for: {self.stall_for} is not a duration of 0 s or more")
        for name in ("skip", "corrupt", "malformed_after"):
            bad = [v for v in getattr(self, name) if v < 1]
            if bad:
                raise UsageError(f"{name.replace('_', '-')}: {bad[0]} is not a count of 1 or more")
        if self.connections < 0:
            raise UsageError(f"faults-on: {self.connections} is not 0 (every connection) or more")

    def applies_to(self, conn_id: int) -> bool:
        """Connection ids count from 1 in the order the exchange accepted them."""
        return self.connections == 0 or conn_id <= self.connections

    def check_venue(self, venue: str) -> None:
        from alphapulse_cli.exchange.instruments import instrument

        for symbol in self.refuse:
            instrument(venue, symbol)  # a malformed symbol is a usage error now, not later
        if venue == "coinbase" and self.corrupt:
            raise UsageError(
                "corrupt: Coinbase messages carry no checksum; use it with kraken, "
                "or use skip to make a trade_id gap"
            )


NO_FAULTS = Faults()
