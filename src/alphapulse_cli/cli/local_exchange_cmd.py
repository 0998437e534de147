"""`alphapulse local-exchange`: serve a simulated venue on 127.0.0.1, with fault injection."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from alphapulse_cli.cli.options import exchange_rate_option, fault_option, faults_from, split_list

if TYPE_CHECKING:
    from alphapulse_cli.exchange.stats import ConnStats


def command(
    venue: str = typer.Argument(
        ..., metavar="VENUE", help="coinbase, or kraken (WebSocket v2 on /v2 and v1 on /)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(0, "--port", "-p", min=0, max=65535, help="Port; 0 picks a free one."),
    rate: float = exchange_rate_option(),
    symbols: Optional[list[str]] = typer.Option(
        None,
        "--symbols",
        "-s",
        help="Listed symbols, comma-separated or repeated (default coinbase BTC-USD,ETH-USD,"
        "SOL-USD; kraken BTC/USD,ETH/USD,SOL/USD, which v1 calls XBT/USD...).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the market's random walk."),
    duration: Optional[float] = typer.Option(
        None,
        "--duration",
        "-d",
        min=0,
        help="Stop after this many seconds (default: run until signalled).",
    ),
    levels: int = typer.Option(
        400, "--levels", min=40, help="Book depth per side the market keeps."
    ),
    trade_share: float = typer.Option(
        0.1, "--trade-share", min=0.0, max=1.0, help="Share of market events that are trades."
    ),
    stats_file: Optional[Path] = typer.Option(
        None,
        "--stats-file",
        help="Write per-connection counts (frames and bytes sent, per message type, faults) "
        "as JSON here, after every connection and at exit.",
    ),
    compression: bool = typer.Option(
        True,
        "--compression/--no-compression",
        help="Accept permessage-deflate when a client offers it, as the venues do.",
    ),
    subscribe_timeout: float = typer.Option(
        5.0,
        "--subscribe-timeout",
        min=0.0,
        help="Coinbase: close connections that have not subscribed within this many seconds.",
    ),
    idle_timeout: float = typer.Option(
        60.0,
        "--idle-timeout",
        min=0.0,
        help="Kraken: close connections whose client sent nothing for this long; 0 never.",
    ),
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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the listening line on stderr."),
    protocol: Optional[str] = typer.Option(
        None,
        "--protocol",
        help="coinbase: exchange or advanced (Advanced Trade, on /advanced-trade), listed "
        "first; both are served.",
    ),
) -> Optional[int]:
    """Serve Coinbase Exchange or Kraken (v2 and v1) market data from a simulated market.

    The protocols are the venues' own: subscribe handshakes and acks, snapshots, updates,
    trades with consecutive ids, heartbeats, pings, Kraken CRC32 checksums of every book
    message. The market is a seeded random walk of books and trades with exact decimal
    prices. Faults are placed by frame count or time, so a run is reproducible; frame counts
    include every frame sent on the connection (status, acks, data). The listening URLs go to
    stderr, one line each; per-connection counts go to --stats-file. Coinbase Advanced Trade
    is served too, on /advanced-trade (--protocol advanced lists it first), its messages
    numbered by sequence_num.

    Examples:

        alphapulse local-exchange kraken --port 8765 --rate 20000 --no-compression

        alphapulse local-exchange coinbase --symbols BTC-USD,ETH-USD --skip 100 --drop-after 5000

        alphapulse local-exchange kraken --corrupt-checksum 50 --stats-file sent.json --duration 30

        alphapulse local-exchange coinbase --protocol advanced --skip 40
    """
    import asyncio

    from alphapulse_cli.exchange import LocalExchange
    from alphapulse_cli.exchange.instruments import VENUES

    venue = venue.lower()
    if venue not in VENUES:
        from alphapulse_cli.errors import UsageError

        raise UsageError(f"unknown venue {venue!r}: expected one of {', '.join(VENUES)}")
    faults = faults_from(locals())
    if protocol is not None and (venue, protocol) not in (
        ("coinbase", "exchange"),
        ("coinbase", "advanced"),
    ):
        from alphapulse_cli.errors import UsageError

        raise UsageError(f"--protocol: {protocol!r}: coinbase takes exchange or advanced")

    def log(what: str, st: ConnStats) -> None:
        if what == "open":
            line = f"conn {st.conn_id} {st.dialect} open from {st.peer} path {st.path}"
        else:
            line = (
                f"conn {st.conn_id} {st.dialect} closed: {st.close_reason}; "
                f"{st.frames_sent} frames, {st.bytes_sent} bytes sent, "
                f"{st.frames_received} received"
            )
            extra = [
                f"{k} {v}"
                for k, v in (
                    ("skipped", st.skipped),
                    ("corrupted", st.corrupted),
                    ("malformed", st.malformed),
                    ("stalls", st.stalls),
                    ("unsent", st.backlog),
                )
                if v
            ]
            if st.dropped:
                extra.insert(0, "dropped")
            if extra:
                line += "; " + ", ".join(extra)
        print(f"local-exchange: {line}", file=sys.stderr, flush=True)

    exchange = LocalExchange(
        venue,
        host,
        port,
        rate=rate,
        symbols=split_list(symbols) or None,
        seed=seed,
        faults=faults,
        levels=levels,
        trade_share=trade_share,
        subscribe_timeout=subscribe_timeout,
        idle_timeout=idle_timeout,
        compression=compression,
        stats_file=stats_file,
        on_log=None if quiet else log,
        protocol=protocol,
    )

    got: list[str] = []

    async def main() -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            got.append(sig.name)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        async with exchange:
            urls = sorted(exchange.urls.items(), key=lambda kv: kv[1] != exchange.url)
            for name, url in urls:
                print(f"listening on {url} ({name})", file=sys.stderr, flush=True)
            try:
                await asyncio.wait_for(stop.wait(), duration)
            except asyncio.TimeoutError:
                pass

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
    from alphapulse_cli.errors import ExitCode

    # Ctrl-C is 130 in every command, after a clean close; SIGTERM is a normal stop.
    return ExitCode.INTERRUPTED if got and got[0] == "SIGINT" else None
