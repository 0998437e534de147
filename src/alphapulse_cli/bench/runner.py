"""Running suites, printing figures, saving them and comparing them with a baseline."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from alphapulse_cli import __version__
from alphapulse_cli.bench.core import BenchContext, Result
from alphapulse_cli.bench.registry import SUITES
from alphapulse_cli.errors import DataError, UsageError


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "nan"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def format_result(suite: str, r: Result) -> str:
    line = f"{suite:<14} {r.name:<40} {_fmt(r.median):>16} {r.unit:<10} ±{r.spread * 100:5.1f}%"
    if r.reference is not None and r.ratio is not None:
        ref = r.reference
        line += f"  ratio {r.ratio:.2f} vs {ref.name} ({_fmt(ref.median)} {ref.unit})"
    if r.note:
        line += f"  [{r.note}]"
    return line


def run_suites(names: list[str], *, repeats: int, quick: bool) -> dict[str, list[Result]]:
    chosen = names or list(SUITES)
    unknown = [n for n in chosen if n not in SUITES]
    if unknown:
        raise UsageError(f"unknown bench suite {unknown[0]!r}; known: {', '.join(SUITES)}")
    ctx = BenchContext(
        repeats=repeats, quick=quick, log=lambda m: print(m, file=sys.stderr, flush=True)
    )
    results: dict[str, list[Result]] = {}
    for name in chosen:
        mod, _, fn = SUITES[name].partition(":")
        suite = getattr(importlib.import_module(mod), fn)
        t0 = time.perf_counter()
        ctx.log(f"bench: running {name} ...")
        results[name] = suite(ctx)
        for r in results[name]:
            print(format_result(name, r), flush=True)
        ctx.log(f"bench: {name} took {time.perf_counter() - t0:.1f}s")
    return results


def to_json(results: dict[str, list[Result]]) -> dict[str, Any]:
    return {
        "alphapulse": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "suites": {name: [r.to_json() for r in rs] for name, rs in results.items()},
    }


def write_json(results: dict[str, list[Result]], path: str) -> None:
    Path(path).write_text(json.dumps(to_json(results), indent=2) + "\n")


def compare(results: dict[str, list[Result]], baseline_path: str, max_pct: float) -> list[str]:
    """Lines describing every figure that got worse than the baseline by more than max_pct."""
    try:
        base = json.loads(Path(baseline_path).read_text())
        suites = base["suites"]
    except FileNotFoundError:
        raise UsageError(f"{baseline_path}: no such baseline file") from None
    except (ValueError, KeyError, TypeError):
        raise DataError(
            f"{baseline_path}: offset 0: not a bench JSON file; write one with --json"
        ) from None
    worse = []
    for suite, rs in results.items():
        old = {f["name"]: f for f in suites.get(suite, [])}
        for r in rs:
            prev = old.get(r.name)
            if prev is None or not prev.get("median"):
                continue
            change = (r.median - prev["median"]) / abs(prev["median"]) * 100
            regression = -change if r.higher_is_better else change
            if regression > max_pct:
                worse.append(
                    f"bench: regression: {suite} {r.name}: {_fmt(prev['median'])} -> "
                    f"{_fmt(r.median)} {r.unit} ({regression:.1f}% worse, limit {max_pct}%)"
                )
    return worse
