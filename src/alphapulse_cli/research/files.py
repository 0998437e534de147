"""Finding a lake's Parquet files without opening them: by table, venue, symbol and date from
the hive paths, and each file's time span from its footer, cached by path, size and mtime."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphapulse_cli.compact.lake import DAY_NS, TABLES
from alphapulse_cli.errors import DataError

_PAR1 = b"PAR1"


@dataclass(frozen=True)
class LakeFile:
    path: Path
    table: str
    venue: str
    symbol: str
    day: int  # days since the epoch, from the date= partition


def _day(text: str) -> int | None:
    try:
        return _dt.date.fromisoformat(text).toordinal() - _dt.date(1970, 1, 1).toordinal()
    except ValueError:
        return None


def _value(part: str, key: str) -> str | None:
    prefix = key + "="
    return part[len(prefix) :] if part.startswith(prefix) else None


class LakeFiles:
    """The files of one lake directory. `check()` refuses a directory that is not a lake."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._spans: dict[Path, tuple[int, int, int, int | None, int | None]] = {}

    def check(self) -> None:
        root = self.root
        if not root.is_dir():
            what = "is not a directory" if root.exists() else "does not exist"
            raise DataError(
                f"{root}: the lake {what}; point at the directory `compact --parquet` writes"
            )
        if any((root / t).is_dir() for t in TABLES):
            return
        if any(root.iterdir()):
            raise DataError(
                f"{root}: not an alphapulse lake (no trades/, book_updates/ or "
                "book_checkpoints/ inside); point at the directory `compact --parquet` writes"
            )

    def find(
        self,
        table: str,
        symbol: str | None,
        venue: str | None,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> list[LakeFile]:
        """Files of `table` for the symbol and venue (None: any) whose date partition can
        hold times in [start_ns, end_ns]."""
        base = self.root / table
        if not base.is_dir():
            return []
        lo = None if start_ns is None else start_ns // DAY_NS
        hi = None if end_ns is None else end_ns // DAY_NS
        out = []
        venues = [base / f"venue={venue}"] if venue else sorted(base.glob("venue=*"))
        for vdir in venues:
            v = _value(vdir.name, "venue")
            if v is None or not vdir.is_dir():
                continue
            sdirs = [vdir / f"symbol={symbol}"] if symbol else sorted(vdir.glob("symbol=*"))
            for sdir in sdirs:
                s = _value(sdir.name, "symbol")
                if s is None or not sdir.is_dir():
                    continue
                for ddir in sorted(sdir.glob("date=*")):
                    text = _value(ddir.name, "date")
                    day = _day(text) if text else None
                    if (
                        day is None
                        or (lo is not None and day < lo)
                        or (hi is not None and day > hi)
                    ):
                        continue
                    for f in sorted(ddir.glob("*.parquet")):
                        out.append(LakeFile(f, table, v, s, day))
        return out

    def span(self, f: LakeFile) -> tuple[int | None, int | None]:
        """(min ts, max ts) of a file from its footer's statistics; DataError naming the file
        when it is not a whole Parquet file."""
        path = f.path
        try:
            st = path.stat()
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror})") from None
        cached = self._spans.get(path)
        if cached is not None and cached[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
            return cached[3], cached[4]
        lo, hi = _footer_span(path, st.st_size)
        self._spans[path] = (st.st_size, st.st_mtime_ns, st.st_ino, lo, hi)
        return lo, hi

    def check_whole(self, files: list[LakeFile]) -> None:
        for f in files:
            self.span(f)


def _footer_span(path: Path, size: int) -> tuple[int | None, int | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(0, size - 4))
            tail = fh.read(4)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if size < 12 or head != _PAR1 or tail != _PAR1:
        raise DataError(
            f"{path}: offset {size}: not a whole Parquet file (cut off?); "
            "remove it and run `compact --parquet` again to re-export its log"
        )
    try:
        meta = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: unreadable Parquet footer ({exc}); re-export its log") from None
    lo: int | None = None
    hi: int | None = None
    col = _ts_column(meta)
    if col is None:
        return None, None
    for i in range(meta.num_row_groups):
        stats: Any = meta.row_group(i).column(col).statistics
        if stats is None or not stats.has_min_max:
            return None, None
        a, b = int(stats.min_raw), int(stats.max_raw)  # the int64 ns, never via datetime
        lo = a if lo is None or a < lo else lo
        hi = b if hi is None or b > hi else hi
    return lo, hi


def _ts_column(meta: Any) -> int | None:
    schema = meta.schema
    for i in range(len(schema)):
        if schema.column(i).name == "ts":
            return i
    return None
