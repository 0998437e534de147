"""`Lake`: the captured market as Arrow tables, history, raw logs and live Redis in one call.

    lake = Lake("lake/", raw="data/", redis="redis://127.0.0.1:6379")
    lake.trades("BTC-USD", "2026-01-13T09:30Z", "2026-01-13T16:00Z")   # pyarrow.Table
    lake.bars("BTC-USD", "1m", "-1h", "now")
    lake.book_at("BTC-USD", "2026-01-13T10:32:15.483Z", depth=10)
    lake.sql("SELECT venue, count(*) FROM trades GROUP BY venue")

A range is answered from the Parquet lake (`compact --parquet`), completed with what the raw
logs under `raw` hold that the lake does not yet (read through the same adapters), and then
with the Redis streams for what is newer still. Trades are deduplicated by (venue, symbol,
trade_id) (a trade without an id: by its exchange time, price, size and side), the lake's
copy first, and returned in receive-time order.

Times: `ts` is the local receive time, `ts_exchange` the venue's, both timestamp[ns, UTC].
Prices and sizes are decimal128(38, 18): exact, never through a float.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from alphapulse_cli.compact.lake import DECIMAL_PRECISION, DECIMAL_SCALE, table_from_columns
from alphapulse_cli.core.times import ns_to_rfc3339, parse_duration_ns, time_value_to_ns
from alphapulse_cli.errors import (
    AlphapulseError,
    DataError,
    LakeWarning,
    UpstreamError,
    UsageError,
)
from alphapulse_cli.research.files import LakeFile, LakeFiles
from alphapulse_cli.venues_table import VENUE_IDS

TRADE_COLUMNS = ("ts", "ts_exchange", "venue", "symbol", "price", "size", "side", "trade_id")
BOOK_UPDATE_COLUMNS = ("ts", "ts_exchange", "venue", "symbol", "kind", "side", "price", "size")
BAR_COLUMNS = ("ts", "venue", "symbol", "open", "high", "low", "close", "volume", "vwap", "trades")
# Which copy of a trade wins when several sources hold it.
_RANK = {"lake": 0, "raw": 1, "redis": 2}


def _ts_literal(ns: int) -> str:
    return "TIMESTAMP_NS '" + ns_to_rfc3339(ns, 9)[:-1].replace("T", " ") + "'"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_list(files: Sequence[LakeFile]) -> str:
    return "[" + ", ".join(_quote(str(f.path)) for f in files) + "]"


def _range_sql(start_ns: int | None, end_ns: int | None, column: str = "ts") -> str:
    parts = []
    if start_ns is not None:
        parts.append(f"{column} >= {_ts_literal(start_ns)}")
    if end_ns is not None:
        parts.append(f"{column} <= {_ts_literal(end_ns)}")
    return " AND ".join(parts) or "TRUE"


def normalize_symbol(symbol: str) -> str:
    from alphapulse_cli.core.derive import normalize_symbol as norm

    if not isinstance(symbol, str) or not symbol.strip():
        raise UsageError(f"symbol: expected BASE-QUOTE such as BTC-USD, got {symbol!r}")
    return norm(symbol)


def check_venue(venue: str | None) -> str | None:
    if venue is None:
        return None
    v = venue.lower()
    if v not in VENUE_IDS:
        raise UsageError(f"venue: unknown venue {venue!r}: expected one of {', '.join(VENUE_IDS)}")
    return v


class Lake:
    """A lake directory (what `compact --parquet` writes), optionally with collect's DATA_DIR
    (`raw`) and a Redis URL (`redis`) to complete ranges past the lake.

    With `redis_required` an unreachable Redis raises UpstreamError; otherwise the history is
    returned and the gap is stated as a LakeWarning (also kept in `notes`).
    """

    def __init__(
        self,
        path: str | Path,
        raw: str | Path | None = None,
        redis: str | None = None,
        *,
        redis_required: bool = False,
    ) -> None:
        import duckdb

        from alphapulse_cli.storage.lake import local_lake

        # s3://BUCKET/PREFIX reads through a local mirror of the bucket's lake.
        self.path = local_lake(path)
        self.files = LakeFiles(self.path)
        self.files.check()
        self.raw = Path(raw) if raw is not None else None
        if self.raw is not None and not self.raw.is_dir():
            raise DataError(f"{self.raw}: the raw directory does not exist; point at collect's -o")
        self.redis = redis
        self.redis_required = redis_required
        self.notes: list[str] = []
        self._con = duckdb.connect()
        self._views: bool = False

    # ---- the public surface ------------------------------------------------------------
    def trades(
        self, symbol: str, start: Any = None, end: Any = None, venue: str | None = None
    ) -> Any:
        """Trades of `symbol` received in [start, end] (None: unbounded) -> pyarrow.Table
        with TRADE_COLUMNS, in receive-time order, each trade once."""
        sym, v, lo, hi = self._args(symbol, venue, start, end)
        files = self.files.find("trades", sym, v, lo, hi)
        self.files.check_whole(files)
        lake = self._lake_trades(files, lo, hi)
        tail = self._trade_tail(sym, v, lo, hi, files)
        if tail is None:
            return lake
        return self._dedup_trades(lake, tail)

    def book_updates(
        self, symbol: str, start: Any = None, end: Any = None, venue: str | None = None
    ) -> Any:
        """One row per changed level (kind snapshot or update, side bid or ask, size 0
        removes) received in [start, end] -> pyarrow.Table with BOOK_UPDATE_COLUMNS."""
        import pyarrow as pa

        sym, v, lo, hi = self._args(symbol, venue, start, end)
        files = self.files.find("book_updates", sym, v, lo, hi)
        self.files.check_whole(files)
        files = self._in_range(files, lo, hi)
        table = self._ordered(files, BOOK_UPDATE_COLUMNS, _range_sql(lo, hi))
        table = _with_utc(table, _book_update_schema())
        rows = self._raw_book_rows(sym, v, lo, hi)
        if rows is None:
            return table
        extra = table_from_columns(rows, _book_update_schema(), "raw log")
        return pa.concat_tables([table, extra]).sort_by([("ts", "ascending")])

    def book_at(
        self, symbol: str, at: Any, depth: int = 10, venue: str | None = None
    ) -> dict[str, Any]:
        """The book after the last record received at or before `at`: {"ts" (ns of the
        book's last change), "venue", "symbol", "valid", "reason", "bids", "asks"}, levels
        as [price, size] Decimals, best first, `depth` per side (0: all). A book that is not
        valid (a failed checksum, a gap, no snapshot yet) comes with valid False, its reason
        and no levels."""
        from alphapulse_cli.research.book import book_at

        if not isinstance(depth, int) or depth < 0:
            raise UsageError(f"depth: expected a whole number >= 0, got {depth!r}")
        sym, v, _, t = self._args(symbol, venue, None, at)
        assert t is not None
        return book_at(self, sym, v, t, depth)

    def bars(
        self,
        symbol: str,
        interval: str,
        start: Any = None,
        end: Any = None,
        venue: str | None = None,
    ) -> Any:
        """OHLCV bars of `interval` (1m, 5m, 1h, 1d, 30s...) per venue -> pyarrow.Table with
        BAR_COLUMNS: ts (the bucket's start, UTC), open/high/low/close and volume exact
        decimals, vwap a float64 (a ratio: it cannot stay exact), trades (count). Buckets
        without trades are left out."""
        n = parse_duration_ns(interval, "interval", "s") if isinstance(interval, str) else 0
        if n <= 0:
            raise UsageError(f"interval: expected a positive duration such as 1m, got {interval!r}")
        sym, v, lo, hi = self._args(symbol, venue, start, end)
        files = self.files.find("trades", sym, v, lo, hi)
        self.files.check_whole(files)
        tail = self._trade_tail(sym, v, lo, hi, files)
        # One venue (the common case): its name is a constant, not a column to group by.
        markets = {(f.venue, f.symbol) for f in self._in_range(files, lo, hi)}
        market = markets.pop() if tail is None and len(markets) == 1 else None
        if tail is not None:
            trades = self.trades(sym, lo, hi, v)
        elif market is not None:
            trades = self._lake_trades(files, lo, hi, ("ts", "price", "size"))
        else:
            trades = self._lake_trades(files, lo, hi, ("ts", "venue", "symbol", "price", "size"))
        cur = self._con.cursor()
        cur.register("_bars_input", _bars_input(trades))
        try:
            return _with_utc(_arrow(cur, _bars_sql(n, market)), _bar_schema())
        finally:
            cur.close()

    def sql(self, query: str) -> Any:
        """Any DuckDB SQL over the lake's views `trades`, `book_updates` and
        `book_checkpoints` (the lake alone: no raw logs, no Redis) -> pyarrow.Table."""
        import duckdb

        if not isinstance(query, str) or not query.strip():
            raise UsageError("sql: expected a query such as SELECT count(*) FROM trades")
        cur = self._con.cursor()
        try:
            self._create_views(cur)
            return _arrow(cur, query)
        except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
            raise UsageError(f"sql: {_first_line(exc)}") from None
        except duckdb.Error as exc:
            raise DataError(f"{self.path}: {_first_line(exc)}") from None
        finally:
            cur.close()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- arguments ---------------------------------------------------------------------
    def _args(
        self, symbol: str, venue: str | None, start: Any, end: Any
    ) -> tuple[str, str | None, int | None, int | None]:
        sym = normalize_symbol(symbol)
        v = check_venue(venue)
        lo = None if start is None else time_value_to_ns(start, "start")
        hi = None if end is None else time_value_to_ns(end, "end")
        if lo is not None and hi is not None and lo > hi:
            raise UsageError(
                f"start {ns_to_rfc3339(lo)} is after end {ns_to_rfc3339(hi)}; swap them"
            )
        return sym, v, lo, hi

    def note(self, message: str) -> None:
        self.notes.append(message)
        warnings.warn(message, LakeWarning, stacklevel=3)

    # ---- the lake ----------------------------------------------------------------------
    def _lake_query(self, files: Sequence[LakeFile], sql: str) -> Any:
        """Run `sql` with {src} standing for the files (hive columns venue, symbol, date,
        plus filename and file_row_number); an empty typed result when there are none."""
        import duckdb

        if files:
            src = (
                f"read_parquet({_file_list(files)}, hive_partitioning=true, "
                "filename=true, file_row_number=true)"
            )
        else:
            src = _empty_source(files)
        cur = self._con.cursor()
        try:
            return _arrow(cur, sql.replace("{src}", src))
        except duckdb.Error as exc:
            raise DataError(f"{self.path}: {_first_line(exc)}") from None
        finally:
            cur.close()

    def _ordered(self, files: Sequence[LakeFile], columns: Sequence[str], where: str) -> Any:
        """SELECT columns FROM the files WHERE `where` ORDER BY ts, filename, file_row_number
        (columns may include the hive columns venue and symbol)."""
        got = self._ordered_scan(files, columns, where)
        if got is not None:
            return got
        return self._lake_query(
            files,
            f"SELECT {', '.join(columns)} FROM {{src}} WHERE {where} "
            "ORDER BY ts, filename, file_row_number",
        )

    def _ordered_scan(
        self, files: Sequence[LakeFile], columns: Sequence[str], where: str
    ) -> Any | None:
        """What _ordered returns, without DuckDB's sort: the files are read in time order
        (by their footers' spans), each row with its file and row number, and that order is
        checked, which is cheap; only rows found out of order are sorted, here. The hive
        columns come from the file each row is in, not from DuckDB (which would build them
        row by row). None when there are no files, or this DuckDB cannot name a row's file
        (an older one, without the file_index column) or a ts is null: the caller's SQL
        sorts then."""
        import duckdb
        import numpy as np
        import pyarrow as pa

        if not files:
            return None
        spans = [self.files.span(f) for f in files]
        order = sorted(range(len(files)), key=lambda i: (spans[i][0] or 0, str(files[i].path)))
        listed = [files[i] for i in order]
        names = [str(f.path) for f in listed]
        # ORDER BY filename compares the paths as given: each file's place in that order.
        rank = np.empty(len(listed), np.int64)
        rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
        stored = [c for c in columns if c not in _HIVE]
        sql = (
            f"SELECT {', '.join(stored)}, file_index AS _file, file_row_number AS _row "
            f"FROM read_parquet({_file_list(listed)}, hive_partitioning=false, "
            f"file_row_number=true) WHERE {where}"
        )
        cur = self._con.cursor()
        try:
            table = _arrow(cur, sql)
        except duckdb.BinderException:
            return None
        except duckdb.Error as exc:
            raise DataError(f"{self.path}: {_first_line(exc)}") from None
        finally:
            cur.close()
        ts = table.column("ts")
        if ts.null_count:
            return None
        t = ts.cast(pa.int64()).to_numpy()
        fi = table.column("_file").to_numpy().astype(np.int64)
        row = table.column("_row").to_numpy()
        # In order when each row is after the one before: a later ts, or the same ts (rows
        # of one message) and a later (file, row number).
        step = np.diff(t)
        ties = np.flatnonzero(step == 0)
        ra, rb = rank[fi[ties]], rank[fi[ties + 1]]
        if (step < 0).any() or not ((rb > ra) | ((rb == ra) & (row[ties + 1] > row[ties]))).all():
            idx = np.lexsort((row, rank[fi], t))
            table = table.take(pa.array(idx))
            fi = fi[idx]
        table = table.drop_columns(["_file", "_row"])
        for name in _HIVE:
            if name in columns:
                values = sorted({getattr(f, name) for f in listed})
                codes = np.array([values.index(getattr(f, name)) for f in listed], np.int32)
                table = table.append_column(name, _strings(codes[fi], values))
        return table.select(list(columns))

    def _in_range(
        self, files: Sequence[LakeFile], lo: int | None, hi: int | None
    ) -> list[LakeFile]:
        """The files whose footers say they may hold times in [lo, hi]."""
        out = []
        for f in files:
            a, b = self.files.span(f)
            if (hi is not None and a is not None and a > hi) or (
                lo is not None and b is not None and b < lo
            ):
                continue
            out.append(f)
        return out

    def _overlaps(self, files: Sequence[LakeFile]) -> bool:
        """Do two files of one (venue, symbol) share a stretch of time (the same market
        captured twice), so that a trade may be in both?"""
        spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for f in files:
            lo, hi = self.files.span(f)
            if lo is None or hi is None:
                return True
            spans.setdefault((f.venue, f.symbol), []).append((lo, hi))
        for ranges in spans.values():
            ranges.sort()
            for (_, a_hi), (b_lo, _) in itertools.pairwise(ranges):
                if b_lo <= a_hi:
                    return True
        return False

    def _lake_trades(
        self,
        files: Sequence[LakeFile],
        lo: int | None,
        hi: int | None,
        columns: Sequence[str] = TRADE_COLUMNS,
    ) -> Any:
        """The lake's trades in [lo, hi], each once, in receive-time order: `columns` of
        TRADE_COLUMNS (all of them are read to find duplicates, when files overlap)."""
        cols = ", ".join(TRADE_COLUMNS)
        where = _range_sql(lo, hi)
        # A file with no row in range adds nothing, to the rows nor to the duplicates.
        files = self._in_range(files, lo, hi)
        if not self._overlaps(files):
            return _with_utc(self._ordered(files, columns, where), _schema(columns))
        sql = (
            f"SELECT {cols} FROM {{src}} WHERE {where} QUALIFY row_number() OVER "
            f"(PARTITION BY venue, symbol, {_TRADE_KEY} ORDER BY ts, filename, "
            "file_row_number) = 1 ORDER BY ts, filename, file_row_number"
        )
        return _with_utc(self._lake_query(files, sql), _schema(columns))

    def _lake_end(self, files: Sequence[LakeFile]) -> int | None:
        ends = [hi for f in files if (hi := self.files.span(f)[1]) is not None]
        return max(ends) if ends else None

    # ---- raw logs and Redis ------------------------------------------------------------
    def _pending(self, venue: str | None, lo: int | None, hi: int | None) -> list[Any]:
        from alphapulse_cli.research.raw import overlapping, pending_logs

        if self.raw is None:
            return []
        return overlapping(pending_logs(self.raw, self.path), venue, lo, hi)

    def _trade_tail(
        self,
        sym: str,
        venue: str | None,
        lo: int | None,
        hi: int | None,
        files: Sequence[LakeFile],
    ) -> dict[str, list[Any]] | None:
        """The trades the raw logs and Redis add to the lake's, as columns with a `rank`;
        None when there are none."""
        from alphapulse_cli.research.raw import iter_events

        cols: dict[str, list[Any]] = {c: [] for c in (*TRADE_COLUMNS, "rank")}
        newest = self._lake_end(files)
        logs = self._pending(venue, lo, hi)
        for ts, _adapter, events in iter_events(logs, sym, venue, hi, self.path):
            if lo is not None and ts < lo:
                continue
            for ev in events:
                if ev["type"] != "trade":
                    continue
                _append_trade(cols, ts, ev, _RANK["raw"])
            newest = ts if newest is None or ts > newest else newest
        if self.redis is not None and (hi is None or newest is None or hi > newest):
            self._redis_trades(cols, sym, venue, lo, hi, newest)
        return cols if cols["ts"] else None

    def _redis_trades(
        self,
        cols: dict[str, list[Any]],
        sym: str,
        venue: str | None,
        lo: int | None,
        hi: int | None,
        newest: int | None,
    ) -> None:
        from alphapulse_cli.redis_streams.url import parse_url
        from alphapulse_cli.research.live import read_trades

        # From a minute before the seam: what the history holds already is deduplicated.
        start = lo
        if newest is not None:
            seam = newest - 60_000_000_000
            start = seam if start is None or seam > start else start
        url = self.redis
        assert url is not None
        try:
            got = read_trades(url, sym, venue, start, hi)
        except UpstreamError as exc:
            if self.redis_required:
                raise
            since = "the start" if newest is None else ns_to_rfc3339(newest)
            self.note(
                f"Redis unreachable ({_first_line(exc)}): trades after {since} are missing; "
                "history is returned"
            )
            return
        except AlphapulseError:
            raise
        except Exception as exc:  # not Redis at that address: a protocol error
            target = parse_url(url).display
            if self.redis_required:
                raise UpstreamError(f"{target}: not a Redis server ({exc})") from None
            self.note(f"{target}: not a Redis server ({exc}); history is returned")
            return
        n = len(got["ts"])
        for c in TRADE_COLUMNS:
            cols[c].extend(got[c])
        cols["rank"].extend([_RANK["redis"]] * n)

    def _dedup_trades(self, lake: Any, tail: dict[str, list[Any]]) -> Any:
        import pyarrow as pa

        extra = table_from_columns(
            {c: tail[c] for c in TRADE_COLUMNS}, _trade_schema(), "raw log or Redis"
        )
        extra = extra.append_column("rank", pa.array(tail["rank"], pa.int8()))
        lake = lake.append_column("rank", pa.array([0] * lake.num_rows, pa.int8()))
        both = pa.concat_tables([lake, extra])
        both = both.append_column("seq", pa.array(range(both.num_rows), pa.int64()))
        cur = self._con.cursor()
        cur.register("_both", both)
        try:
            cols = ", ".join(TRADE_COLUMNS)
            out = _arrow(
                cur,
                f"SELECT {cols} FROM _both QUALIFY row_number() OVER (PARTITION BY venue, "
                f"symbol, {_TRADE_KEY} ORDER BY rank, seq) = 1 ORDER BY ts, rank, seq",
            )
        finally:
            cur.close()
        return _with_utc(out, _trade_schema())

    def _raw_book_rows(
        self, sym: str, venue: str | None, lo: int | None, hi: int | None
    ) -> dict[str, list[Any]] | None:
        from alphapulse_cli.research.raw import iter_events

        cols: dict[str, list[Any]] = {c: [] for c in BOOK_UPDATE_COLUMNS}
        # From the oldest pending log, not `lo`: a book's state starts at its snapshot.
        logs = self._pending(venue, None, hi)
        for ts, _adapter, events in iter_events(logs, sym, venue, hi, self.path):
            if lo is not None and ts < lo:
                continue
            for ev in events:
                t = ev["type"]
                if t != "book_update" and t != "book_snapshot":
                    continue
                kind = "update" if t == "book_update" else "snapshot"
                for side, levels in (("bid", ev["bids"]), ("ask", ev["asks"])):
                    for price, size in levels:
                        cols["ts"].append(ts)
                        cols["ts_exchange"].append(ev["ts_exchange"])
                        cols["venue"].append(ev["exchange"])
                        cols["symbol"].append(ev["symbol"])
                        cols["kind"].append(kind)
                        cols["side"].append(side)
                        cols["price"].append(price)
                        cols["size"].append(size)
        return cols if cols["ts"] else None

    # ---- SQL views ---------------------------------------------------------------------
    def _create_views(self, cur: Any) -> None:
        from alphapulse_cli.compact.lake import TABLES

        for table in TABLES:
            if list(self.path.glob(f"{table}/venue=*/symbol=*/date=*/*.parquet")):
                glob = _quote(str(self.path / table / "venue=*/symbol=*/date=*/*.parquet"))
                src = f"read_parquet({glob}, hive_partitioning=true)"
            else:
                src = _empty_table_sql(table)
            cur.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {src}")


# A trade's identity: its id, or for a venue that sends none (Kraken v1) what it is made of.
_TRADE_KEY = (
    "coalesce(trade_id, CAST(epoch_ns(ts_exchange) AS VARCHAR) || '|' || CAST(price AS VARCHAR)"
    " || '|' || CAST(size AS VARCHAR) || '|' || side)"
)


# The hive partition columns: in the paths, not in the files.
_HIVE = ("venue", "symbol")


def _strings(codes: Any, values: list[str]) -> Any:
    """values[codes] as a plain string array."""
    import numpy as np
    import pyarrow as pa

    n = len(codes)
    if len(values) == 1 and n * len(values[0].encode()) < 2**31:
        # One value: its bytes n times, and offsets every len(value) bytes.
        text = values[0].encode()
        offsets = (np.arange(n + 1, dtype=np.int64) * len(text)).astype(np.int32)
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text * n)]
        )
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, pa.int32()), pa.array(values, pa.string())
    ).dictionary_decode()


def _bars_input(trades: Any) -> Any:
    """What _bars_sql reads: trades in receive-time order (as Lake.trades returns them),
    ts as ns (t), each row's place in that order (rn), and price and size also as the
    nearest doubles (pf, sf: what CAST(... AS DOUBLE) gives, which costs DuckDB about a
    microsecond a value for DECIMAL(38, 18)); venue and symbol when `trades` has them."""
    import numpy as np
    import pyarrow as pa

    from alphapulse_cli.research.floats import nearest_doubles

    price, size = trades.column("price"), trades.column("size")
    cols = {"t": trades.column("ts").cast(pa.int64())}
    cols.update({c: trades.column(c) for c in _HIVE if c in trades.column_names})
    cols.update(
        {
            "price": price,
            "size": size,
            "rn": pa.array(np.arange(trades.num_rows, dtype=np.int64)),
            "pf": nearest_doubles(price),
            "sf": nearest_doubles(size),
        }
    )
    return pa.table(cols)


def _bars_sql(n: int, market: tuple[str, str] | None) -> str:
    """Bars of n ns over _bars_input, by venue and symbol, or all of one `market` (venue,
    symbol) when the input has no such columns."""
    if market is None:
        label, group = "venue, symbol", "GROUP BY ALL"
    else:
        label, group = f"{_quote(market[0])} AS venue, {_quote(market[1])} AS symbol", "GROUP BY 1"
    # The input is in time order, so the first and last trade of a bucket are those with the
    # least and greatest rn.
    return (
        f"SELECT make_timestamp_ns(t // {n} * {n}) AS ts, {label}, "
        "arg_min(price, rn) AS open, max(price) AS high, min(price) AS low, "
        "arg_max(price, rn) AS close, sum(size) AS volume, "
        "sum(pf * sf) / nullif(sum(sf), 0) AS vwap, count(*) AS trades "
        f"FROM _bars_input {group} ORDER BY ts, venue"
    )


def _append_trade(cols: dict[str, list[Any]], ts: int, ev: dict[str, Any], rank: int) -> None:
    cols["ts"].append(ts)
    cols["ts_exchange"].append(ev["ts_exchange"])
    cols["venue"].append(ev["exchange"])
    cols["symbol"].append(ev["symbol"])
    cols["price"].append(ev["price"])
    cols["size"].append(ev["size"])
    cols["side"].append(ev["side"])
    tid = ev["trade_id"]
    cols["trade_id"].append(None if tid is None else str(tid))
    cols["rank"].append(rank)


def _arrow(cur: Any, sql: str) -> Any:
    """A query's result as a pyarrow Table, through a relation (no extra copy of the rows)."""
    return cur.sql(sql).to_arrow_table()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _dec() -> Any:
    import pyarrow as pa

    return pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)


def _types() -> dict[str, Any]:
    import pyarrow as pa

    ts = pa.timestamp("ns", tz="UTC")
    return {
        "ts": ts,
        "ts_exchange": ts,
        "venue": pa.string(),
        "symbol": pa.string(),
        "price": _dec(),
        "size": _dec(),
        "side": pa.string(),
        "trade_id": pa.string(),
        "kind": pa.string(),
        "open": _dec(),
        "high": _dec(),
        "low": _dec(),
        "close": _dec(),
        "volume": _dec(),
        "vwap": pa.float64(),
        "trades": pa.int64(),
    }


def _schema(columns: Sequence[str]) -> Any:
    import pyarrow as pa

    types = _types()
    return pa.schema([(c, types[c]) for c in columns])


def _trade_schema() -> Any:
    return _schema(TRADE_COLUMNS)


def _book_update_schema() -> Any:
    return _schema(BOOK_UPDATE_COLUMNS)


def _bar_schema() -> Any:
    return _schema(BAR_COLUMNS)


def _with_utc(table: Any, schema: Any) -> Any:
    """The lake's naive UTC timestamps (and DuckDB's decimal widths) as the public schema."""
    return table.select(schema.names).cast(schema)


def _empty_source(files: Sequence[LakeFile]) -> str:
    """A typed, empty stand-in for read_parquet (every column any query here reads)."""
    return (
        "(SELECT NULL::TIMESTAMP_NS AS ts, NULL::TIMESTAMP_NS AS ts_exchange, "
        "NULL::TIMESTAMP_NS AS ts_book, NULL::VARCHAR AS venue, NULL::VARCHAR AS symbol, "
        f"NULL::DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE}) AS price, "
        f"NULL::DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE}) AS size, NULL::VARCHAR AS side, "
        "NULL::VARCHAR AS trade_id, NULL::VARCHAR AS kind, NULL::BOOLEAN AS valid, "
        "NULL::VARCHAR AS reason, NULL::INTEGER AS depth, NULL::VARCHAR AS venue_symbol, "
        "NULL::VARCHAR AS filename, NULL::BIGINT AS file_row_number WHERE FALSE)"
    )


def _empty_table_sql(table: str) -> str:
    from alphapulse_cli.compact.lake import _COLUMNS

    cols = ", ".join((*_COLUMNS[table], "venue", "symbol"))
    return f"(SELECT {cols} FROM {_empty_source([])})"


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain text without trailing zeros: Decimal('10101.800') -> '10101.8'."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
