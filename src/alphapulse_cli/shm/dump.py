"""What `shm-dump` prints: filtered ring entries (all, newest per book, or followed) and
their JSON lines. Floats are printed as the shortest decimal that reads back as the same
float32, so a price written as "67123.45" comes back as 67123.45."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from alphapulse_cli.shm import layout as L
from alphapulse_cli.shm.reader import BookEntry, ShmBookReader


def _norm_symbol(s: str) -> str:
    return s.strip().upper().replace("/", "-")


@dataclass
class DumpOptions:
    symbols: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)
    follow: bool = False
    latest: bool = False
    depth: int = L.MAX_LEVELS
    count: int | None = None


class RingDump:
    """Yields the entries `shm-dump` prints; in follow mode it polls with a short, growing
    sleep while idle and reopens the ring if a new writer replaced the file."""

    def __init__(
        self, name: str, opts: DumpOptions, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.name = name
        self.opts = opts
        self.printed = 0
        self._sleep = sleep
        self._symbols = {_norm_symbol(s) for s in opts.symbols}
        self._exchanges = {e.strip().lower() for e in opts.exchanges}
        self.reader = ShmBookReader.open(name, start="end" if opts.follow else "oldest")

    def _wanted(self, e: BookEntry) -> bool:
        if self._exchanges and e.exchange.lower() not in self._exchanges:
            return False
        return not self._symbols or e.symbol.upper() in self._symbols

    def entries(self) -> Iterator[BookEntry | None]:
        """Entries to print; in follow mode a None now and then says "idle: flush output"."""
        count = self.opts.count
        if count == 0:
            return
        r = self.reader
        if self.opts.latest:
            end = r.write_seq
            first = r.latest(end)
            r.seek(end)
        else:
            first = []
        for e in first:
            if self._wanted(e):
                yield e
                self.printed += 1
                if count is not None and self.printed >= count:
                    return
        if self.opts.latest and not self.opts.follow:
            return
        idle = 0.0
        pause = 0.0002
        while True:
            got = self.reader.read_next()
            if got is not None:
                idle = 0.0
                pause = 0.0002
                if self._wanted(got):
                    yield got
                    self.printed += 1
                    if count is not None and self.printed >= count:
                        return
                continue
            if not self.opts.follow:
                return
            if pause == 0.0002:
                yield None
            self._sleep(pause)
            idle += pause
            pause = min(pause * 2, 0.02)
            if idle >= 1.0:
                idle = 0.0
                self._maybe_reopen()

    def _maybe_reopen(self) -> None:
        if self.reader.replaced():
            old = self.reader
            try:
                self.reader = ShmBookReader.open(self.name, start="oldest")
            except Exception:
                return  # mid-replacement or gone: keep the old mapping and look again later
            old.close()

    def stats(self) -> dict[str, Any]:
        out = self.reader.stats()
        out["printed"] = self.printed
        return out

    def close(self) -> None:
        self.reader.close()


def entry_json(e: BookEntry, depth: int = L.MAX_LEVELS) -> bytes:
    """One JSON line (with newline) for an entry: exchange, symbol, ts, sequence, bids, asks."""
    import numpy as np
    import orjson

    lv = np.frombuffer(e.raw, dtype="<f4", count=2 * L.LEVEL_VALUES, offset=L.E_BIDS)
    lv = lv.reshape(2, L.MAX_LEVELS, 2)[:, :depth]
    bids, asks = lv[0], lv[1]
    bids = bids[(bids[:, 0] != 0) | (bids[:, 1] != 0)]
    asks = asks[(asks[:, 0] != 0) | (asks[:, 1] != 0)]
    obj = {
        "exchange": e.exchange,
        "symbol": e.symbol,
        "ts": e.ts_ns,
        "sequence": e.sequence,
        "bids": np.ascontiguousarray(bids),
        "asks": np.ascontiguousarray(asks),
    }
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)
