"""The .wslog binary format, version 1 (docs/architecture.md §3); see wslog(5).

Little-endian. A stream is a 16-byte preamble followed by records; a preamble may appear again
at any record boundary, so concatenated files form a valid stream.

    preamble: magic b"\\x93WSLOG\\r\\n", version u16 = 1, flags u16 = 0, reserved u32 = 0
    record:   timestamp_ns u64, exchange_id u16, message_len u32, raw_message
    exchange_id: bits 0-7 venue, bits 8-11 connection slot, bits 12-15 kind
"""

from __future__ import annotations

import enum
import struct

MAGIC = b"\x93WSLOG\r\n"
VERSION = 1
PREAMBLE = struct.Struct("<8sHHI")
PREAMBLE_SIZE = PREAMBLE.size  # 16
PREAMBLE_BYTES = PREAMBLE.pack(MAGIC, VERSION, 0, 0)
HEADER = struct.Struct("<QHI")
HEADER_SIZE = HEADER.size  # 14
# The magic read as a record's timestamp: lets the reader spot a preamble with the one
# integer comparison it already makes, instead of a bytes comparison per record.
MAGIC_AS_TS: int = struct.unpack("<Q", MAGIC)[0]
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_MESSAGE_LEN = 1 << 30
# How `replay --serve` closes a connection after the last recorded frame: a code from the
# private range (RFC 6455 §7.4.2) that no venue sends, so `collect` can tell a served log
# that ended from a venue that closed on it, and end the capture instead of reconnecting.
END_OF_LOG_CLOSE_CODE = 4000
END_OF_LOG_CLOSE_REASON = "end of log"


class Kind(enum.IntEnum):
    IN = 0
    OUT = 1
    EVENT = 2


KIND_NAMES = {Kind.IN: "in", Kind.OUT: "out", Kind.EVENT: "event"}
KIND_BY_NAME = {v: k for k, v in KIND_NAMES.items()}


def make_tag(venue: int, kind: int, conn: int = 0) -> int:
    if not 0 <= venue <= 0xFF:
        raise ValueError(f"venue id {venue} out of range 0-255")
    if not 0 <= conn <= 0xF:
        raise ValueError(f"connection slot {conn} out of range 0-15")
    if not 0 <= kind <= 0xF:
        raise ValueError(f"kind {kind} out of range 0-15")
    return venue | (conn << 8) | (kind << 12)


def tag_venue(tag: int) -> int:
    return tag & 0xFF


def tag_conn(tag: int) -> int:
    return (tag >> 8) & 0xF


def tag_kind(tag: int) -> int:
    return tag >> 12


def encode_record(ts_ns: int, tag: int, payload: bytes) -> bytes:
    return HEADER.pack(ts_ns, tag, len(payload)) + payload
