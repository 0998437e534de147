"""Bench suites by name: ``name -> "module:function"``; imported only when run."""

from __future__ import annotations

SUITES: dict[str, str] = {
    "wslog-write": "alphapulse_cli.bench.suites.wslog:write_suite",
    "wslog-read": "alphapulse_cli.bench.suites.wslog:read_suite",
    "replay-merge": "alphapulse_cli.bench.suites.replay:merge_suite",
    "replay-bulk": "alphapulse_cli.bench.suites.replay:bulk_suite",
    "replay-pacing": "alphapulse_cli.bench.suites.replay:pacing_suite",
    "parse": "alphapulse_cli.bench.suites.parse:suite",
    "peers": "alphapulse_cli.bench.suites.peers:suite",
    "book": "alphapulse_cli.bench.suites.book:suite",
    "shm": "alphapulse_cli.bench.suites.shm:shm_suite",
    "compact": "alphapulse_cli.bench.suites.compact:suite",
    "e2e": "alphapulse_cli.bench.suites.collect:collect_suite",
    "serve": "alphapulse_cli.bench.suites.serve:serve_suite",
    "redis": "alphapulse_cli.bench.suites.redis:suite",
    "redis-cluster": "alphapulse_cli.bench.suites.redis_cluster:suite",
    "startup": "alphapulse_cli.bench.suites.startup:suite",
    "query": "alphapulse_cli.bench.suites.query:suite",
    "dashboard": "alphapulse_cli.bench.suites.dashboard:suite",
    "archive": "alphapulse_cli.bench.suites.archive:suite",
}

# The first paragraph of each suite function's docstring, whole sentences on one line, so
# that `bench --list` imports no suite (tests/cli/test_startup.py checks that they match);
# a suite missing here is imported for its line.
SUMMARIES: dict[str, str] = {
    "wslog-write": "Writer records/s and MB/s on ~160-byte frames (buffered, no fsync).",
    "wslog-read": (
        "Reader records/s yielding (ts, tag, bytes), MB/s, and `cat FILE > /dev/null` as reference."
    ),
    "replay-merge": "Records/s merging 4 files by timestamp (interleaved times), in-process.",
    "replay-bulk": (
        "`alphapulse replay FILE --format wslog > /dev/null` GB/s, against `cat` in the same run."
    ),
    "replay-pacing": "Mean absolute pacing error (ms) at --speed 10 over recorded gaps of 0-50 ms.",
    "parse": (
        "Normalized msgs/s per venue (decode, book, integrity, events) vs stdlib json.loads."
    ),
    "peers": "alphapulse vs cryptofeed (when importable) msgs/s on the same frames, checksums on.",
    "book": (
        "Book update p50/p99 per level change (with string->key conversion) on 50,000 levels, "
        "and top-50 extraction."
    ),
    "shm": (
        "Write ns/entry (floats and decimal strings), the sink's cost per book update, and "
        "cross-process latency p50/p99/p999."
    ),
    "compact": (
        "compact: MB/s vs `zstd` (same files, same run), also for a whole `compact DATA_DIR` run, "
        "with a lake vs replay events; Parquet rows/s, DuckDB range-query ms."
    ),
    "e2e": "Zero loss, highest sustained rate, receive-to-written latency and RSS of collect.",
    "serve": "Frames/s from `replay --serve` to a websockets client and to a raw socket reader.",
    "redis": (
        "Publisher and tail-stream (group, acks) entries/s against redis-benchmark XADD -P 64."
    ),
    "redis-cluster": (
        "Cluster publish and tail-stream entries/s vs redis-benchmark XADD on one master."
    ),
    "startup": 'Start-up CPU ms of every command, cheaply run, vs `python -c "import typer"`.',
    "query": (
        "Research API over a 30-day lake: trades 1h vs DuckDB SQL and replay, 1d rows/s, "
        "book_at, 1m bars."
    ),
    "dashboard": (
        "Dashboard CPU, RSS and updates/s with collect at 10k msg/s; collect's p99 with/without."
    ),
    "archive": "Archive MB/s to a loopback S3 (moto) with verification vs pyarrow.fs.copy_files.",
}


def summary(name: str) -> str:
    """The first paragraph of the suite's docstring, on one line."""
    if name in SUMMARIES:
        return SUMMARIES[name]
    import importlib

    mod, _, fn = SUITES[name].partition(":")
    doc = (getattr(importlib.import_module(mod), fn).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def list_lines() -> list[str]:
    return [f"{name:<14} {summary(name)}" for name in SUITES]
