"""The `replay --serve` branch of the replay command: checks the options that make no sense
with a server, then runs it (kept here so replay_cmd stays a list of options)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from alphapulse_cli.errors import UsageError

if TYPE_CHECKING:
    from alphapulse_cli.replay.run import ReplayRequest

SERVE_HELP = (
    "Serve the logs' inbound frames as a WebSocket exchange on [HOST:]PORT (0: a free port, "
    "printed as 'listening on ws://HOST:PORT' on stderr). Paths: /coinbase, /kraken, "
    "/VENUE/SLOT; any other path serves --exchange or the log's first venue. After the "
    "client's first message (or 5 s) the frames follow byte-identical, in order, at --speed; "
    "then a close with code 4000 'end of log', which no venue sends, so collect ends there "
    "instead of reconnecting. Kraken pings are answered with pongs. Ends when every client that "
    "connected is served."
)
KEEP_SERVING_HELP = "--serve: serve every new client from the start, until SIGINT/SIGTERM."


def serve_replay(
    req: ReplayRequest,
    address: str,
    *,
    keep_serving: bool,
    output: str | None,
    stats: bool,
    others: Mapping[str, object],
) -> int | None:
    """`others`: option name -> value of the options that do not apply (None/False: unset)."""
    from alphapulse_cli.replay.serve import ServeRequest, parse_address, run_serve
    from alphapulse_cli.wslog.reader import expand_inputs

    if output is not None:
        raise UsageError("--output does not apply with --serve: the frames go to the clients")
    if req.fmt != "jsonl":
        raise UsageError("--format does not apply with --serve: clients get the raw frames")
    for name, value in others.items():
        if value:
            raise UsageError(f"{name} does not apply with --serve")
    kinds = req.selection.kinds
    if kinds is not None and kinds != frozenset({0}):
        raise UsageError("--kind: --serve serves inbound frames only; leave --kind out")
    host, port = parse_address(address)
    sreq = ServeRequest(
        files=expand_inputs(req.inputs),
        selection=req.selection,
        host=host,
        port=port,
        speed=req.speed,
        count=req.count,
        follow=req.follow,
        tail=req.tail,
        keep_serving=keep_serving,
    )

    def listening(url: str) -> None:
        print(f"listening on {url}", file=sys.stderr, flush=True)

    summary = run_serve(sreq, listening)
    if stats:
        import orjson

        sys.stderr.buffer.write(orjson.dumps(summary) + b"\n")
        sys.stderr.flush()
    if summary["signal"] == "SIGINT":
        from alphapulse_cli.errors import ExitCode

        return ExitCode.INTERRUPTED  # Ctrl-C is 130 in every command, after a clean close
    return None
