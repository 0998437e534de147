"""A protocol-faithful local exchange: Coinbase Exchange, Kraken v2 and Kraken v1 on 127.0.0.1.

- `market`: the simulated books and trades (sans-I/O).
- `coinbase`, `kraken_v2`, `kraken_v1` (with `kraken_books`): one sans-I/O session per client
  connection, speaking the venue's protocol.
- `server.LocalExchange`: the asyncio `websockets` shell; `thread.ExchangeThread` runs it in a
  background thread for synchronous callers.
- `faults.Faults`: drop, stall, gap, bad checksum, malformed frame, refused subscription.

`websockets` is imported only when a server starts.
"""

from alphapulse_cli.exchange.faults import Faults
from alphapulse_cli.exchange.server import LocalExchange
from alphapulse_cli.exchange.stats import ConnStats
from alphapulse_cli.exchange.thread import ExchangeThread

__all__ = ["ConnStats", "ExchangeThread", "Faults", "LocalExchange"]
