"""The `alphapulse` command: the typer app, the command table, and the one place where
exceptions become exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info
from typer.models import CommandInfo

from alphapulse_cli import __version__
from alphapulse_cli.cli import plain_params
from alphapulse_cli.errors import AlphapulseError, ExitCode

# (command name, module). Each module defines `command`, a typer-annotated function whose
# docstring is the command's help; heavy libraries are imported inside it, not at the top.
# A command's module is imported only when that command runs or its help is asked for.
COMMANDS: list[tuple[str, str]] = [
    ("collect", "alphapulse_cli.cli.collect_cmd"),  # first in --help: where a user starts
    ("replay", "alphapulse_cli.cli.replay_cmd"),
    ("bench", "alphapulse_cli.cli.bench_cmd"),
    ("tail-stream", "alphapulse_cli.cli.tail_stream_cmd"),
    ("shm-dump", "alphapulse_cli.cli.shm_dump_cmd"),
    ("pin", "alphapulse_cli.cli.pin_cmd"),
    ("local-exchange", "alphapulse_cli.cli.local_exchange_cmd"),
    ("compact", "alphapulse_cli.cli.compact_cmd"),
    ("query", "alphapulse_cli.cli.query_cmd"),
    ("dashboard", "alphapulse_cli.cli.dashboard_cmd"),
]

# The first paragraph of each command's docstring, for `alphapulse --help` to list the
# commands without importing them (tests/cli/test_startup.py checks that they match). A
# command missing here is imported for the listing.
SUMMARIES: dict[str, str] = {
    "collect": "Record a venue's live feed: every frame received and sent, plus session events.",
    "replay": "Merge logs by timestamp and write records, raw bytes, events or books.",
    "bench": "Measure throughput and latency; compare with a baseline to catch regressions.",
    "tail-stream": (
        "Follow Redis streams and print their entries as JSON lines, a template, or a live table."
    ),
    "shm-dump": "Print the entries of a shared-memory order-book ring.",
    "pin": "Run a command on chosen CPUs, re-pin a running process, or show its CPUs.",
    "local-exchange": (
        "Serve Coinbase Exchange or Kraken (v2 and v1) market data from a simulated market."
    ),
    "compact": (
        "Compress closed logs to .wslog.zst, keep DATA_DIR/index.json, export a Parquet lake."
    ),
    "query": "Ask the captured market: trades, book updates, a book at an instant, bars, or SQL.",
    "dashboard": (
        "Serve a live dashboard of the capture: firehose, depth chart, trade tape, health, system."
    ),
}

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _PipeClosed(Exception):
    """stdout's reader went away (`| head`). click turns a BrokenPipeError into exit 1 before
    `main` sees it, so the command hands it over under this name instead."""


class _Command(plain_params.PlainParams, TyperCommand):
    """A typer command whose plain options are coerced without pydantic."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _PipeClosed() from None


class _Commands(MutableMapping[str, Any]):
    """The commands by name, each built from its module on first use."""

    def __init__(self) -> None:
        self._modules: dict[str, str] = dict(COMMANDS)
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            module = importlib.import_module(self._modules[name])  # KeyError: no such command
            info = CommandInfo(
                name, cls=_Command, context_settings=CONTEXT, callback=module.command
            )
            self._loaded[name] = get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._modules.setdefault(name, "")
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._modules[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def summary(self, name: str) -> Any:
        """The command if it is loaded, else a stand-in that has only its summary."""
        if name in self._loaded or name not in SUMMARIES:
            return self.get(name)
        return TyperCommand(name=name, help=SUMMARIES[name])


class _Group(plain_params.PlainParams, TyperGroup):
    """The root group: commands load lazily, and the listing in --help loads none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands: _Commands = _Commands()
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self._listing:
            return self.commands.summary(cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="alphapulse",
    help="Capture, store and replay crypto market data.",
    cls=_Group,
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
    except (BrokenPipeError, _PipeClosed):
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
