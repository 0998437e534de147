"""Live capture: one venue's WebSocket feed into the .wslog, raw first (docs/architecture.md §2).

    from alphapulse_cli.collect import CollectConfig, run_collect
    summary = run_collect(CollectConfig("kraken", ["BTC-USD"], output="data"), sinks=[...])

Modules: config (settings and subscribe messages), connection (the venue connection loop),
output (hourly files or stdout), counters, status (reporting), metrics (Prometheus),
backoff (reconnect timing), credentials (Coinbase API keys from the environment), run
(the life cycle: loop, signals, shutdown), simulate (--simulate: the local exchange
in-process).
"""

from __future__ import annotations

from alphapulse_cli.collect.config import CollectConfig
from alphapulse_cli.collect.run import run_collect

__all__ = ["CollectConfig", "run_collect"]
