"""The shared-memory order-book ring, version 1: byte layout, paths and header checks.

The layout and the protocol are documented for users (as C structs) in the `shm-dump`
command's help, which becomes alphapulse-shm-dump(1); tests check that text against the
constants here.
"""

from __future__ import annotations

import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from alphapulse_cli.errors import RingError, UsageError

MAGIC = b"\x93APSHM\r\n"
VERSION = 1
DEFAULT_DIR = "/dev/shm/alphapulse"
DIR_ENV = "ALPHAPULSE_SHM_DIR"

MAX_LEVELS = 50
LEVEL_VALUES = MAX_LEVELS * 2  # price, size per level
ENTRY_SIZE = 828
ENTRY_OFFSET = 8  # the entry follows the slot's 8-byte seqlock word
SLOT_STRIDE = 896  # 8 + 828 rounded up to whole 64-byte cache lines
PAGE = 4096

NAME_SIZE = 32  # UTF-8, NUL-padded; at most 31 bytes so C readers always find a NUL
EXCHANGE_ROWS = 256
EXCHANGE_TABLE_OFFSET = PAGE
SYMBOL_TABLE_OFFSET = EXCHANGE_TABLE_OFFSET + EXCHANGE_ROWS * NAME_SIZE
DEFAULT_SYMBOL_ROWS = 4096
DEFAULT_CAPACITY = 8192
MAX_CAPACITY = 1 << 24

# struct ap_ring_header (little-endian, no padding).
HEADER = struct.Struct("<8sIIIIIIQiIQQIIIIIII")
OFF_WRITE_SEQ = 32
OFF_WRITER_PID = 40
OFF_WRITER_OPEN = 44
OFF_WRITER_START = 48
OFF_SYMBOL_COUNT = 80

# Entry fields, offsets inside struct ap_book_entry.
E_TS = 0
E_SYMBOL_ID = 8
E_EXCHANGE_ID = 12
E_BIDS = 16
E_ASKS = E_BIDS + LEVEL_VALUES * 4  # 416
E_SEQUENCE = E_ASKS + LEVEL_VALUES * 4  # 816
E_PADDING = E_SEQUENCE + 4  # 820

LITTLE = sys.byteorder == "little"
# On a little-endian host the native codes ('@', '=') are byte-identical to '<' for this
# layout (every field is naturally aligned) and CPython packs them with plain memcpy, which
# is about a quarter faster for the 200 floats.
NATIVE = "@" if LITTLE else "<"
ENTRY_HEAD = struct.Struct("<QII")
ENTRY_LEVELS = struct.Struct(f"<{2 * LEVEL_VALUES}f")
ENTRY = struct.Struct(f"<QII{2 * LEVEL_VALUES}fI8x")
U32 = struct.Struct("<I")
U64 = struct.Struct(f"{NATIVE}Q")
assert ENTRY.size == ENTRY_SIZE and HEADER.size == 92


def align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def header_size_for(symbol_rows: int) -> int:
    return align(SYMBOL_TABLE_OFFSET + symbol_rows * NAME_SIZE, PAGE)


def ring_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or DEFAULT_DIR)


def ring_path(name: str) -> Path:
    """`/dev/shm/alphapulse/<name>`; a name containing '/' is taken as a path."""
    if "/" in name:
        return Path(name)
    if not name or name.startswith(".") or len(name.encode()) > 200 or "\0" in name:
        raise UsageError(
            f"bad ring name {name!r}: expected a plain file name such as 'orderbook' "
            "(no '/', not starting with '.')"
        )
    return ring_dir() / name


@dataclass(frozen=True)
class Geometry:
    header_size: int
    entry_size: int
    slot_stride: int
    capacity: int
    max_levels: int
    exchange_table_offset: int
    exchange_rows: int
    symbol_table_offset: int
    symbol_rows: int
    name_size: int
    entry_offset: int

    @property
    def file_size(self) -> int:
        return self.header_size + self.capacity * self.slot_stride


