"""Service health: one row per collector, from its Prometheus endpoint (collect
--metrics-port). A scrape every second with a one-second limit, so a collector that stops
answering is shown unreachable within about two seconds."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

PREFIX = "alphapulse_collect_"
TIMEOUT_S = 1.0
STALL_S = 3.0  # no frame for this long: the collector is reconnecting (or the feed is idle)


def parse_metrics(text: str) -> dict[str, Any]:
    """The sums the health row needs from collect's exposition text."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, Any] = {
        "venue": "",
        "frames_in": 0.0,
        "bytes_in": 0.0,
        "messages": 0.0,
        "gaps": 0.0,
        "checksum_mismatch": 0.0,
        "resyncs": 0.0,
        "reconnects": 0.0,
        "connect_failures": 0.0,
        "parse_backlog": 0.0,
        "buckets": [],
    }
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            name, labels, value = s.name, s.labels, s.value
            if not name.startswith(PREFIX):
                continue
            key = name[len(PREFIX) :]
            out["venue"] = labels.get("venue", out["venue"])
            if key == "frames_total" and labels.get("direction") == "in":
                out["frames_in"] += value
            elif key == "bytes_total" and labels.get("direction") == "in":
                out["bytes_in"] += value
            elif key == "checksums_total" and labels.get("result") == "mismatch":
                out["checksum_mismatch"] += value
            elif key in ("messages_total", "gaps_total", "resyncs_total", "reconnects_total"):
                out[key[: -len("_total")]] += value
            elif key == "connect_failures_total":
                out["connect_failures"] += value
            elif key == "parse_backlog_frames":
                out["parse_backlog"] += value
            elif key == "receive_to_written_seconds_bucket":
                le = labels.get("le", "+Inf")
                out["buckets"].append((float("inf") if le == "+Inf" else float(le), value))
    out["buckets"].sort()
    return out


def p99_ms(now: list[tuple[float, float]], before: list[tuple[float, float]]) -> float | None:
    """The 99th percentile's bucket bound, in ms, of what was observed between two scrapes
    (of everything so far when nothing new came in)."""
    old = dict(before)
    delta = [(b, n - old.get(b, 0.0)) for b, n in now]
    if not delta or delta[-1][1] <= 0:
        delta = now
    if not delta or delta[-1][1] <= 0:
        return None
    want = 0.99 * delta[-1][1]
    for bound, n in delta:
        if n >= want:
            return None if bound == float("inf") else round(bound * 1000, 3)
    return None


class _Collector:
    def __init__(self, url: str) -> None:
        self.url = url
        self.last: dict[str, Any] | None = None
        self.last_at = 0.0
        self.frames_at = 0.0  # when frames_in last grew
        self.row: dict[str, Any] = {
            "url": url,
            "venue": "",
            "status": "unreachable",
            "error": "not scraped yet",
            "msgs_per_s": 0.0,
            "bytes_per_s": 0.0,
            "gaps": 0,
            "checksum_mismatch": 0,
            "resyncs": 0,
            "reconnects": 0,
            "parse_backlog": 0,
            "latency_p99_ms": None,
        }

    def scrape(self) -> None:
        now = time.monotonic()
        try:
            with urllib.request.urlopen(self.url, timeout=TIMEOUT_S) as resp:
                body = resp.read().decode("utf-8", "replace")
            m = parse_metrics(body)
        except Exception as exc:  # any failure to get or read the page means unreachable
            reason = getattr(exc, "reason", None) or exc
            self.row = {**self.row, "status": "unreachable", "error": str(reason)}
            self.last = None
            return
        prev, dt = self.last, now - self.last_at
        rate = bps = 0.0
        if prev is not None and dt > 0:
            rate = max(0.0, m["frames_in"] - prev["frames_in"]) / dt
            bps = max(0.0, m["bytes_in"] - prev["bytes_in"]) / dt
        if prev is None or m["frames_in"] > prev["frames_in"]:
            self.frames_at = now
        failing = prev is not None and m["connect_failures"] > prev["connect_failures"]
        stalled = now - self.frames_at >= STALL_S
        status = "reconnecting" if failing or stalled else "connected"
        self.row = {
            "url": self.url,
            "venue": m["venue"],
            "status": status,
            "error": "",
            "msgs_per_s": round(rate, 1),
            "bytes_per_s": round(bps, 1),
            "gaps": int(m["gaps"]),
            "checksum_mismatch": int(m["checksum_mismatch"]),
            "resyncs": int(m["resyncs"]),
            "reconnects": int(m["reconnects"]),
            "parse_backlog": int(m["parse_backlog"]),
            "latency_p99_ms": p99_ms(m["buckets"], prev["buckets"] if prev else []),
        }
        self.last, self.last_at = m, now


def normalize_url(url: str) -> str:
    if "://" not in url:
        url = "http://" + url
    return url


class HealthSource:
    name = "health"
    interval = 1.0

    def __init__(self, urls: list[str]) -> None:
        self.collectors = [_Collector(normalize_url(u)) for u in urls]
        self.view: list[dict[str, Any]] = [c.row for c in self.collectors]

    def poll(self) -> None:
        for c in self.collectors:
            c.scrape()
        self.view = [c.row for c in self.collectors]
