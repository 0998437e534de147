"""The bench framework: a suite is a function ``suite(ctx) -> list[Result]``.

Each Result holds every sample of one figure; the report gives the median and the spread
(min-max relative to the median), and where a reference was measured in the same run (the
`cat` or `zstd` tool, `redis-benchmark`, the stdlib json module), the ratio to it. Figures
are noisy on a shared 2-core machine, so suites repeat and compare ratios from one run.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphapulse_cli.errors import UsageError


@dataclass
class Result:
    name: str
    unit: str
    samples: list[float]
    higher_is_better: bool = True
    reference: Result | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median, a plain noise indicator."""
        m = self.median
        if not self.samples or m == 0:
            return 0.0
        return (max(self.samples) - min(self.samples)) / abs(m)

    @property
    def ratio(self) -> float | None:
        """Our median divided by the reference median (>1 means larger than the reference)."""
        if self.reference is None or self.reference.median == 0:
            return None
        return self.median / self.reference.median

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "spread": round(self.spread, 4),
            "samples": self.samples,
            "higher_is_better": self.higher_is_better,
        }
        if self.reference is not None:
            out["reference"] = self.reference.to_json()
            out["ratio"] = self.ratio
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class BenchContext:
    repeats: int = 5
    quick: bool = False
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    log: Callable[[str], None] = lambda msg: None

    def scale(self, n: int) -> int:
        """Workload size, smaller with --quick (for smoke runs)."""
        return max(1, n // 10) if self.quick else n


def require(module: str) -> Any:
    """Import a module that only the bench needs, or stop with a one-line usage error that
    says how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"bench: {module} is not installed: pip install 'alphapulse-cli[bench]'"
        ) from None


@contextmanager
def scratch_dir(ctx: BenchContext, prefix: str) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=f"alphapulse-bench-{prefix}-", dir=ctx.workdir))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def sample(fn: Callable[[], float], repeats: int, warmup: int = 1) -> list[float]:
    """Run fn (which returns one figure) warmup + repeats times; keep the last `repeats`."""
    for _ in range(warmup):
        fn()
    return [fn() for _ in range(repeats)]


def rate(count: int, fn: Callable[[], object]) -> float:
    """count / seconds taken by fn()."""
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    return count / dt if dt > 0 else float("inf")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(proc: Any, port: int, what: str, timeout: float = 10.0) -> None:
    """Wait until the server `proc` started accepts connections on `port`; AlphapulseError
    naming `what` if it exits or does not within `timeout` seconds."""
    import socket

    from alphapulse_cli.errors import AlphapulseError

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AlphapulseError(f"bench: {what} did not start") from None
            time.sleep(0.05)
