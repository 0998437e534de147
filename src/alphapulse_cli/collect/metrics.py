"""Prometheus metrics for a capture (`--metrics-port`), read from the counters at scrape
time: the capture itself never calls into prometheus_client.

Families (labels venue, and symbol where per symbol):

    alphapulse_collect_messages_total{venue,symbol}        market-data frames per symbol
    alphapulse_collect_frames_total{venue,direction}       every frame, in and out
    alphapulse_collect_bytes_total{venue,direction}        frame bytes, in and out
    alphapulse_collect_trades_total{venue,symbol}
    alphapulse_collect_gaps_total{venue,symbol}
    alphapulse_collect_checksums_total{venue,symbol,result}   result: ok or mismatch
    alphapulse_collect_resyncs_total{venue,symbol}
    alphapulse_collect_reconnects_total{venue}
    alphapulse_collect_malformed_total{venue}
    alphapulse_collect_sink_errors_total{venue,sink}
    alphapulse_collect_parse_backlog_frames{venue}         gauge
    alphapulse_collect_receive_to_written_seconds{venue}   histogram
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from alphapulse_cli.collect.counters import Counters
from alphapulse_cli.errors import ResourceBusyError

BUCKETS_S = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)
PREFIX = "alphapulse_collect"


class CollectCollector:
    def __init__(self, counters: Counters, sinks: Sequence[Any] = ()) -> None:
        self.counters = counters
        self.sinks = sinks

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        c = self.counters
        v = c.venue
        symbols = list(c.symbols.items())

        def per_symbol(name: str, doc: str, attr: str) -> Any:
            fam = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["venue", "symbol"])
            for sym, sc in symbols:
                fam.add_metric([v, sym], getattr(sc, attr))
            return fam

        yield per_symbol("messages", "Market-data frames received, per symbol.", "messages")
        frames = CounterMetricFamily(
            f"{PREFIX}_frames", "Frames received and sent.", labels=["venue", "direction"]
        )
        frames.add_metric([v, "in"], c.frames_in)
        frames.add_metric([v, "out"], c.frames_out)
        yield frames
        nbytes = CounterMetricFamily(
            f"{PREFIX}_bytes", "Frame bytes received and sent.", labels=["venue", "direction"]
        )
        nbytes.add_metric([v, "in"], c.bytes_in)
        nbytes.add_metric([v, "out"], c.bytes_out)
        yield nbytes
        yield per_symbol("trades", "Trades received (duplicates dropped).", "trades")
        yield per_symbol("gaps", "Trade-id gaps detected.", "gaps")
        yield per_symbol("resyncs", "Books resynchronised.", "resyncs")
        sums = CounterMetricFamily(
            f"{PREFIX}_checksums",
            "Book checksum results.",
            labels=["venue", "symbol", "result"],
        )
        for sym, sc in symbols:
            sums.add_metric([v, sym, "ok"], sc.checksum_ok)
            sums.add_metric([v, sym, "mismatch"], sc.checksum_mismatch)
        yield sums
        for name, doc, value in (
            ("reconnects", "Connections made after the first.", c.reconnects),
            ("malformed", "Frames the adapter could not parse.", c.malformed),
            ("connect_failures", "Connection attempts that failed.", c.connect_failures),
        ):
            fam = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["venue"])
            fam.add_metric([v], value)
            yield fam
        sink = CounterMetricFamily(
            f"{PREFIX}_sink_errors", "Sink failures.", labels=["venue", "sink"]
        )
        for name, n in list(c.sink_errors.items()):
            sink.add_metric([v, name], n)
        yield sink
        # Each sink's own numbers (Redis: published, dropped, queue, connected; shm:
        # written) as they stand at the scrape, labelled by sink and counter.
        from alphapulse_cli.collect.status import sink_stats

        own = GaugeMetricFamily(
            f"{PREFIX}_sink_stat",
            "Sink counters and gauges (published, dropped, queue, connected, written...).",
            labels=["venue", "sink", "stat"],
        )
        for name, stats in sink_stats(self.sinks).items():
            for key, value in stats.items():
                if isinstance(value, bool | int | float):
                    own.add_metric([v, name, key], float(value))
        yield own
        backlog = GaugeMetricFamily(
            f"{PREFIX}_parse_backlog_frames",
            "Frames recorded but not yet parsed (parsing runs behind recording).",
            labels=["venue"],
        )
        backlog.add_metric([v], c.parse_backlog)
        yield backlog
        h = c.latency
        bounds = [int(b * 1e9) for b in BUCKETS_S]
        cum = h.cumulative(bounds)
        hist = HistogramMetricFamily(
            f"{PREFIX}_receive_to_written_seconds",
            "From a frame's receive stamp to its record being handed to the kernel.",
            labels=["venue"],
        )
        buckets = [(repr(b), n) for b, n in zip(BUCKETS_S, cum, strict=True)] + [("+Inf", h.count)]
        hist.add_metric([v], buckets, h.sum_ns / 1e9)
        yield hist


class MetricsServer:
    def __init__(self, server: Any, thread: Any) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(
    port: int, addr: str, counters: Counters, sinks: Sequence[Any] = ()
) -> MetricsServer:
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(CollectCollector(counters, sinks))
    try:
        server, thread = start_http_server(port, addr, registry=registry)
    except OSError as exc:
        raise ResourceBusyError(
            f"metrics on {addr}:{port}: {exc.strerror or exc}; choose another --metrics-port"
        ) from None
    return MetricsServer(server, thread)
