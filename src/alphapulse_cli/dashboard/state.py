"""The dashboard's sources, each polled on its own thread, and the snapshot of everything
the page shows. A source replaces its `view` with a new object on each poll, so reading
the views needs no lock."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphapulse_cli.dashboard.depth import DepthSource
from alphapulse_cli.dashboard.firehose import FirehoseSource
from alphapulse_cli.dashboard.health import HealthSource
from alphapulse_cli.dashboard.redis_link import RedisLink
from alphapulse_cli.dashboard.system import SystemSource
from alphapulse_cli.dashboard.tape import TapeSource


@dataclass
class Options:
    data: Path | None = None
    redis: str | None = None
    shm: str | None = None
    collectors: list[str] = field(default_factory=list)


class Dashboard:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        depth_redis = RedisLink(opts.redis, "alphapulse-dashboard") if opts.redis else None
        self.firehose = FirehoseSource(opts.data)
        self.tape = TapeSource(opts.redis)
        self.depth = DepthSource(opts.shm, depth_redis, opts.data)
        self.health = HealthSource(opts.collectors)
        self.system = SystemSource([c.url for c in self.health.collectors])
        self.sources: list[Any] = [self.firehose, self.tape, self.depth, self.health, self.system]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.polls = 0  # completed polls of every source: the snapshot changes when this does

    def _run(self, source: Any) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                source.poll()
            except Exception as exc:  # a source's bug must not take the page down
                print(
                    f"alphapulse: warning: dashboard {source.name}: {type(exc).__name__}: {exc}",
                    file=sys.stderr,
                )
                self._stop.wait(1.0)
            self.polls += 1
            self._stop.wait(max(0.0, source.interval - (time.monotonic() - started)))

    def start(self) -> None:
        for s in self.sources:
            t = threading.Thread(
                target=self._run, args=(s,), name=f"dashboard-{s.name}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(3.0)

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows: the body of GET /api/state and of each push."""
        fire, tape, depth = self.firehose.view, self.tape.view, self.depth.view
        return {
            "ts": time.time_ns(),
            "collectors": self.health.view,
            "trades": tape["trades"],
            "prices": tape["prices"],
            "books": depth["books"],
            "firehose": fire["frames"],
            "firehose_rates": fire["rates"],
            "system": self.system.view,
            "status": {
                "tape": tape["status"],
                "depth": depth["status"],
                "depth_source": depth["source"],
                "firehose": fire["status"],
            },
        }
