"""`collect --simulate`: the package's local exchange (exchange/) inside the capture's own
event loop, as the venue.

The exchange listens on an ephemeral 127.0.0.1 port, speaks the venue's protocol (the one
--protocol chooses: Kraken v2 on /v2 or v1 on /, Coinbase Exchange on / or Advanced Trade
on /advanced-trade) and lists exactly the symbols collected.
The capture connects to it as to the venue, so its log, sinks, status, metrics and exit
codes are those of a real capture; the log's connect event names the ws://127.0.0.1 URL, so
a simulated capture cannot pass for real data. The exchange starts before the first
connection and stops after the capture has closed, so its count of frames sent is final
when the summary is written (`simulated.frames_sent`, equal to `frames_in` when nothing
was lost).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alphapulse_cli.errors import UsageError

if TYPE_CHECKING:
    from alphapulse_cli.collect.config import CollectConfig
    from alphapulse_cli.exchange.faults import Faults
    from alphapulse_cli.exchange.server import LocalExchange

DEFAULT_RATE = 1000.0


@dataclass(frozen=True)
class Simulation:
    """What `--simulate` serves: the market's rate (events a second, shared by the symbols)
    and the faults the exchange injects (exchange/faults.py)."""

    rate: float = DEFAULT_RATE
    faults: Faults | None = None

    def check(self, cfg: CollectConfig) -> None:
        """Usage errors, before anything is opened."""
        if cfg.url is not None:
            raise UsageError(
                "--simulate and --url: give one; --simulate serves the venue itself on 127.0.0.1"
            )
        if self.rate < 0:
            raise UsageError(f"--rate: {self.rate} is not 0 or more events per second")
        if self.faults is not None:
            self.faults.check_venue(cfg.venue)


class SimulatedVenue:
    """The local exchange for one capture. `cfg` is a copy of the capture's settings whose
    URL becomes the exchange's once `start()` has it listening."""

    def __init__(self, cfg: CollectConfig) -> None:
        assert cfg.simulate is not None
        self.sim = cfg.simulate
        self.cfg = copy.copy(cfg)
        self.exchange: LocalExchange | None = None
        self.url: str | None = None

    async def start(self) -> str:
        from alphapulse_cli.exchange.server import LocalExchange

        ex = LocalExchange(
            self.cfg.venue,
            "127.0.0.1",
            0,
            rate=self.sim.rate,
            symbols=self.cfg.symbols,
            faults=self.sim.faults,
        )
        await ex.start()
        self.exchange = ex
        if self.cfg.protocol == "v1":
            self.url = ex.url_v1
        elif self.cfg.protocol == "advanced":
            self.url = ex.url_advanced
        else:
            self.url = ex.url
        self.cfg.url = self.url
        return self.url

    async def stop(self) -> None:
        """Close the exchange: its connections' handlers finish, so the counts are final."""
        if self.exchange is not None:
            await self.exchange.stop()

    def summary(self) -> dict[str, Any]:
        ex = self.exchange
        if ex is None:
            return {"url": None, "rate": self.sim.rate, "frames_sent": 0, "connections": 0}
        stats = ex.stats()
        return {
            "url": self.url,
            "rate": self.sim.rate,
            "frames_sent": stats["frames_sent"],
            "connections": len(stats["connections"]),
        }
