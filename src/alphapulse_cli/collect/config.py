"""A capture's settings, checked once, and the venue-specific choices derived from them
(endpoint, protocol, channels, subscribe messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alphapulse_cli.adapters.base import Adapter
from alphapulse_cli.collect.credentials import AUTH_CHANNELS, CoinbaseCredentials
from alphapulse_cli.core.derive import normalize_symbol
from alphapulse_cli.errors import UsageError
from alphapulse_cli.venues_table import venue_id

if TYPE_CHECKING:
    from alphapulse_cli.collect.simulate import Simulation

DEFAULT_SYMBOLS = ["BTC-USD"]
PROTOCOLS = {"coinbase": ("exchange", "advanced"), "kraken": ("v2", "v1")}
KRAKEN_DEPTHS = (10, 25, 100, 500, 1000)
WATCHDOG_S = 10.0
CONNECT_TIMEOUT_S = 30.0
KRAKEN_PING_S = 30.0


@dataclass
class CollectConfig:
    venue: str
    symbols: list[str] = field(default_factory=lambda: list(DEFAULT_SYMBOLS))
    output: str = "data"
    jsonl: bool = False
    channels: list[str] | None = None
    depth: int | None = None
    duration: float | None = None
    max_messages: int | None = None
    url: str | None = None
    protocol: str | None = None
    watchdog: float = WATCHDOG_S
    connect_timeout: float = CONNECT_TIMEOUT_S
    credentials: CoinbaseCredentials | None = None
    compression: bool = True
    simulate: Simulation | None = None  # serve the venue from the local exchange, in-process

    def __post_init__(self) -> None:
        self.venue = self.venue.lower()
        venue_id(self.venue)  # a usage error for an unknown venue
        if not self.symbols:
            self.symbols = list(DEFAULT_SYMBOLS)
        for s in self.symbols:
            if not _pair_like(s):
                raise UsageError(f"symbol {s!r}: expected BASE-QUOTE (BTC-USD) or BASE/QUOTE")
        if self.protocol is None:
            self.protocol = _protocol_for(self.venue, self.url)
        elif self.protocol not in PROTOCOLS[self.venue]:
            allowed = ", ".join(PROTOCOLS[self.venue])
            raise UsageError(f"--protocol: {self.protocol!r} is not one of {allowed}")
        if self.simulate is not None:
            self.simulate.check(self)
        if self.depth is not None:
            if self.venue != "kraken":
                raise UsageError("--depth: only Kraken books take a depth")
            if self.depth not in KRAKEN_DEPTHS:
                allowed = ", ".join(map(str, KRAKEN_DEPTHS))
                raise UsageError(f"--depth: {self.depth} is not one of {allowed}")
        if self.url is not None and not self.url.startswith(("ws://", "wss://")):
            raise UsageError(f"--url: {self.url!r} is not a ws:// or wss:// URL")
        if self.jsonl and self.output == "-":
            raise UsageError("--jsonl writes events on stdout: give -o a directory for the log")
        if self.max_messages is not None and self.max_messages < 1:
            raise UsageError(f"--max-messages: {self.max_messages} is not 1 or more")
        if self.duration is not None and self.duration <= 0:
            raise UsageError(f"--duration: {self.duration} is not more than 0 seconds")
        if self.connect_timeout < 0:
            raise UsageError(f"--connect-timeout: {self.connect_timeout} is less than 0 seconds")
        if self.watchdog <= 0:
            raise UsageError(f"--watchdog: {self.watchdog} is not more than 0 seconds")
        if self.venue == "coinbase" and self.channels and self.credentials is None:
            needs = sorted(AUTH_CHANNELS.intersection(self.channels))
            if needs:
                raise UsageError(
                    f"--channels: {', '.join(needs)} needs Coinbase API credentials: set "
                    "ALPHAPULSE_COINBASE_KEY, ALPHAPULSE_COINBASE_SECRET and "
                    "ALPHAPULSE_COINBASE_PASSPHRASE, or use level2_batch"
                )

    @property
    def normalized_symbols(self) -> list[str]:
        return [normalize_symbol(s) for s in self.symbols]

    def endpoint(self, adapter: Adapter) -> str:
        return self.url or adapter.default_url(self.protocol)

    def channel_list(self) -> list[str] | None:
        """Coinbase with credentials and no --channels: the full-rate level2 channel."""
        if self.channels:
            return self.channels
        if self.venue == "coinbase" and self.credentials and self.protocol == "exchange":
            return ["level2", "matches", "heartbeat"]
        return None

    def subscribe_messages(self, adapter: Adapter) -> list[bytes]:
        msgs = adapter.subscribe_messages(
            self.symbols, self.channel_list(), self.depth, self.protocol
        )
        if self.credentials is not None and self.protocol == "exchange":
            msgs = [self.credentials.sign(m) for m in msgs]
        return msgs


def _pair_like(s: str) -> bool:
    sep = "/" if "/" in s else "-"
    base, found, quote = s.partition(sep)
    return bool(found and base.isalnum() and quote.isalnum() and base.isascii())


def _protocol_for(venue: str, url: str | None) -> str:
    """Kraken: v2 unless the URL's path is not /v2 (the v1 endpoint is the bare host);
    Coinbase: Advanced Trade when the URL names it."""
    if venue == "kraken":
        if url is None:
            return "v2"
        path = url.split("://", 1)[-1].partition("/")[2].split("?", 1)[0].rstrip("/")
        return "v2" if path.endswith("v2") else "v1"
    return "advanced" if url and "advanced-trade" in url else "exchange"
