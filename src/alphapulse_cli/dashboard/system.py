"""System figures from psutil: the host (CPU, memory, network), this dashboard, and each
collector's process, found as the process listening on its --collector port."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

FIND_EVERY_S = 5.0


def listening_pid(port: int) -> int | None:
    import psutil

    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None


def _proc_row(proc: Any) -> dict[str, Any]:
    with proc.oneshot():
        return {
            "pid": proc.pid,
            "cpu_percent": round(proc.cpu_percent(None), 1),
            "rss_mb": round(proc.memory_info().rss / 1e6, 1),
        }


class SystemSource:
    name = "system"
    interval = 1.0

    def __init__(self, collector_urls: list[str]) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._me.cpu_percent(None)
        psutil.cpu_percent(None)
        self._ports = {u: urlsplit(u if "://" in u else "http://" + u).port for u in collector_urls}
        self._procs: dict[str, Any] = {}
        self._looked: dict[str, float] = {}
        self._net = psutil.net_io_counters()
        self._net_at = time.monotonic()
        self.view: dict[str, Any] = {}

    def _collector(self, url: str) -> dict[str, Any] | None:
        psutil = self._psutil
        proc = self._procs.get(url)
        if proc is not None and not proc.is_running():
            proc = self._procs.pop(url)
            proc = None
        if proc is None:
            port = self._ports.get(url)
            now = time.monotonic()
            if port is None or now - self._looked.get(url, 0.0) < FIND_EVERY_S:
                return None
            self._looked[url] = now
            pid = listening_pid(port)
            if pid is None:
                return None
            try:
                proc = psutil.Process(pid)
                proc.cpu_percent(None)
            except psutil.Error:
                return None
            self._procs[url] = proc
        try:
            return {"url": url, **_proc_row(proc)}
        except psutil.Error:
            self._procs.pop(url, None)
            return None

    def poll(self) -> None:
        psutil = self._psutil
        now = time.monotonic()
        net = psutil.net_io_counters()
        dt = max(now - self._net_at, 1e-3)
        rx = (net.bytes_recv - self._net.bytes_recv) / dt
        tx = (net.bytes_sent - self._net.bytes_sent) / dt
        self._net, self._net_at = net, now
        mem = psutil.virtual_memory()
        collectors = [row for u in self._ports if (row := self._collector(u)) is not None]
        self.view = {
            "host": {
                "cpu_percent": psutil.cpu_percent(None),
                "cpus": psutil.cpu_count(),
                "mem_used_mb": round((mem.total - mem.available) / 1e6, 1),
                "mem_total_mb": round(mem.total / 1e6, 1),
                "net_rx_bytes_per_s": round(rx, 1),
                "net_tx_bytes_per_s": round(tx, 1),
            },
            "dashboard": _proc_row(self._me),
            "collectors": collectors,
        }
