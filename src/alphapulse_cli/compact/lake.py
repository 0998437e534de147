"""The Parquet lake: normalized trades and book levels, for DuckDB, pandas, Spark.

Layout (hive partitioning; the partition values live in the paths, not in the files):

    LAKE/trades/venue=<venue>/symbol=<BASE-QUOTE>/date=<YYYY-MM-DD>/<sha256>.parquet
    LAKE/book_updates/venue=.../symbol=.../date=.../<sha256>.parquet
    LAKE/book_checkpoints/venue=.../symbol=.../date=.../<sha256>.parquet

`<sha256>` is the hash of the source log's raw content, so exporting a log again (a rerun
after a kill, or `--parquet` on logs exported before) replaces its files instead of adding
rows: the lake never holds a log twice. Files are written under a temporary name and
renamed into place.

Columns. trades: ts, ts_exchange, price, size, side (aggressor: buy/sell), trade_id,
venue_symbol. book_updates: one row per changed level: ts, ts_exchange, kind (snapshot or
update), side (bid/ask), price, size (0 removes the level), venue_symbol.
book_checkpoints: full books every `checkpoint_every` of log time and at every change of a
book's validity (see compact.checkpoints): ts, ts_book, valid, reason, depth, side, price,
size, venue_symbol.

- ts is the local receive time (the record timestamp, what `replay --from/--to` selects
  on), ts_exchange the venue's own time when it sends one; both TIMESTAMP(ns), UTC, no zone.
  The date partition is the UTC date of ts.
- price and size are DECIMAL(38, 18): exact (the wire text converted without rounding; a
  value with more than 18 decimals is refused rather than rounded) with 20 integer digits.
- Rows are in log order (time order within a file), zstd-compressed, in row groups of
  ROW_GROUP rows, so the ts min/max statistics of each row group let a time-range scan
  skip what it does not need.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphapulse_cli.compact.checkpoints import Checkpointer, Copy
from alphapulse_cli.compact.scan import TMP_PREFIX, fsync_dir
from alphapulse_cli.errors import DataError

if TYPE_CHECKING:
    from alphapulse_cli.core.derive import Normalizer

ROW_GROUP = 128 * 1024
DECIMAL_PRECISION = 38
DECIMAL_SCALE = 18
DAY_NS = 86_400_000_000_000
DEFAULT_CHECKPOINT_EVERY_NS = 60_000_000_000
TABLES = ("trades", "book_updates", "book_checkpoints")
_COLUMNS = {
    "trades": ("ts", "ts_exchange", "price", "size", "side", "trade_id", "venue_symbol"),
    "book_updates": ("ts", "ts_exchange", "kind", "side", "price", "size", "venue_symbol"),
    "book_checkpoints": (
        "ts",
        "ts_book",
        "valid",
        "reason",
        "depth",
        "side",
        "price",
        "size",
        "venue_symbol",
    ),
}


def _schema(table: str) -> Any:
    import pyarrow as pa

    dec = pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
    ts = pa.timestamp("ns")
    types = {
        "ts": ts,
        "ts_exchange": ts,
        "ts_book": ts,
        "valid": pa.bool_(),
        "reason": pa.string(),
        "depth": pa.int32(),
        "price": dec,
        "size": dec,
        "side": pa.string(),
        "trade_id": pa.string(),
        "venue_symbol": pa.string(),
        "kind": pa.string(),
    }
    return pa.schema([(c, types[c]) for c in _COLUMNS[table]])


def date_text(day: int) -> str:
    """The date= partition value of a day (days since the epoch): 2026-01-13."""
    return _dt.date.fromordinal(_dt.date(1970, 1, 1).toordinal() + day).isoformat()


def partition_dir(lake: Path, table: str, venue: str, symbol: str, date: str) -> Path:
    return lake / table / f"venue={venue}" / f"symbol={symbol}" / f"date={date}"


def open_writer(path: Path, table: str) -> Any:
    """A Parquet writer for one of `table`'s files (write row groups of ROW_GROUP rows)."""
    import pyarrow.parquet as pq

    return pq.ParquetWriter(path, _schema(table), compression="zstd", write_statistics=True)


def table_from_columns(cols: dict[str, list[Any]], schema: Any, source: str) -> Any:
    """Python column lists as a Table of `schema`: decimals from their text, exactly (a value
    that does not fit DECIMAL(38,18) is refused, never rounded), timestamps from ns ints."""
    import pyarrow as pa

    arrays = []
    for field in schema:
        values = cols[field.name]
        if pa.types.is_decimal(field.type):
            try:
                arrays.append(pa.array(values, pa.string()).cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"{source}: a {field.name} does not fit DECIMAL({DECIMAL_PRECISION},"
                    f"{DECIMAL_SCALE}) exactly ({exc}); the lake keeps exact values only"
                ) from None
        elif pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


class _Part:
    """One output file: buffered columns, written one row group at a time."""

    def __init__(self, table: str, final: Path) -> None:
        self.table = table
        self.final = final
        self.tmp = final.with_name(f"{TMP_PREFIX}{final.name}.{os.getpid()}")
        self.cols: dict[str, list[Any]] = {c: [] for c in _COLUMNS[table]}
        self.rows = 0
        self.writer: Any = None

    def flush(self, source: str) -> None:
        if not self.cols["ts"]:
            return

        tbl = table_from_columns(self.cols, _schema(self.table), source)
        if self.writer is None:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.writer = open_writer(self.tmp, self.table)
        self.writer.write_table(tbl, row_group_size=ROW_GROUP)
        for values in self.cols.values():
            values.clear()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def discard(self) -> None:
        self.close()
        self.tmp.unlink(missing_ok=True)


