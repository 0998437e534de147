"""A ring reader: its own position, seqlock-checked copies, exact count of lapped entries.

Entry n (0-based, the n-th ever written) lives in slot n % capacity; its slot lock reads
2n+1 while the writer fills it and 2n+2 once it is complete. A reader wanting entry n
reads the lock, copies the entry, reads the lock again: both must be 2n+2. A smaller lock
means not written yet; a larger one means the writer has lapped us and the entry is gone.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from alphapulse_cli.errors import AlphapulseError, RingError
from alphapulse_cli.shm import layout as L

_LAPPED = b""  # sentinel from _copy: the slot has moved on past the wanted entry


@dataclass(slots=True)
class BookEntry:
    """One entry as copied out of the ring. `raw` is the 828-byte struct ap_book_entry."""

    sequence: int  # 1-based write sequence (the 64-bit count; the struct holds its low 32 bits)
    ts_ns: int
    exchange_id: int
    symbol_id: int
    exchange: str
    symbol: str
    raw: bytes = field(repr=False)

    def levels(self) -> tuple[float, ...]:
        """The 200 floats: bids[50][2] then asks[50][2], as float32 values."""
        return L.ENTRY_LEVELS.unpack_from(self.raw, L.E_BIDS)

    def _side(self, start: int, depth: int) -> list[tuple[float, float]]:
        v = self.levels()[start : start + 2 * min(depth, L.MAX_LEVELS)]
        return [(v[i], v[i + 1]) for i in range(0, len(v), 2) if v[i] != 0.0 or v[i + 1] != 0.0]

    def bids(self, depth: int = L.MAX_LEVELS) -> list[tuple[float, float]]:
        """Non-empty bid levels, best first."""
        return self._side(0, depth)

    def asks(self, depth: int = L.MAX_LEVELS) -> list[tuple[float, float]]:
        return self._side(L.LEVEL_VALUES, depth)


def _lock_holder_alive(st: os.stat_result) -> bool | None:
    """Whether some process holds a write flock on this inode, from /proc/locks
    (None when that file is unreadable). It asks the kernel without touching the lock."""
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if "->" in parts:  # a waiter, not a holder
                    continue
                if (
                    len(parts) >= 6
                    and parts[1] == "FLOCK"
                    and parts[3] == "WRITE"
                    and parts[5] == key
                ):
                    return True
    except OSError:
        return None
    return False


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ShmBookReader:
    """Use :meth:`open`; :meth:`read_next` / :meth:`poll` for entries, :meth:`latest` for
    the newest entry per book. Never blocks and never writes to the ring."""

    def __init__(
        self, path: Path, fd: int, mm: mmap.mmap, g: L.Geometry, st: os.stat_result
    ) -> None:
        self.path = path
        self.geometry = g
        self.capacity = g.capacity
        self._fd = fd
        self._mm = mm
        self._st = st
        self._words = memoryview(mm).cast("Q")
        self._lock_base = g.header_size // 8
        self._stride_words = g.slot_stride // 8
        self._exchanges: dict[int, str] = {}
        self._symbols: dict[int, str] = {}
        self.position = 0  # the next entry number (0-based) this reader wants
        self.lost = 0  # entries overwritten before this reader got to them
        self.returned = 0
        self.closed = False

    @classmethod
    def open(cls, name: str, start: Literal["oldest", "end"] = "oldest") -> ShmBookReader:
        """Map a ring read-only. start: 'oldest' entry still in the ring, or 'end' (only
        entries written from now on). RingError when missing or not a ring."""
        path = L.ring_path(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise RingError(
                f"{path}: no such ring; check the name or start a writer "
                "(replay --shm NAME, collect --shm NAME)"
            ) from None
        except PermissionError:
            raise AlphapulseError(
                f"{path}: permission denied; run as the ring's owner or have the writer "
                "use --shm-mode 640 or 644"
            ) from None
        except OSError as exc:
            raise RingError(f"{path}: cannot open ring: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise RingError(f"{path}: not a ring (not a regular file); check the name")
            g = L.parse_header(path, os.pread(fd, L.PAGE, 0), st.st_size)
            try:
                flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
                mm = mmap.mmap(fd, g.file_size, flags=flags, prot=mmap.PROT_READ)
            except OSError as exc:
                if exc.errno == errno.ENODEV:
                    raise RingError(f"{path}: cannot be memory-mapped; not a ring") from None
                raise
        except BaseException:
            os.close(fd)
            raise
        reader = cls(path, fd, mm, g, st)
        reader.seek(start)
        return reader

    # ---- header --------------------------------------------------------------------------

    @property
    def write_seq(self) -> int:
        """Entries completely written so far."""
        return int(self._words[L.OFF_WRITE_SEQ // 8])

    @property
    def writer_pid(self) -> int:
        return int.from_bytes(
            self._mm[L.OFF_WRITER_PID : L.OFF_WRITER_PID + 4], "little", signed=True
        )

    @property
    def writer_open(self) -> bool:
        """False after the last writer closed the ring cleanly."""
        return self._mm[L.OFF_WRITER_OPEN] != 0

    def writer_alive(self) -> bool:
        """A live process holds the writer's lock (or, without /proc/locks, its pid exists)."""
        held = _lock_holder_alive(self._st)
        if held is not None:
            return held
        return self.writer_open and _pid_alive(self.writer_pid)

    def replaced(self) -> bool:
        """The ring's path now names another file (a writer started with a new geometry)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) != (self._st.st_dev, self._st.st_ino)

    def stats(self) -> dict[str, Any]:
        return {
            "ring": str(self.path),
            "capacity": self.capacity,
            "write_seq": self.write_seq,
            "read": self.returned,
            "lost": self.lost,
            "writer_pid": self.writer_pid,
            "writer_alive": self.writer_alive(),
        }

    # ---- names ---------------------------------------------------------------------------

    def exchange_name(self, exchange_id: int) -> str:
        name = self._exchanges.get(exchange_id)
        if name is None:
            g = self.geometry
            name = ""
            if 0 <= exchange_id < g.exchange_rows:
                off = g.exchange_table_offset + exchange_id * L.NAME_SIZE
                name = L.decode_name(self._mm[off : off + L.NAME_SIZE])
            if not name:
                return f"exchange{exchange_id}"  # not cached: the row may still appear
            self._exchanges[exchange_id] = name
        return name

    def symbol_name(self, symbol_id: int) -> str:
        name = self._symbols.get(symbol_id)
        if name is None:
            g = self.geometry
            count = L.U32.unpack_from(self._mm, L.OFF_SYMBOL_COUNT)[0]
            if not 0 <= symbol_id < min(count, g.symbol_rows):
                return f"symbol{symbol_id}"
            off = g.symbol_table_offset + symbol_id * L.NAME_SIZE
            name = self._symbols[symbol_id] = L.decode_name(self._mm[off : off + L.NAME_SIZE])
        return name

    def symbol_names(self) -> list[str]:
        count = min(L.U32.unpack_from(self._mm, L.OFF_SYMBOL_COUNT)[0], self.geometry.symbol_rows)
        return [self.symbol_name(i) for i in range(count)]

    # ---- entries -------------------------------------------------------------------------

    def seek(self, where: Literal["oldest", "end"] | int) -> None:
        """Move to the oldest entry still in the ring, the end, or an entry number."""
        w = self.write_seq
        if where == "oldest":
            self.position = max(0, w - self.capacity)
        elif where == "end":
            self.position = w
        else:
            self.position = int(where)

    def _copy(self, n: int) -> bytes | None:
        """Entry n's bytes; None if not complete yet; _LAPPED if it has been overwritten."""
        w = self._lock_base + (n % self.capacity) * self._stride_words
        words = self._words
        want = 2 * n + 2
        s1 = words[w]
        if s1 != want:
            return _LAPPED if s1 > want else None
        off = (w << 3) + L.ENTRY_OFFSET
        raw = self._mm[off : off + L.ENTRY_SIZE]
        if words[w] != want:
            return _LAPPED
        return raw

    def read_raw(self) -> tuple[int, bytes] | None:
        """(sequence, 828 raw bytes) of the next entry, or None when there is none yet."""
        while True:
            n = self.position
            raw = self._copy(n)
            if raw:
                self.position = n + 1
                self.returned += 1
                return n + 1, raw
            if raw is None:
                return None
            # Lapped: every entry below write_seq - capacity is overwritten, and so is n.
            skip_to = max(n + 1, self.write_seq - self.capacity)
            self.lost += skip_to - n
            self.position = skip_to

    def wait_raw(self, spins: int) -> tuple[int, bytes] | None:
        """read_raw after busy-polling the next slot's lock up to `spins` times: the
        lowest-latency way to wait, at the price of a busy CPU."""
        n = self.position
        w = self._lock_base + (n % self.capacity) * self._stride_words
        words = self._words
        want = n + n + 2
        for _ in range(spins):
            if words[w] >= want:
                break
        else:
            return None
        # read_raw's common case inlined: every 100 ns counts here.
        if words[w] == want:
            off = (w << 3) + L.ENTRY_OFFSET
            raw = self._mm[off : off + L.ENTRY_SIZE]
            if words[w] == want:
                self.position = n + 1
                self.returned += 1
                return n + 1, raw
        return self.read_raw()

    def _entry(self, seq: int, raw: bytes) -> BookEntry:
        ts, sid, eid = L.ENTRY_HEAD.unpack_from(raw)
        return BookEntry(seq, ts, eid, sid, self.exchange_name(eid), self.symbol_name(sid), raw)

    def read_next(self) -> BookEntry | None:
        got = self.read_raw()
        return None if got is None else self._entry(*got)

    def poll(self, limit: int | None = None) -> list[BookEntry]:
        """Every entry available now (up to limit), oldest first."""
        out: list[BookEntry] = []
        while limit is None or len(out) < limit:
            got = self.read_raw()
            if got is None:
                break
            out.append(self._entry(*got))
        return out

    def latest(self, end: int | None = None) -> list[BookEntry]:
        """The newest complete entry per (exchange, symbol) among the entries before `end`
        (default: write_seq now), in write order. Does not move this reader's position."""
        if end is None:
            end = self.write_seq
        best: dict[tuple[int, int], BookEntry] = {}
        for n in range(end - 1, max(0, end - self.capacity) - 1, -1):
            raw = self._copy(n)
            if not raw:
                continue  # overwritten while we scanned: a newer entry exists past `end`
            ts, sid, eid = L.ENTRY_HEAD.unpack_from(raw)
            if (eid, sid) not in best:
                best[(eid, sid)] = BookEntry(
                    n + 1, ts, eid, sid, self.exchange_name(eid), self.symbol_name(sid), raw
                )
        return sorted(best.values(), key=lambda e: e.sequence)

    def close(self) -> None:
        if self.closed:
            return
        self._words.release()
        self._mm.close()
        os.close(self._fd)
        self.closed = True

    def __enter__(self) -> ShmBookReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
