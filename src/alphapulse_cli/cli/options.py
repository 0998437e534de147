"""Option bundles shared by several commands, and small helpers for command modules."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import typer

from alphapulse_cli.errors import AlphapulseError, UsageError

TAIL_HELP = (
    "What to do with a cut-off last record: raise (a one-line error, exit 3) or stop "
    "(keep every complete record)."
)


def redis_url_option() -> str:
    return typer.Option(
        None,
        "--redis",
        help="Redis URL (redis://, rediss://, redis+cluster://HOST:PORT[,HOST:PORT...]); "
        "default $ALPHAPULSE_REDIS_URL, then redis://127.0.0.1:6379.",
        show_default=False,
    )


def redis_publish_option() -> str:
    return typer.Option(
        None,
        "--redis",
        metavar="URL",
        help="Publish trades to Redis streams trades:<exchange>:<symbol> (redis://, rediss://, "
        "unix://, redis+cluster://HOST:PORT[,HOST:PORT...]); '' means $ALPHAPULSE_REDIS_URL, then redis://127.0.0.1:6379.",
        show_default=False,
    )


def redis_maxlen_option() -> int:
    return typer.Option(
        1_000_000,
        "--redis-maxlen",
        min=0,
        help="Trim each stream to about this many entries (XADD MAXLEN ~); 0: no trimming.",
    )


def redis_books_option() -> bool:
    return typer.Option(
        False,
        "--redis-books",
        help="Also publish the top 10 levels after each book change to book:<exchange>:<symbol>.",
    )


def shm_option(instead_of_stdout: bool) -> Any:
    where = " instead of stdout" if instead_of_stdout else ""
    return typer.Option(
        None,
        "--shm",
        metavar="NAME",
        help=f"Write each changed book (top 50) into the ring /dev/shm/alphapulse/NAME{where}; "
        "see shm-dump(1).",
    )


def shm_interval_option(record_time: bool) -> Any:
    clock = " of record time" if record_time else ""
    return typer.Option(
        "0",
        "--shm-interval",
        metavar="DURATION",
        help=f"--shm: at most one entry per book per DURATION{clock} (250ms, 1s); 0: every change.",
    )


def shm_mode_option() -> Any:
    return typer.Option(
        "600", "--shm-mode", metavar="MODE", help="--shm: the ring file's mode, in octal."
    )


def shm_sink(name: str | None, interval: str, mode: str) -> Any:
    """The ShmSink the --shm options ask for, or None; the others without --shm are an
    error rather than silently ignored."""
    if name is None:
        given = [
            o
            for o, v, d in (("--shm-interval", interval, "0"), ("--shm-mode", mode, "600"))
            if v != d
        ]
        if given:
            verb = "need" if len(given) > 1 else "needs"
            raise UsageError(f"{' and '.join(given)} {verb} --shm NAME")
        return None
    from alphapulse_cli.core.times import parse_duration_ns
    from alphapulse_cli.shm.sink import ShmSink, parse_mode

    return ShmSink(name, parse_duration_ns(interval, "--shm-interval"), parse_mode(mode))


# The local exchange's market rate and faults, shared by `local-exchange` and `collect
# --simulate`: command parameter name -> (default, option, typer.Option keywords).
RATE_HELP = (
    "Market events per second, shared by the subscribed symbols. Kraken book/trade and "
    "Coinbase level2/matches send about one message per event; level2_batch merges a "
    "product's changes every 50 ms."
)
FAULT_OPTIONS: dict[str, tuple[Any, str, dict[str, Any]]] = {
    "drop_after": (
        None,
        "--drop-after",
        {
            "min": 1,
            "metavar": "N",
            "help": "Fault: after the N-th frame sent, end the TCP stream without a close frame.",
        },
    ),
    "drop_at": (
        None,
        "--drop-at",
        {
            "min": 0.0,
            "metavar": "SECONDS",
            "help": "Fault: drop the connection this many seconds after it opened.",
        },
    ),
    "stall_after": (
        None,
        "--stall-after",
        {"min": 1, "metavar": "N", "help": "Fault: after the N-th frame, stop sending."},
    ),
    "stall_at": (
        None,
        "--stall-at",
        {
            "min": 0.0,
            "metavar": "SECONDS",
            "help": "Fault: stop sending this many seconds after the connection opened.",
        },
    ),
    "stall_for": (
        5.0,
        "--stall-for",
        {
            "min": 0.0,
            "metavar": "SECONDS",
            "help": "How long a stall lasts; what queued meanwhile is sent afterwards.",
        },
    ),
    "skip": (
        None,
        "--skip",
        {
            "metavar": "N",
            "help": "Fault, repeatable: a gap. Coinbase: the N-th match is not sent (trade_id "
            "jumps); Advanced Trade: the message numbered N is not sent (sequence_num jumps). "
            "Kraken: the first top-10 book update from the N-th on is not sent (the next "
            "checksum fails).",
        },
    ),
    "corrupt_checksum": (
        None,
        "--corrupt-checksum",
        {
            "metavar": "N",
            "help": "Fault, repeatable, Kraken: the N-th book update carries a wrong checksum.",
        },
    ),
    "malformed_after": (
        None,
        "--malformed-after",
        {
            "metavar": "N",
            "help": "Fault, repeatable: after the N-th frame, send a frame of cut-off JSON.",
        },
    ),
    "refuse": (
        None,
        "--refuse",
        {
            "metavar": "SYMBOL",
            "help": "Fault, repeatable: subscribing to SYMBOL fails with the venue's error.",
        },
    ),
    "faults_on": (
        1,
        "--faults-on",
        {
            "min": 0,
            "metavar": "N",
            "help": "Faults apply to the first N connections; 0: to every connection.",
        },
    ),
}


def exchange_rate_option(default: float | None = 1000.0) -> Any:
    """--rate; None (collect) leaves it unset unless given, so it can need --simulate."""
    if default is None:
        return typer.Option(
            None,
            "--rate",
            "-r",
            min=0,
            help=f"--simulate: {RATE_HELP[0].lower()}{RATE_HELP[1:]} Default 1000.",
            show_default=False,
        )
    return typer.Option(default, "--rate", "-r", min=0, help=RATE_HELP)


def fault_option(param: str) -> Any:
    """The fault option a command takes as parameter `param` (a key of FAULT_OPTIONS)."""
    default, flag, kwargs = FAULT_OPTIONS[param]
    return typer.Option(default, flag, **kwargs)


def faults_from(params: dict[str, Any], needs: str | None = None) -> Any:
    """The exchange.Faults that a command's fault parameters ask for (its `locals()`: every
    key of FAULT_OPTIONS). With `needs` (an option that is not given), a fault option that
    is given is a usage error instead, and the result is None."""
    values = {k: params[k] for k in FAULT_OPTIONS}
    if needs is not None:
        given = [FAULT_OPTIONS[k][1] for k, v in values.items() if v != FAULT_OPTIONS[k][0]]
        if given:
            verb = "need" if len(given) > 1 else "needs"
            raise UsageError(f"{' and '.join(given)} {verb} {needs}")
        return None
    from alphapulse_cli.exchange.faults import Faults

    return Faults(
        drop_after=values["drop_after"],
        drop_at=values["drop_at"],
        stall_after=values["stall_after"],
        stall_at=values["stall_at"],
        stall_for=values["stall_for"],
        skip=tuple(values["skip"] or ()),
        corrupt=tuple(values["corrupt_checksum"] or ()),
        malformed_after=tuple(values["malformed_after"] or ()),
        refuse=tuple(split_list(values["refuse"])),
        connections=values["faults_on"],
    )


def split_list(values: list[str] | None) -> list[str]:
    """`--exchange a,b --exchange c` -> [a, b, c]."""
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise UsageError(f"{option}: {value!r} is not one of {', '.join(choices)}")
    return value


@contextmanager
def output_sink(path: str | None) -> Iterator[BinaryIO]:
    """stdout (binary) for None or '-', else a file opened for writing."""
    if path is None or path == "-":
        yield sys.stdout.buffer
        return
    try:
        f = open(Path(path), "wb")  # noqa: SIM115
    except OSError as exc:
        raise AlphapulseError(f"{path}: cannot open for writing: {exc.strerror}") from None
    try:
        yield f
    finally:
        f.close()


def stdin_inputs(inputs: list[str] | None) -> list[str]:
    if inputs:
        return inputs
    if sys.stdin.isatty():
        raise UsageError("no input: name files or directories, or pipe a .wslog stream into '-'")
    return ["-"]


def stderr_is_tty() -> bool:
    return sys.stderr.isatty() and not os.environ.get("NO_COLOR")
