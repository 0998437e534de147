"""Helpers for the adapter tests: the documented example messages, read from tests/data."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
EXAMPLES = DATA / "protocol-examples"
TS = 1_700_000_000_000_000_000


def example(name: str) -> bytes:
    """One example message, exactly as stored."""
    return (EXAMPLES / name).read_bytes()


def compact(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]
