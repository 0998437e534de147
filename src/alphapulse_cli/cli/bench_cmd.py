"""`alphapulse bench`: run speed suites, report medians, compare with a baseline."""

from __future__ import annotations

from typing import Optional

import typer

from alphapulse_cli.cli.options import split_list


def command(
    suites: Optional[list[str]] = typer.Argument(
        None, metavar="[SUITE]...", help="Suites to run (default: all). See --list."
    ),
    list_suites: bool = typer.Option(False, "--list", help="List the suites and exit."),
    repeats: int = typer.Option(5, "--repeats", "-r", min=1, help="Samples per figure."),
    quick: bool = typer.Option(False, "--quick", help="Smaller workloads (a smoke run)."),
    json_path: Optional[str] = typer.Option(
        None, "--json", help="Write the results to FILE as JSON."
    ),
    baseline: Optional[str] = typer.Option(
        None, "--baseline", help="Compare with results saved earlier by --json."
    ),
    max_regression: float = typer.Option(
        10.0,
        "--max-regression",
        min=0.0,
        help="With --baseline: exit 1 when a figure got worse by more than PCT.",
    ),
) -> None:
    """Measure throughput and latency; compare with a baseline to catch regressions.

    Each figure is the median of --repeats runs, with its spread; where a reference tool is
    measured in the same run (cat, zstd, redis-benchmark, the json module) its ratio is shown.
    Figures are noisy: compare ratios from one run, and medians.

    Examples:

        alphapulse bench --list

        alphapulse bench wslog-read wslog-write --json bench.json

        alphapulse bench --baseline bench.json --max-regression 15
    """
    import sys

    if list_suites:
        from alphapulse_cli.bench.registry import list_lines

        for line in list_lines():
            print(line)
        return
    from alphapulse_cli.bench.runner import compare, run_suites, write_json

    results = run_suites(split_list(suites), repeats=repeats, quick=quick)
    if json_path:
        write_json(results, json_path)
    if baseline:
        worse = compare(results, baseline, max_regression)
        for line in worse:
            print(line, file=sys.stderr)
        if worse:
            raise typer.Exit(1)
