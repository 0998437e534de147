"""What the local exchange did on each connection, so a test or a bench can check for loss."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ConnStats:
    conn_id: int
    dialect: str  # coinbase, kraken-v2, kraken-v1
    path: str
    peer: str
    opened_ns: int
    closed_ns: int | None = None
    close_reason: str = ""
    frames_sent: int = 0  # written to the connection, malformed frames included
    bytes_sent: int = 0
    frames_received: int = 0
    by_type: dict[str, int] = field(default_factory=dict)  # queued frames per message type
    skipped: int = 0  # frames withheld by the skip fault
    corrupted: int = 0  # frames sent with a wrong checksum
    malformed: int = 0
    stalls: int = 0
    dropped: bool = False
    backlog: int = 0  # frames queued but never sent when the connection ended
    last_trade_id: dict[str, int] = field(default_factory=dict)  # last trade id sent per symbol
    # Where the skip fault struck: {"symbol", "trade_id"} (Coinbase) or {"symbol", "update"}
    # (Kraken: the ordinal of the withheld book update among this connection's updates).
    gaps: list[dict[str, Any]] = field(default_factory=list)
    faults: bool = False  # whether the exchange's faults applied to this connection

    def count(self, kind: str) -> None:
        self.by_type[kind] = self.by_type.get(kind, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["by_type"] = dict(self.by_type)
        d["last_trade_id"] = dict(self.last_trade_id)
        d["gaps"] = [dict(g) for g in self.gaps]
        return d
