"""The `alphapulse` command: the typer app, the command table, and the one place where
exceptions become exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Optional

import typer

from alphapulse_cli import __version__
from alphapulse_cli.errors import AlphapulseError, ExitCode

# (command name, module). Each module defines `command`, a typer-annotated function whose
# docstring is the command's help; heavy libraries are imported inside it, not at the top.
COMMANDS: list[tuple[str, str]] = [
    ("replay", "alphapulse_cli.cli.replay_cmd"),
    ("bench", "alphapulse_cli.cli.bench_cmd"),
    ("tail-stream", "alphapulse_cli.cli.tail_stream_cmd"),
    ("shm-dump", "alphapulse_cli.cli.shm_dump_cmd"),
    ("pin", "alphapulse_cli.cli.pin_cmd"),
    ("local-exchange", "alphapulse_cli.cli.local_exchange_cmd"),
    ("collect", "alphapulse_cli.cli.collect_cmd"),
    ("compact", "alphapulse_cli.cli.compact_cmd"),
    ("query", "alphapulse_cli.cli.query_cmd"),
]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

app = typer.Typer(
    name="alphapulse",
    help="Capture, store and replay crypto market data.",
    no_args_is_help=True,
    add_completion=False,
    context_settings=CONTEXT,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"alphapulse {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None,
        "--version",
        "-V",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
    cpus: Optional[str] = typer.Option(
        None,
        "--cpus",
        metavar="CPULIST",
        help="Pin this process to CPUs (like 2-3,5) before the command runs.",
    ),
) -> None:
    """Capture, store and replay crypto market data.

    Data goes to stdout, talk to stderr. Exit status: 0 ok, 1 error, 2 usage, 3 bad or
    truncated data, 4 upstream (exchange, Redis) unreachable, 130 interrupted.
    """
    if cpus is not None:
        from alphapulse_cli.pin.affinity import pin_current_process

        for warning in pin_current_process(cpus):
            typer.echo(f"alphapulse: warning: {warning}", err=True)


for _name, _module in COMMANDS:
    _mod = importlib.import_module(_module)
    app.command(_name, context_settings=CONTEXT)(_mod.command)


def _quiet_stdout() -> None:
    # A closed pipe (`| head -1`): point stdout at /dev/null so the interpreter's final
    # flush cannot raise again, and exit without a word.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _click_exit(exc: Exception) -> int | None:
    """Exit code for typer's own exceptions (Exit, Abort, usage errors), else None.

    typer may bundle its own copy of click, so these are recognised by shape, not class.
    """
    name = type(exc).__name__
    if name == "Abort":
        return ExitCode.INTERRUPTED
    code = getattr(exc, "exit_code", None)
    if not isinstance(code, int):
        return None
    show = getattr(exc, "show", None)
    if callable(show):
        show()
        return code or ExitCode.USAGE
    return code


def main(argv: Optional[list[str]] = None) -> None:
    try:
        rc = app(args=argv, prog_name="alphapulse", standalone_mode=False)
        code = rc if isinstance(rc, int) else 0
    except AlphapulseError as exc:
        print(f"alphapulse: {exc}", file=sys.stderr)
        code = exc.exit_code
    except BrokenPipeError:
        _quiet_stdout()
        code = ExitCode.OK
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    except Exception as exc:
        mapped = _click_exit(exc)
        if mapped is None:
            raise
        code = mapped
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
    sys.exit(int(code))