class LakeExport:
    """Collects one log's events (an `index.profile` hook) and writes its Parquet files."""

    def __init__(
        self,
        lake: Path,
        key: str,
        source: str,
        checkpoint_every_ns: int = DEFAULT_CHECKPOINT_EVERY_NS,
    ) -> None:
        self.lake = lake
        self.key = key
        self.source = source
        self.parts: dict[tuple[str, str, str, int], _Part] = {}
        self.counts = dict.fromkeys(TABLES, 0)
        self._dates: dict[int, str] = {}
        self.checkpoints: Checkpointer | None = None
        if checkpoint_every_ns > 0:
            self.checkpoints = Checkpointer(checkpoint_every_ns, self._checkpoint)
        self._norm: Normalizer | None = None
        self._last_ts: int | None = None

    def normalizer(self) -> Normalizer:
        """The normalizer to profile the log with, primed with the state the previous hour's
        log left when this one continues it (compact/carry.py)."""
        from alphapulse_cli.compact import carry
        from alphapulse_cli.core.derive import Normalizer

        if self._norm is None:
            self._norm = Normalizer()
            carry.prime(self.lake, Path(self.source), self._norm)
        return self._norm

    def _part(self, table: str, venue: str, symbol: str, ts: int) -> _Part:
        day = ts // DAY_NS
        key = (table, venue, symbol, day)
        part = self.parts.get(key)
        if part is None:
            date = self._dates.get(day)
            if date is None:
                date = self._dates[day] = date_text(day)
            d = partition_dir(self.lake, table, venue, symbol, date)
            part = self.parts[key] = _Part(table, d / f"{self.key}.parquet")
        return part

    def _checkpoint(self, venue: str, symbol: str, venue_symbol: str, copy: Copy) -> None:
        ts, ts_book, valid, reason, depth, bids, asks = copy
        part = self._part("book_checkpoints", venue, symbol, ts)
        c = part.cols
        levels = [("bid", lv) for lv in bids] + [("ask", lv) for lv in asks]
        if not levels:
            c["side"].append(None)
            c["price"].append(None)
            c["size"].append(None)
            n = 1
        else:
            for side, (price, size) in levels:
                c["side"].append(side)
                c["price"].append(price)
                c["size"].append(size)
            n = len(levels)
        c["ts"].extend([ts] * n)
        c["ts_book"].extend([ts_book] * n)
        c["valid"].extend([valid] * n)
        c["reason"].extend([reason] * n)
        c["depth"].extend([depth] * n)
        c["venue_symbol"].extend([venue_symbol] * n)
        part.rows += n
        self.counts["book_checkpoints"] += n
        if len(c["ts"]) >= ROW_GROUP:
            part.flush(self.source)

    def handle(self, adapter: Any, ts: int, events: list[dict[str, Any]]) -> None:
        self._last_ts = ts
        if self.checkpoints is not None:
            self.checkpoints.observe(adapter, ts, events)
        for ev in events:
            t = ev["type"]
            if t == "trade":
                part = self._part("trades", ev["exchange"], ev["symbol"], ts)
                c = part.cols
                c["ts"].append(ts)
                c["ts_exchange"].append(ev["ts_exchange"])
                c["price"].append(ev["price"])
                c["size"].append(ev["size"])
                c["side"].append(ev["side"])
                tid = ev["trade_id"]
                c["trade_id"].append(None if tid is None else str(tid))
                c["venue_symbol"].append(ev["venue_symbol"])
                part.rows += 1
                self.counts["trades"] += 1
            elif t == "book_update" or t == "book_snapshot":
                part = self._part("book_updates", ev["exchange"], ev["symbol"], ts)
                c = part.cols
                kind = "update" if t == "book_update" else "snapshot"
                n = 0
                for side, levels in (("bid", ev["bids"]), ("ask", ev["asks"])):
                    if levels:
                        # Column-wise: one extend per column, not three appends per level
                        # (a snapshot holds thousands of levels).
                        prices, sizes = zip(*levels, strict=True)
                        c["price"].extend(prices)
                        c["size"].extend(sizes)
                        c["side"].extend([side] * len(levels))
                        n += len(levels)
                c["ts"].extend([ts] * n)
                c["ts_exchange"].extend([ev["ts_exchange"]] * n)
                c["kind"].extend([kind] * n)
                c["venue_symbol"].extend([ev["venue_symbol"]] * n)
                part.rows += n
                self.counts["book_updates"] += n
            else:
                continue
            if len(part.cols["ts"]) >= ROW_GROUP:
                part.flush(self.source)

    def commit(self) -> dict[str, Any]:
        """Write what is buffered and rename every file into place; the index's lake entry."""
        try:
            if self.checkpoints is not None:
                self.checkpoints.close()
            for part in self.parts.values():
                part.flush(self.source)
                part.close()
        except BaseException:
            self.discard()
            raise
        dirs = set()
        for part in self.parts.values():
            fd = os.open(part.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(part.tmp, part.final)
            dirs.add(part.final.parent)
        for d in dirs:
            fsync_dir(d)
        if self._norm is not None:
            from alphapulse_cli.compact import carry

            carry.save(self.lake, Path(self.source), self._norm, self._last_ts)
        return {
            "dir": str(self.lake),
            "rows": dict(self.counts),
            "files": sorted(p.final.relative_to(self.lake).as_posix() for p in self.parts.values()),
        }

    def discard(self) -> None:
        for part in self.parts.values():
            part.discard()


def present(lake: Path, entry: dict[str, Any]) -> bool:
    """Was this log exported to `lake`, and are its files still there?"""
    info = entry.get("lake")
    if not isinstance(info, dict) or Path(str(info.get("dir"))) != lake:
        return False
    files = info.get("files")
    return isinstance(files, list) and all((lake / f).is_file() for f in files)
