"""`alphapulse collect`: record a venue's live WebSocket feed, raw first."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from alphapulse_cli.cli.options import (
    exchange_rate_option,
    fault_option,
    faults_from,
    redis_books_option,
    redis_maxlen_option,
    redis_publish_option,
    shm_interval_option,
    shm_mode_option,
    shm_option,
    shm_sink,
    split_list,
    stderr_is_tty,
)


def command(
    venue: str = typer.Argument(..., metavar="VENUE", help="coinbase or kraken."),
    symbols: Optional[list[str]] = typer.Argument(
        None, metavar="[SYMBOL]...", help="BASE-QUOTE symbols (BTC-USD ETH-USD); default BTC-USD."
    ),
    output: str = typer.Option(
        "data",
        "--output",
        "-o",
        metavar="DIR|-",
        help="Directory for hourly logs DIR/<venue>/YYYYMMDD_HH.wslog, or - for one .wslog "
        "stream on stdout.",
    ),
    jsonl: bool = typer.Option(
        False,
        "--jsonl",
        help="Normalized events as JSON lines on stdout (the raw log still goes to -o DIR).",
    ),
    channels: Optional[list[str]] = typer.Option(
        None,
        "--channels",
        help="Venue channels, comma-separated or repeated. Default coinbase "
        "level2_batch,matches,heartbeat (level2,matches,heartbeat with credentials); kraken "
        "v2 instrument,book,trade; v1 book,trade.",
    ),
    depth: Optional[int] = typer.Option(
        None, "--depth", help="Kraken book depth: 10, 25, 100, 500 or 1000 (default 10)."
    ),
    duration: Optional[float] = typer.Option(
        None, "--duration", "-d", min=0, help="Stop cleanly after this many seconds."
    ),
    max_messages: Optional[int] = typer.Option(
        None,
        "--max-messages",
        "-n",
        min=1,
        help="Stop cleanly after N received frames (every frame counts).",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No status view, info lines or warnings: only errors."
    ),
    url: Optional[str] = typer.Option(
        None,
        "--url",
        help="Endpoint instead of the venue's (a local exchange, replay --serve). Kraken "
        "speaks v2 when the path ends in /v2, else v1. Not with --simulate.",
    ),
    protocol: Optional[str] = typer.Option(
        None,
        "--protocol",
        help="coinbase: exchange or advanced; kraken: v2 or v1 (default: from the URL).",
    ),
    metrics_port: Optional[int] = typer.Option(
        None,
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve Prometheus metrics on this port, on --metrics-host.",
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1",
        "--metrics-host",
        metavar="ADDRESS",
        help="Address the metrics listen on; 0.0.0.0 for every interface (Prometheus on "
        "another host).",
    ),
    connect_timeout: float = typer.Option(
        30.0,
        "--connect-timeout",
        min=0,
        metavar="SECONDS",
        help="Retry a failing first connect with the reconnect backoff for this long, then exit 4.",
    ),
    watchdog: float = typer.Option(
        10.0,
        "--watchdog",
        min=0.1,
        help="Reconnect when no frame arrives for this many seconds.",
    ),
    no_compression: bool = typer.Option(
        False, "--no-compression", help="Do not offer permessage-deflate to the venue."
    ),
    redis: Optional[str] = redis_publish_option(),
    redis_maxlen: int = redis_maxlen_option(),
    redis_books: bool = redis_books_option(),
    shm: Optional[str] = shm_option(instead_of_stdout=False),
    shm_interval: str = shm_interval_option(record_time=False),
    shm_mode: str = shm_mode_option(),
    simulate: bool = typer.Option(
        False,
        "--simulate",
        help="No network: serve the venue from the package's local exchange, in this process, "
        "on a free 127.0.0.1 port (see local-exchange(1)); the log's connect event names it.",
    ),
    rate: Optional[float] = exchange_rate_option(None),
    drop_after: Optional[int] = fault_option("drop_after"),
    drop_at: Optional[float] = fault_option("drop_at"),
    stall_after: Optional[int] = fault_option("stall_after"),
    stall_at: Optional[float] = fault_option("stall_at"),
    stall_for: float = fault_option("stall_for"),
    skip: Optional[list[int]] = fault_option("skip"),
    corrupt_checksum: Optional[list[int]] = fault_option("corrupt_checksum"),
    malformed_after: Optional[list[int]] = fault_option("malformed_after"),
    refuse: Optional[list[str]] = fault_option("refuse"),
    faults_on: int = fault_option("faults_on"),
) -> Optional[int]:
    """Record a venue's live feed: every frame received and sent, plus session events.

    Each received frame reaches the log before anything parses it; a parser or sink
    failure is counted and reported, never stops the capture. Parsing runs behind
    recording (its backlog is shown); only a feed faster than parsing can follow makes
    reading wait, past 100,000 unparsed frames. Files rotate hourly:
    DIR/<venue>/YYYYMMDD_HH.wslog. Session events in the log: connect (url), disconnect
    (reason), resync (symbol, reason), end.

    Staying up: reconnects with capped exponential backoff and jitter, within the venues'
    limits (Kraken: about 150 attempts in 10 minutes bans an IP); a watchdog reconnects a
    silent connection; a trade-id gap (Coinbase) or a checksum mismatch (Kraken)
    resubscribes only that symbol. Kraken connections are kept alive with an application
    ping every 30 s; Coinbase through its heartbeat channel.

    Status: on a terminal, a live per-symbol table on stderr; otherwise one JSON line per
    notable event (connect, disconnect, gap, checksum_mismatch, resync, malformed,
    venue_error, sink_error), a progress line every minute and a final `stopped` line.

    Metrics (--metrics-port; 0 picks a free port, named in a `metrics` status line):
    alphapulse_collect_ messages_total, frames_total, bytes_total, trades_total,
    gaps_total, checksums_total{result=ok|mismatch}, resyncs_total, reconnects_total,
    malformed_total, sink_errors_total, parse_backlog_frames, and the histogram
    receive_to_written_seconds (from a frame's receive stamp to its record handed to the
    kernel); labelled by venue and, where it applies, symbol.

    Sinks: --redis publishes trades (and with --redis-books, top-of-book) to Redis streams;
    --shm writes changed books into a shared-memory ring. Neither ever makes the capture
    wait: a dead Redis or a failing sink is counted and reported (sink_error), the log is
    written regardless.

    Credentials (Coinbase level2): ALPHAPULSE_COINBASE_KEY, ALPHAPULSE_COINBASE_SECRET,
    ALPHAPULSE_COINBASE_PASSPHRASE from the environment; the subscribe is signed with them.
    The logged copy of a signed subscribe has key, passphrase and signature replaced by
    "<redacted>" (the only frames not stored exactly as sent). Without them the keyless
    channels are used.

    Simulated (--simulate): the package's local exchange (local-exchange(1)) runs in this
    process, in the capture's event loop, on a free 127.0.0.1 port, with the venue's
    protocol (Kraken: v2, or v1 with --protocol v1), listing exactly the symbols asked
    for, at --rate market events a second and with the fault options (--drop-after,
    --skip, ...; --faults-on N connections) injected. The capture is the same as from the
    venue (log, sinks, status, metrics, exit codes) and needs no network; the log's
    connect event names the ws://127.0.0.1:PORT URL, so it cannot pass for real data, and
    the final summary counts what the exchange sent (simulated.frames_sent). Not with
    --url.

    The environment's proxy settings (HTTPS_PROXY, NO_PROXY) are honoured, except for
    loopback URLs.

    SIGINT and SIGTERM close the connection and every file with an end-of-log event and
    print the summary; then SIGINT exits 130 (as in every command), SIGTERM 0. A served log
    that ends (replay --serve's close 4000 "end of log") ends the capture with 0. After
    kill -9, `alphapulse replay DIR --tail stop` reads every record flushed (records are
    flushed after every burst of frames). A first connection that fails is retried with the
    same backoff as a reconnect; if none succeeds within --connect-timeout seconds, or the
    venue refuses every subscription, exit 4.

    Examples:

        alphapulse collect coinbase BTC-USD ETH-USD

        alphapulse collect coinbase BTC-USD ETH-USD --simulate -d 10 -o data/

        alphapulse collect kraken BTC-USD --simulate --skip 100 --drop-at 5

        alphapulse collect kraken BTC-USD --depth 100 --metrics-port 9090

        alphapulse collect coinbase BTC-USD -o - | alphapulse replay - --format events
    """
    from alphapulse_cli.collect import CollectConfig, run_collect
    from alphapulse_cli.collect.credentials import from_env
    from alphapulse_cli.collect.status import JsonLinesReporter

    name = venue.lower()
    simulation = None
    if simulate:
        from alphapulse_cli.collect.simulate import DEFAULT_RATE, Simulation

        simulation = Simulation(DEFAULT_RATE if rate is None else rate, faults_from(locals()))
    else:
        faults_from(locals(), needs="--simulate")  # a usage error when one is given
        if rate is not None:
            from alphapulse_cli.errors import UsageError

            raise UsageError("--rate needs --simulate")
    cfg = CollectConfig(
        venue=name,
        symbols=split_list(symbols),
        output=output,
        jsonl=jsonl,
        channels=split_list(channels) or None,
        depth=depth,
        duration=duration,
        max_messages=max_messages,
        url=url,
        protocol=protocol,
        watchdog=watchdog,
        connect_timeout=connect_timeout,
        credentials=from_env() if name == "coinbase" else None,
        compression=not no_compression,
        simulate=simulation,
    )
    if redis_books and redis is None:
        from alphapulse_cli.errors import UsageError

        raise UsageError("--redis-books needs --redis URL")
    if sys.stderr.isatty():
        from alphapulse_cli.cli.collect_view import LiveReporter

        reporter: object = LiveReporter(quiet=quiet, color=stderr_is_tty())
    else:
        reporter = JsonLinesReporter(sys.stderr, quiet=quiet)
    from alphapulse_cli.collect.run import library_logs_to

    # The Redis sink's thread may warn as soon as it starts: its lines go to the reporter too.
    with library_logs_to(reporter):  # type: ignore[arg-type]
        sinks: list[object] = []
        ring = shm_sink(shm, shm_interval, shm_mode)
        if ring is not None:
            sinks.append(ring)
        if redis is not None:
            from alphapulse_cli.redis_streams.sink import live_sink

            # Connects in the background: a dead Redis is counted, the capture goes on.
            sinks.append(live_sink(redis, redis_maxlen or None, redis_books))
        summary = run_collect(
            cfg,
            sinks,  # type: ignore[arg-type]
            reporter,  # type: ignore[arg-type]
            metrics_port=metrics_port,
            metrics_addr=metrics_host,
        )
    from alphapulse_cli.errors import ExitCode

    # Ctrl-C is 130 in every command, after the clean close and the summary (SIGTERM,
    # a service manager's stop, is a normal end: 0).
    return ExitCode.INTERRUPTED if summary["stop_reason"] == "signal SIGINT" else None
