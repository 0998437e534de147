"""Query results as bytes: JSON lines, CSV and Parquet, streamed a record batch at a time.

Values keep their exactness: decimals are printed as their exact text without the lake's
padding zeros ("67249.99", not "67249.990000000000000000"); times are ns integers in JSON
lines (like the events `replay` writes) and RFC 3339 text with nine fraction digits in CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from alphapulse_cli.core.times import ns_to_rfc3339

FORMATS = ("table", "jsonl", "csv", "parquet")
BATCH_ROWS = 8192


def _plain_columns(batch: Any, times_as_text: bool) -> list[list[Any]]:
    """Each column of a record batch as Python values: decimals as exact text, timestamps as
    ns (or text), everything else as pyarrow gives it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for arr in batch.columns:
        t = arr.type
        if pa.types.is_decimal(t):
            text = pc.replace_substring_regex(arr.cast(pa.string()), r"0+$", "")
            text = pc.replace_substring_regex(text, r"\.$", "")
            cols.append(text.to_pylist())
        elif pa.types.is_timestamp(t):
            ns = arr.cast(pa.timestamp("ns", tz=t.tz)).cast(pa.int64()).to_pylist()
            cols.append([_ts_text(v) for v in ns] if times_as_text else ns)
        else:
            cols.append(arr.to_pylist())
    return cols


def _ts_text(ns: int | None) -> str | None:
    return None if ns is None else ns_to_rfc3339(ns, 9)


def iter_jsonl(table: Any, limit: int | None = None) -> Iterator[bytes]:
    import orjson

    names = table.column_names
    left = limit
    for batch in table.to_batches(BATCH_ROWS):
        if left is not None:
            if left <= 0:
                return
            batch = batch.slice(0, left)
            left -= batch.num_rows
        cols = _plain_columns(batch, times_as_text=False)
        out = bytearray()
        for row in zip(*cols, strict=True):
            out += orjson.dumps(dict(zip(names, row, strict=True)), default=str)
            out += b"\n"
        yield bytes(out)


def iter_csv(table: Any, limit: int | None = None) -> Iterator[bytes]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.column_names)
    left = limit
    for batch in table.to_batches(BATCH_ROWS):
        if left is not None:
            if left <= 0:
                break
            batch = batch.slice(0, left)
            left -= batch.num_rows
        w.writerows(zip(*_plain_columns(batch, times_as_text=True), strict=True))
        yield buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()


def write_parquet(table: Any, sink: IO[bytes], limit: int | None = None) -> None:
    import pyarrow.parquet as pq

    if limit is not None:
        table = table.slice(0, limit)
    pq.write_table(table, sink, compression="zstd")


def book_rows(book: dict[str, Any]) -> Any:
    """A book_at result as a table: side, level (1 = best), price, size."""
    import pyarrow as pa

    sides, levels, prices, sizes = [], [], [], []
    for side in ("bids", "asks"):
        for i, (p, s) in enumerate(book[side], 1):
            sides.append(side[:-1])
            levels.append(i)
            prices.append(_text(p))
            sizes.append(_text(s))
    return pa.table(
        {
            "side": pa.array(sides, pa.string()),
            "level": pa.array(levels, pa.int32()),
            "price": pa.array(prices, pa.string()),
            "size": pa.array(sizes, pa.string()),
        }
    )


def book_json(book: dict[str, Any]) -> dict[str, Any]:
    out = dict(book)
    out["bids"] = [[_text(p), _text(s)] for p, s in book["bids"]]
    out["asks"] = [[_text(p), _text(s)] for p, s in book["asks"]]
    return out


def _text(d: Decimal | str) -> str:
    return format(d, "f") if isinstance(d, Decimal) else d
