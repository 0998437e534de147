"""Bench suites by name: ``name -> "module:function"``; imported only when run."""

from __future__ import annotations

SUITES: dict[str, str] = {
    "wslog-write": "alphapulse_cli.bench.suites.wslog:write_suite",
    "wslog-read": "alphapulse_cli.bench.suites.wslog:read_suite",
    "replay-merge": "alphapulse_cli.bench.suites.replay:merge_suite",
    "replay-bulk": "alphapulse_cli.bench.suites.replay:bulk_suite",
    "replay-pacing": "alphapulse_cli.bench.suites.replay:pacing_suite",
    "parse": "alphapulse_cli.bench.suites.parse:suite",
    "book": "alphapulse_cli.bench.suites.book:suite",
    "shm": "alphapulse_cli.bench.suites.shm:shm_suite",
    "compact": "alphapulse_cli.bench.suites.compact:suite",
    "e2e": "alphapulse_cli.bench.suites.collect:collect_suite",
    "serve": "alphapulse_cli.bench.suites.serve:serve_suite",
    "redis": "alphapulse_cli.bench.suites.redis:suite",
    "query": "alphapulse_cli.bench.suites.query:suite",
}
