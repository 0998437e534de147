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
        help="Redis URL (redis://, rediss://); default $ALPHAPULSE_REDIS_URL, then redis://127.0.0.1:6379.",
        show_default=False,
    )


def redis_publish_option() -> str:
    return typer.Option(
        None,
        "--redis",
        metavar="URL",
        help="Publish trades to Redis streams trades:<exchange>:<symbol> (redis://, rediss://, "
        "unix://); '' means $ALPHAPULSE_REDIS_URL, then redis://127.0.0.1:6379.",
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