def new_geometry(capacity: int, symbol_rows: int = DEFAULT_SYMBOL_ROWS) -> Geometry:
    if not 1 <= capacity <= MAX_CAPACITY:
        raise UsageError(f"ring capacity {capacity}: expected 1 to {MAX_CAPACITY} slots")
    return Geometry(
        header_size=header_size_for(symbol_rows),
        entry_size=ENTRY_SIZE,
        slot_stride=SLOT_STRIDE,
        capacity=capacity,
        max_levels=MAX_LEVELS,
        exchange_table_offset=EXCHANGE_TABLE_OFFSET,
        exchange_rows=EXCHANGE_ROWS,
        symbol_table_offset=SYMBOL_TABLE_OFFSET,
        symbol_rows=symbol_rows,
        name_size=NAME_SIZE,
        entry_offset=ENTRY_OFFSET,
    )


def pack_header(g: Geometry, *, writer_pid: int, writer_start_ns: int, created_ns: int) -> bytes:
    return HEADER.pack(
        MAGIC,
        VERSION,
        g.header_size,
        g.entry_size,
        g.slot_stride,
        g.capacity,
        g.max_levels,
        0,  # write_seq
        writer_pid,
        1,  # writer_open
        writer_start_ns,
        created_ns,
        g.exchange_table_offset,
        g.exchange_rows,
        g.symbol_table_offset,
        g.symbol_rows,
        0,  # symbol_count
        g.name_size,
        g.entry_offset,
    )


def parse_header(path: Path | str, data: bytes, file_size: int) -> Geometry:
    """Check a ring header; RingError (one line, naming the file) when it is not a ring."""
    what = "expected an alphapulse shared-memory ring"
    if len(data) < HEADER.size:
        raise RingError(f"{path}: not a ring ({file_size} bytes, {what}); check the name")
    (
        magic,
        version,
        header_size,
        entry_size,
        stride,
        capacity,
        max_levels,
        _seq,
        _pid,
        _open,
        _start,
        _created,
        ex_off,
        ex_rows,
        sym_off,
        sym_rows,
        _count,
        name_size,
        entry_off,
    ) = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise RingError(f"{path}: offset 0: bad magic {magic!r}, {what}; check the name")
    if version != VERSION:
        raise RingError(
            f"{path}: offset 8: ring version {version}, this alphapulse reads version "
            f"{VERSION}; use a matching alphapulse or restart the writer"
        )
    g = Geometry(
        header_size, entry_size, stride, capacity, max_levels, ex_off, ex_rows, sym_off,
        sym_rows, name_size, entry_off,
    )  # fmt: skip
    sane = (
        entry_size == ENTRY_SIZE
        and max_levels == MAX_LEVELS
        and name_size == NAME_SIZE
        and entry_off == ENTRY_OFFSET
        and 1 <= capacity <= MAX_CAPACITY
        and stride >= ENTRY_OFFSET + ENTRY_SIZE
        and stride % 8 == 0
        and header_size % 8 == 0
        and ex_off >= HEADER.size
        and ex_off + ex_rows * NAME_SIZE <= header_size
        and sym_off >= HEADER.size
        and sym_off + sym_rows * NAME_SIZE <= header_size
    )
    if not sane:
        raise RingError(
            f"{path}: corrupt ring header (geometry {g}); remove it and restart the writer"
        )
    if file_size < g.file_size:
        raise RingError(
            f"{path}: ring cut short ({file_size} bytes, header says {g.file_size}); "
            "remove it and restart the writer"
        )
    return g


def decode_name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def encode_name(name: str, what: str) -> bytes:
    raw = name.encode()
    if not raw or len(raw) >= NAME_SIZE or b"\0" in raw:
        raise UsageError(
            f"{what} name {name!r}: expected 1 to {NAME_SIZE - 1} bytes of UTF-8 for the ring's "
            "name table"
        )
    return raw.ljust(NAME_SIZE, b"\0")
