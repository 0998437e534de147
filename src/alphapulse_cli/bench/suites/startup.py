"""startup: how long each command takes to start, against importing typer alone.

Every figure is the CPU time (user + system) of a fresh interpreter in a subprocess:
`python -c pass`, `python -c "import typer"` and, for each command, its cheapest run
(`replay` of an empty log with --format events, `bench --list`, `--help` for the others,
and the top-level --help) as the `alphapulse` script runs it. CPU time rather than wall
time, because on a shared machine the wall time also counts the waits for a free core,
which are noise here; the median wall time is in each figure's note. Each command runs
right after an import of typer, whose time it is compared with: a command's excess is its
time less that run's, so both saw the same load; the typer figure is over all those runs.
The target is an excess of at most TARGET_MS. The children keep their bytecode in a
scratch cache, filled by a first round that is not counted, as an installed package has
its own compiled whatever PYTHONDONTWRITEBYTECODE says.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir
from alphapulse_cli.errors import AlphapulseError
from alphapulse_cli.wslog.format import PREAMBLE_BYTES

TARGET_MS = 50.0
# What the installed `alphapulse` script does.
SCRIPT = "import sys; from alphapulse_cli.cli.app import main; sys.exit(main())"


def _commands(empty: Path) -> list[tuple[str, list[str]]]:
    """(figure name, argv) of the cheap run of the top level and of each command."""
    from alphapulse_cli.cli.app import COMMANDS  # the table only: typer is loaded already

    cli = [sys.executable, "-c", SCRIPT]
    cheap = {
        "replay": ("replay EMPTY --format events", ["replay", str(empty), "--format", "events"]),
        "bench": ("bench --list", ["bench", "--list"]),
    }
    runs = [("--help", [*cli, "--help"])]
    for name, _module in COMMANDS:
        label, args = cheap.get(name, (f"{name} --help", [name, "--help"]))
        runs.append((label, [*cli, *args]))
    return runs


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace").strip().splitlines()
        last = err[-1] if err else ""
        raise AlphapulseError(f"bench startup: {' '.join(argv)} exited {r.returncode}: {last}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return cpu * 1000, wall * 1000


class _Timings:
    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def add(self, cpu_wall: tuple[float, float]) -> float:
        self.cpu.append(cpu_wall[0])
        self.wall.append(cpu_wall[1])
        return cpu_wall[0]

    def result(self, name: str, reference: Result | None = None) -> Result:
        note = f"wall {statistics.median(self.wall):.0f} ms"
        return Result(name, "CPU ms", self.cpu, False, reference=reference, note=note)


def suite(ctx: BenchContext) -> list[Result]:
    """Start-up CPU ms of every command, cheaply run, vs `python -c "import typer"`."""
    py = sys.executable
    with scratch_dir(ctx, "startup") as d:
        empty = d / "empty.wslog"
        empty.write_bytes(PREAMBLE_BYTES)
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(d / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        commands = _commands(empty)
        for _label, argv in [("", [py, "-c", "import typer"]), *commands]:
            _time(argv, env)  # fills the bytecode cache
        bare, typer = _Timings(), _Timings()
        timings = [_Timings() for _ in commands]
        excess: list[list[float]] = [[] for _ in commands]
        for _ in range(ctx.repeats):
            bare.add(_time([py, "-c", "pass"], env))
            for (_label, argv), own, ex in zip(commands, timings, excess, strict=True):
                t = typer.add(_time([py, "-c", "import typer"], env))
                ex.append(own.add(_time(argv, env)) - t)
    bare_r = bare.result("python -c pass")
    typer_r = typer.result('python -c "import typer"', reference=bare_r)
    results = [bare_r, typer_r]
    for (label, _argv), own, ex in zip(commands, timings, excess, strict=True):
        results.append(own.result(label, reference=typer_r))
        over = Result(f"{label}: excess", "CPU ms", ex, False)
        if over.median > TARGET_MS:
            over.note = f"over the {TARGET_MS:.0f} ms target"
        results.append(over)
    return results
