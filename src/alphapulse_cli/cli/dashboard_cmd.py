"""`alphapulse dashboard`: the developer dashboard, live from the capture's outputs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer


def command(
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on; 0.0.0.0 lets anyone on the network read it.",
    ),
    port: int = typer.Option(
        5174, "--port", "-p", min=0, max=65535, help="Port; 0 picks a free one."
    ),
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        metavar="DIR",
        help="collect's output directory: the firehose follows the newest DIR/<venue>/*.wslog.",
    ),
    redis: Optional[str] = typer.Option(
        None,
        "--redis",
        metavar="URL",
        help="Redis with the trades:* streams (and book:* with collect --redis-books); '' means "
        "$ALPHAPULSE_REDIS_URL, then redis://127.0.0.1:6379.",
    ),
    shm: Optional[str] = typer.Option(
        None, "--shm", metavar="NAME", help="The shm ring with the books (collect --shm NAME)."
    ),
    collectors: Optional[list[str]] = typer.Option(
        None,
        "--collector",
        metavar="URL",
        help="A collector's metrics endpoint (collect --metrics-port), like "
        "http://127.0.0.1:9090; repeatable, one health row each.",
    ),
) -> None:
    """Serve a live dashboard of the capture: firehose, depth chart, trade tape, health, system.

    One page at http://HOST:PORT/ and one WebSocket (/ws) pushing a coalesced snapshot
    about 20 times a second; the same snapshot as JSON at GET /api/state. The page and its
    scripts ship inside the package (no CDN, works offline). Sources, each optional:

    Firehose (--data): the newest frames of the .wslog file being written per venue,
    followed as it grows; at high rates it keeps a sample and says so (shown N of M/s).

    Depth chart (--shm): bids and asks, cumulative size against price, from the ring's
    newest entry per book; without a ring, from the book:* streams in --redis (collect
    --redis-books); failing that, rebuilt from the logs under --data by the same adapters
    as collect (read from the start of the hour, so a long log takes a few seconds).

    Trade tape (--redis): the newest trades of the trades:* streams, aggressor side
    coloured, and a price line of the last five minutes.

    Health (--collector): per collector, connected or reconnecting, msg/s, gaps, checksum
    mismatches, resyncs, parse backlog and receive-to-written p99, scraped every second;
    one that stops answering shows unreachable (red) within two seconds.

    System: CPU, RSS and network of the host, this dashboard and each collector's process.

    A source that is down (Redis, a ring, a collector) is shown as such; the rest keeps
    working. A port in use exits 2.

    Examples:

        alphapulse collect coinbase BTC-USD -o data --redis '' --shm books --metrics-port 9090

        alphapulse dashboard --data data --redis '' --shm books --collector http://127.0.0.1:9090
    """
    import asyncio

    from alphapulse_cli.dashboard.server import DashboardServer
    from alphapulse_cli.dashboard.state import Dashboard, Options

    if redis is not None:
        from alphapulse_cli.redis_streams.url import resolve_url

        redis = resolve_url(redis)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"alphapulse: warning: listening on {host}: anyone who can reach this address can "
            "read the dashboard",
            file=sys.stderr,
        )
    dash = Dashboard(Options(data=data, redis=redis, shm=shm, collectors=list(collectors or [])))
    server = DashboardServer(dash, host, port)

    def ready(s: DashboardServer) -> None:
        shown = "127.0.0.1" if s.host in ("0.0.0.0", "") else s.host
        print(f"dashboard: http://{shown}:{s.port}/", file=sys.stderr, flush=True)

    dash.start()
    try:
        asyncio.run(server.run(ready))
    finally:
        dash.stop()
