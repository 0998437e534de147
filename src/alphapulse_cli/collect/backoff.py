"""When to reconnect: exponential backoff with jitter, capped, inside the venue's limits.

Kraken (Cloudflare) bans an IP for 10 minutes after about 150 connection attempts in a
rolling 10 minutes; Coinbase allows 8 connections a second. The first retries after a drop
are quick (a random drop is usually transient), then the delay doubles up to the cap, and
a sliding window keeps the attempts under the venue's limit whatever happens.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

# (attempts, window seconds, delay cap seconds) per venue; Kraken's window limit is kept
# well under its ban threshold.
LIMITS: dict[str, tuple[int, float, float]] = {
    "kraken": (100, 600.0, 60.0),
    "coinbase": (8, 1.0, 30.0),
}
BASE_DELAY = 0.25
STABLE_AFTER = 30.0  # a connection that lived this long resets the backoff


@dataclass
class Backoff:
    venue: str
    base: float = BASE_DELAY
    rng: random.Random | None = None

    def __post_init__(self) -> None:
        self.limit, self.window, self.cap = LIMITS.get(self.venue, (100, 600.0, 60.0))
        self.failures = 0
        self._attempts: deque[float] = deque()
        self._rng = self.rng or random.Random()

    def attempted(self, now: float) -> None:
        """Note a connection attempt made at monotonic time `now`."""
        self._attempts.append(now)
        self._prune(now)

    def _prune(self, now: float) -> None:
        while self._attempts and now - self._attempts[0] >= self.window:
            self._attempts.popleft()

    def delay(self, now: float, uptime: float) -> float:
        """Seconds to wait before the next attempt, after a connection that lived `uptime`
        seconds (0 for an attempt that failed)."""
        if uptime >= STABLE_AFTER:
            self.failures = 0
        raw = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        wait = raw * (0.5 + self._rng.random() / 2)  # "equal jitter": never below half
        self._prune(now)
        if len(self._attempts) >= self.limit:
            wait = max(wait, self._attempts[0] + self.window - now)
        return wait
