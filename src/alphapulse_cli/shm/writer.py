"""The ring's single writer: publishes order books into `/dev/shm/alphapulse/<name>`.

The writer never waits for a reader. Each entry is published with the seqlock protocol
described in alphapulse-shm-dump(1): slot lock odd, entry, slot lock even, then the
header's write_seq. An exclusive flock on the ring file marks the live writer; the kernel
drops it when the writer dies, which is how a later writer knows it may take the ring over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import struct
import time
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from alphapulse_cli.errors import (
    AlphapulseError,
    DataError,
    ResourceBusyError,
    RingError,
    UsageError,
)
from alphapulse_cli.shm import layout as L
from alphapulse_cli.venues_table import VENUE_IDS

# Names not in the venue table get ids from here up, so they never collide with a venue id.
_FIRST_FREE_EXCHANGE_ID = 128
_FLOAT_CACHE_LIMIT = 200_000
_U32_INTO = struct.Struct(f"{L.NATIVE}I").pack_into


class _FloatCache(dict[Any, float]):
    """Decimal string -> float; book levels repeat from one update to the next."""

    def __missing__(self, key: Any) -> float:
        value = self[key] = float(key)
        return value


def _busy(path: Path, fd: int) -> ResourceBusyError:
    pid = "?"
    with contextlib.suppress(OSError, struct.error):
        head = os.pread(fd, L.HEADER.size, 0)
        if head[:8] == L.MAGIC:
            pid = str(struct.unpack_from("<i", head, L.OFF_WRITER_PID)[0])
    return ResourceBusyError(
        f"{path}: ring is being written by live process {pid}; stop that writer or use "
        "another --shm name"
    )


def _map(fd: int, size: int) -> mmap.mmap:
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    return mmap.mmap(fd, size, flags=flags)


class ShmBookWriter:
    """Use :meth:`open`; then :meth:`write_book` per book change and :meth:`close`."""

    def __init__(self, path: Path, fd: int, mm: mmap.mmap, geometry: L.Geometry) -> None:
        self.path = path
        self.geometry = geometry
        self.capacity = geometry.capacity
        self._fd = fd
        self._mm = mm
        self._words = memoryview(mm).cast("Q")
        # (seqlock word index, entry byte offset, sequence field offset) per slot
        self._slots = [
            (base // 8, base + geometry.entry_offset, base + geometry.entry_offset + L.E_SEQUENCE)
            for base in (
                geometry.header_size + k * geometry.slot_stride for k in range(geometry.capacity)
            )
        ]
        self._seq: int = self._words[L.OFF_WRITE_SEQ // 8]
        self._packers: dict[int, Any] = {}
        self._conv = _FloatCache()
        self._ids: dict[tuple[str, str], tuple[int, int]] = {}
        self._exchange_ids: dict[str, int] = {}
        self._symbol_ids: dict[str, int] = {}
        self._symbol_count = 0
        self._load_names()
        self.closed = False

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        name: str,
        capacity: int | None = None,
        mode: int = 0o600,
        *,
        symbol_rows: int = L.DEFAULT_SYMBOL_ROWS,
    ) -> ShmBookWriter:
        """Create the ring, or take over one whose writer is gone.

        capacity None keeps an existing ring's capacity (new rings get DEFAULT_CAPACITY);
        a different capacity replaces the file (readers must reopen). A live writer on
        the same ring raises ResourceBusyError.
        """
        if not L.LITTLE:
            raise AlphapulseError("the shared-memory ring is little-endian only (x86-64, arm64)")
        if not 0 <= mode <= 0o777:
            raise UsageError(f"--shm-mode {mode:o}: expected permission bits such as 600 or 640")
        path = L.ring_path(name)
        want = L.new_geometry(capacity or L.DEFAULT_CAPACITY, symbol_rows)
        for _attempt in range(100):
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                made = cls._create(path, want, mode)
                if made is not None:
                    return made
                continue  # another writer created it first: go through the takeover path
            except OSError as exc:
                raise cls._open_error(path, exc) from None
            try:
                writer = cls._take_over(path, fd, want, capacity, mode)
            except BaseException:
                os.close(fd)
                raise
            if writer is not None:
                return writer
            os.close(fd)  # the file was replaced while we locked it: look again
        raise ResourceBusyError(
            f"{path}: the ring keeps being replaced; is another writer starting?"
        )

    @staticmethod
    def _open_error(path: Path, exc: OSError) -> AlphapulseError:
        if exc.errno == errno.ELOOP:
            return RingError(f"{path}: is a symbolic link, expected a ring file; remove it")
        if exc.errno == errno.EACCES:
            return AlphapulseError(f"{path}: permission denied; run as the ring's owner")
        return AlphapulseError(f"{path}: cannot open ring: {exc.strerror}")

    @classmethod
    def _create(cls, path: Path, g: L.Geometry, mode: int) -> ShmBookWriter | None:
        """Build a ring under a temporary name, then link it into place (fails if it exists)."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            fd = os.open(
                tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode
            )
        except FileExistsError:
            tmp.unlink(missing_ok=True)  # left by a dead writer with our pid
            return None
        except OSError as exc:
            raise cls._open_error(path, exc) from None
        try:
            os.fchmod(fd, mode)  # the umask must not narrow what --shm-mode asked for
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            writer = cls._init_file(path, fd, g)
            try:
                os.link(tmp, path)
            except FileExistsError:
                writer._release()
                return None
            return writer
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def _init_file(cls, path: Path, fd: int, g: L.Geometry) -> ShmBookWriter:
        try:
            os.ftruncate(fd, g.file_size)
            # Allocate the pages now: a full /dev/shm fails here, not as SIGBUS mid-write,
            # and no write pays for a page fault.
            os.posix_fallocate(fd, 0, g.file_size)
        except OSError as exc:
            raise AlphapulseError(
                f"{path}: cannot allocate a {g.file_size}-byte ring ({exc.strerror}); free space "
                f"in {path.parent} or use a smaller capacity"
            ) from None
        mm = _map(fd, g.file_size)
        now = time.time_ns()
        head = L.pack_header(g, writer_pid=os.getpid(), writer_start_ns=now, created_ns=now)
        mm[8 : len(head)] = head[8:]
        mm[0:8] = L.MAGIC  # last, so a half-built header is never taken for a ring
        return cls(path, fd, mm, g)

    @classmethod
    def _take_over(
        cls, path: Path, fd: int, want: L.Geometry, capacity: int | None, mode: int
    ) -> ShmBookWriter | None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(path, fd) from None
        st = os.fstat(fd)
        try:
            now_st = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if (now_st.st_dev, now_st.st_ino) != (st.st_dev, st.st_ino):
            return None
        head = os.pread(fd, L.PAGE, 0)
        g = L.parse_header(path, head, st.st_size)
        if (capacity is not None and g.capacity != capacity) or g.symbol_rows != want.symbol_rows:
            return cls._replace(path, fd, want, mode)
        with contextlib.suppress(PermissionError):
            os.fchmod(fd, mode)
        mm = _map(fd, g.file_size)
        n = struct.unpack_from("<Q", mm, L.OFF_WRITE_SEQ)[0]
        lock = g.header_size + (n % g.capacity) * g.slot_stride
        if struct.unpack_from("<Q", mm, lock)[0] == 2 * n + 2:
            # The dead writer finished entry n but not write_seq. Readers may already hold
            # that entry: publish it rather than rewrite the slot under them.
            struct.pack_into("<Q", mm, L.OFF_WRITE_SEQ, n + 1)
        struct.pack_into("<iIQ", mm, L.OFF_WRITER_PID, os.getpid(), 1, time.time_ns())
        return cls(path, fd, mm, g)

    @classmethod
    def _replace(cls, path: Path, old_fd: int, g: L.Geometry, mode: int) -> ShmBookWriter:
        """A new geometry: build a fresh ring and rename it over the old one, whose lock we
        hold until the rename is done so no other writer can slip in between."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        try:
            os.fchmod(fd, mode)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            writer = cls._init_file(path, fd, g)
            os.replace(tmp, path)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(old_fd)
        return writer

    # ---- names ---------------------------------------------------------------------------

    def _load_names(self) -> None:
        g, mm = self.geometry, self._mm
        for i in range(g.exchange_rows):
            off = g.exchange_table_offset + i * L.NAME_SIZE
            if mm[off] != 0:
                self._exchange_ids[L.decode_name(mm[off : off + L.NAME_SIZE])] = i
        count = min(L.U32.unpack_from(mm, L.OFF_SYMBOL_COUNT)[0], g.symbol_rows)
        for i in range(count):
            off = g.symbol_table_offset + i * L.NAME_SIZE
            self._symbol_ids[L.decode_name(mm[off : off + L.NAME_SIZE])] = i
        self._symbol_count = count

    def _exchange_id(self, exchange: str) -> int:
        eid = self._exchange_ids.get(exchange)
        if eid is not None:
            return eid
        raw = L.encode_name(exchange, "exchange")
        eid = VENUE_IDS.get(exchange)
        if eid is None:
            used = set(self._exchange_ids.values())
            free = [
                i
                for i in range(_FIRST_FREE_EXCHANGE_ID, self.geometry.exchange_rows)
                if i not in used
            ]
            if not free:
                raise AlphapulseError(f"{self.path}: exchange table full; use a new ring name")
            eid = free[0]
        off = self.geometry.exchange_table_offset + eid * L.NAME_SIZE
        self._mm[off : off + L.NAME_SIZE] = raw
        self._exchange_ids[exchange] = eid
        return eid

    def _symbol_id(self, symbol: str) -> int:
        sid = self._symbol_ids.get(symbol)
        if sid is not None:
            return sid
        raw = L.encode_name(symbol, "symbol")
        sid = self._symbol_count
        if sid >= self.geometry.symbol_rows:
            raise AlphapulseError(
                f"{self.path}: symbol table full ({sid} names); use a new ring name"
            )
        off = self.geometry.symbol_table_offset + sid * L.NAME_SIZE
        self._mm[off : off + L.NAME_SIZE] = raw
        # The row is complete before symbol_count covers it.
        L.U32.pack_into(self._mm, L.OFF_SYMBOL_COUNT, sid + 1)
        self._symbol_count = sid + 1
        self._symbol_ids[symbol] = sid
        return sid

    def ids(self, exchange: str, symbol: str) -> tuple[int, int]:
        """(exchange_id, symbol_id), registering the names in the ring's tables if new."""
        key = (exchange, symbol)
        ids = self._ids.get(key)
        if ids is None:
            ids = self._ids[key] = (self._exchange_id(exchange), self._symbol_id(symbol))
        return ids

    # ---- writing -------------------------------------------------------------------------

    def _packer(self, nb: int, na: int) -> Any:
        if not (0 <= nb <= L.MAX_LEVELS and 0 <= na <= L.MAX_LEVELS):
            raise UsageError(f"book of {nb} bids and {na} asks: at most {L.MAX_LEVELS} a side")
        # Everything before the entry's sequence field. Pad bytes are zero-filled by pack:
        # levels past the book's depth read as 0.
        fmt = f"{L.NATIVE}QII{2 * nb}f{8 * (L.MAX_LEVELS - nb)}x{2 * na}f{8 * (L.MAX_LEVELS - na)}x"
        packer = struct.Struct(fmt)
        assert packer.size == L.E_SEQUENCE
        self._packers[(nb << 8) | na] = packer.pack
        return packer.pack

    def write_entry(self, nb: int, na: int, values: tuple[Any, ...]) -> int:
        """Publish one entry from a ready tuple: (ts_ns, symbol_id, exchange_id, then 2*nb
        bid and 2*na ask floats, price and size alternating, best first).

        The fastest way in: struct takes the tuple as it is, and the entry is packed
        before the slot is locked, so readers only ever wait for a memcpy. Returns the
        entry's write sequence (1-based); struct.error if `values` does not fit nb and na.
        """
        pack = self._packers.get((nb << 8) | na)
        if pack is None:
            pack = self._packer(nb, na)
        body = pack(*values)
        n = self._seq
        w, off, seq_off = self._slots[n % self.capacity]
        words = self._words
        mm = self._mm
        words[w] = n + n + 1  # odd: entry n is being written
        n += 1
        mm[off:seq_off] = body
        _U32_INTO(mm, seq_off, n & 0xFFFFFFFF)
        words[w] = n + n  # 2n+2 for entry n: complete
        words[4] = n  # write_seq, at offset 32
        self._seq = n
        return n

    def write_levels(
        self,
        ts_ns: int,
        exchange_id: int,
        symbol_id: int,
        bid_values: Sequence[float],
        ask_values: Sequence[float],
    ) -> int:
        """Publish one entry from flat [price, size, price, size, ...] floats, best first.
        Returns the entry's write sequence (1-based)."""
        nvb, nva = len(bid_values), len(ask_values)
        if nvb & 1 or nva & 1:
            raise UsageError("level values must come in price, size pairs")
        values = (ts_ns, symbol_id, exchange_id, *bid_values, *ask_values)
        return self.write_entry(nvb >> 1, nva >> 1, values)

    def write_book(
        self,
        ts_ns: int,
        exchange: str,
        symbol: str,
        bids: Sequence[Sequence[Any]],
        asks: Sequence[Sequence[Any]],
    ) -> int:
        """Publish a book: [price, size] pairs best first (decimal strings or numbers).

        The top 50 levels a side are kept; converting the decimal strings to float32 is the
        one lossy step. Returns the entry's write sequence (1-based).
        """
        key = (exchange, symbol)
        ids = self._ids.get(key) or self.ids(exchange, symbol)
        if len(bids) > L.MAX_LEVELS:
            bids = bids[: L.MAX_LEVELS]
        if len(asks) > L.MAX_LEVELS:
            asks = asks[: L.MAX_LEVELS]
        conv = self._conv
        if len(conv) > _FLOAT_CACHE_LIMIT:
            conv.clear()
        get = conv.__getitem__
        try:
            b = tuple(map(get, chain.from_iterable(bids)))
            a = tuple(map(get, chain.from_iterable(asks)))
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"{exchange} {symbol} at {ts_ns}: book level is not a number ({exc})"
            ) from None
        if len(b) != 2 * len(bids) or len(a) != 2 * len(asks):
            raise DataError(
                f"{exchange} {symbol} at {ts_ns}: book levels must be [price, size] pairs"
            )
        return self.write_entry(len(bids), len(asks), (ts_ns, ids[1], ids[0], *b, *a))

    @property
    def write_seq(self) -> int:
        return self._seq

    # ---- closing -------------------------------------------------------------------------

    def _release(self) -> None:
        self._words.release()
        self._mm.close()
        os.close(self._fd)  # drops the flock
        self.closed = True

    def close(self) -> None:
        """Mark the ring as closed (the entries stay for readers) and release it."""
        if self.closed:
            return
        L.U32.pack_into(self._mm, L.OFF_WRITER_OPEN, 0)
        self._release()

    def __enter__(self) -> ShmBookWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_ring(name: str) -> bool:
    """Delete a ring file; True if there was one."""
    try:
        L.ring_path(name).unlink()
    except FileNotFoundError:
        return False
    return True
