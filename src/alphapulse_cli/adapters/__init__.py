"""Sans-I/O venue adapters: raw frame bytes in, normalized events out (docs/architecture.md §2, §5).

    adapter = make_adapter("kraken")
    adapter.feed_session({"event": "connect", "url": "wss://ws.kraken.com/v2"}, ts)
    for msg in adapter.subscribe_messages(["BTC-USD"]):
        send(msg); adapter.feed_outbound(msg, ts)
    events = adapter.feed(frame, ts)          # never raises
    send_all(adapter.take_outbox())           # resubscribes after a checksum mismatch

Venue modules are imported on first use so that importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alphapulse_cli.errors import UsageError

if TYPE_CHECKING:
    from alphapulse_cli.adapters.base import Adapter

ADAPTERS = {
    "coinbase": "alphapulse_cli.adapters.coinbase:CoinbaseAdapter",
    "kraken": "alphapulse_cli.adapters.kraken:KrakenAdapter",
}


def make_adapter(venue: str) -> Adapter:
    """A fresh adapter (one per connection) for `venue` ('coinbase' or 'kraken')."""
    import importlib

    target = ADAPTERS.get(venue.lower())
    if target is None:
        raise UsageError(f"no adapter for venue {venue!r}: expected one of {', '.join(ADAPTERS)}")
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    adapter: Adapter = cls()
    return adapter
