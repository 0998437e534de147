"""`alphapulse pin`: run a command on chosen CPUs, re-pin a running process, or show one."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from alphapulse_cli.errors import AlphapulseError, UsageError


def command(
    cpus: Optional[str] = typer.Argument(
        None, metavar="CPUS", help="CPU list like 2-3,5 or 0-7:2 (with --show: the PID to show)."
    ),
    argv: Optional[list[str]] = typer.Argument(
        None, metavar="[-- COMMAND...]", help="The command to run pinned, after --."
    ),
    pid: Optional[int] = typer.Option(
        None, "--pid", "-p", help="Pin (or --show) this running process, all its threads."
    ),
    show: bool = typer.Option(
        False,
        "--show",
        help="Print a process's CPUs and scheduling as a JSON line (default: this one).",
    ),
    nice: Optional[int] = typer.Option(
        None, "--nice", "-n", min=-20, max=19, help="Also set the nice value (-20 to 19)."
    ),
    realtime: Optional[int] = typer.Option(
        None,
        "--realtime",
        metavar="PRIO",
        help="Also set SCHED_FIFO realtime scheduling at PRIO (1-99).",
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Also say which chosen CPUs the kernel has not isolated (isolcpus=).",
    ),
) -> None:
    """Run a command on chosen CPUs, re-pin a running process, or show its CPUs.

    CPU lists are taskset's: CPU numbers and ranges, comma-separated, a range optionally
    with a stride (0-7:2 is 0,2,4,6). A malformed list exits with status 2. A CPU that does
    not exist is left out with a warning (none existing is an error). With -v, CPUs that
    the kernel has not isolated from other tasks (isolcpus=, listed in
    /sys/devices/system/cpu/isolated) are named once: pinning works there, but other
    tasks share those CPUs. A running process is pinned thread by thread.

    --nice and --realtime set the scheduling priority of the command or the process; where
    that is not permitted (a lower nice value or realtime scheduling without root or
    CAP_SYS_NICE) the error says so and nothing runs. The global option
    `alphapulse --cpus CPUS COMMAND` pins any alphapulse command the same way.

    Examples:

        alphapulse pin 2-3 -- alphapulse collect coinbase BTC-USD --shm orderbook

        alphapulse pin 3 --realtime 10 -- alphapulse shm-dump orderbook --follow

        alphapulse pin --pid 4242 1

        alphapulse pin --show 4242
    """
    from alphapulse_cli.pin import affinity

    argv = list(argv or [])
    if show:
        if argv or (cpus is not None and pid is not None):
            raise UsageError("--show takes one PID (or --pid PID) and no command")
        target = pid if pid is not None else _pid_arg(cpus)
        import json

        print(json.dumps(affinity.describe(target)), flush=True)
        return
    if pid is not None and argv:
        raise UsageError("give either --pid PID or a command after --, not both")
    if pid is None and not argv:
        raise UsageError("nothing to pin: give a command after --, --pid PID, or --show")
    if cpus is None and (pid is None or (nice is None and realtime is None)):
        raise UsageError("CPUS missing: give a CPU list such as 2-3,5")
    chosen: set[int] | None = None
    if cpus is not None:
        chosen, warnings = affinity.check_cpus(affinity.parse_cpu_list(cpus), isolation=verbose)
        for w in warnings:
            typer.echo(f"alphapulse: warning: {w}", err=True)
    target = pid or 0
    before = affinity.get_affinity(target)
    if chosen is not None:
        affinity.set_affinity(target, chosen)
    if nice is not None:
        affinity.set_nice(target, nice)
    if realtime is not None:
        affinity.set_realtime(target, realtime)
    if pid is not None:
        after = affinity.format_cpu_list(affinity.get_affinity(pid))
        typer.echo(f"pid {pid}: CPU {affinity.format_cpu_list(before)} -> {after}", err=True)
        return
    _exec(argv)


def _pid_arg(text: Optional[str]) -> int:
    if text is None:
        return os.getpid()
    if not text.isdigit():
        raise UsageError(f"--show {text!r}: expected a process id")
    return int(text)


def _exec(argv: list[str]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(argv[0], argv)
    except FileNotFoundError:
        raise AlphapulseError(f"{argv[0]}: command not found") from None
    except PermissionError:
        raise AlphapulseError(f"{argv[0]}: permission denied (not executable?)") from None
    except OSError as exc:
        raise AlphapulseError(f"{argv[0]}: cannot run: {exc.strerror}") from None
