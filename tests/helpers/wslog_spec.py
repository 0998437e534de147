"""An independent .wslog encoder (plain struct, written from the spec, not from our writer)."""

from __future__ import annotations

import struct

MAGIC = b"\x93WSLOG\r\n"


def spec_preamble() -> bytes:
    return MAGIC + struct.pack("<HHI", 1, 0, 0)


def spec_record(ts: int, venue: int, kind: int, payload: bytes, conn: int = 0) -> bytes:
    return struct.pack("<QHI", ts, venue | (conn << 8) | (kind << 12), len(payload)) + payload


def spec_log(records: list[tuple[int, int, int, bytes]]) -> bytes:
    return spec_preamble() + b"".join(spec_record(*r) for r in records)
