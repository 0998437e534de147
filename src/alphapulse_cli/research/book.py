"""A book at any instant: from the raw logs when they hold that instant and the lake does
not, else from the lake's newest checkpoint at or before it plus the updates after it.

Both paths give what `replay --format books` shows after the last record at or before the
instant. The lake path applies the updates the way the adapter did: one message (one
receive time in one file) at a time, a snapshot replacing the book, then the venue's
truncation to its depth (Kraken keeps only the subscribed depth and never says when a level
falls off the end).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from alphapulse_cli.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from alphapulse_cli.research.files import LakeFile
    from alphapulse_cli.research.lake import Lake

DAY_NS = 86_400_000_000_000
# How many days back to look for a checkpoint before saying there is none.
SEARCH_DAYS = 31


def book_at(lake: Lake, symbol: str, venue: str | None, at: int, depth: int) -> dict[str, Any]:
    venue = venue or _only_venue(lake, symbol, at)
    raw = _from_raw(lake, symbol, venue, at, depth)
    if raw is not None:
        return raw
    return _from_lake(lake, symbol, venue, at, depth)


def _only_venue(lake: Lake, symbol: str, at: int) -> str:
    venues = {f.venue for f in lake.files.find("book_checkpoints", symbol, None, None, at)}
    venues |= {f.venue for f in lake.files.find("book_updates", symbol, None, None, at)}
    venues |= {r.venue for r in lake._pending(None, None, at) if r.venue is not None}
    if len(venues) > 1:
        raise UsageError(
            f"{symbol} trades on {' and '.join(sorted(venues))}: name one (venue=, --venue)"
        )
    return venues.pop() if venues else "coinbase"


def _result(
    venue: str,
    symbol: str,
    ts: int | None,
    valid: bool,
    reason: str | None,
    bids: list[list[Any]],
    asks: list[list[Any]],
    depth: int,
) -> dict[str, Any]:
    if depth:
        bids, asks = bids[:depth], asks[:depth]
    return {
        "ts": ts,
        "venue": venue,
        "symbol": symbol,
        "valid": valid,
        "reason": reason,
        "bids": [[_dec(p), _dec(s)] for p, s in bids],
        "asks": [[_dec(p), _dec(s)] for p, s in asks],
    }


def _dec(text: str) -> Decimal:
    """Exact, without the lake's padding: '67234.500000000000000000' -> Decimal('67234.5')."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text)


def _from_raw(lake: Lake, symbol: str, venue: str, at: int, depth: int) -> dict[str, Any] | None:
    """The book from the raw logs not in the lake, when one of them holds `at`."""
    from alphapulse_cli.research.raw import iter_events

    logs = [r for r in lake._pending(venue, None, at)]
    if not any(r.last_ts is None or r.last_ts >= at for r in logs):
        return None
    adapter = None
    changed: int | None = None
    for ts, ad, events in iter_events(logs, symbol, venue, at, lake.path):
        for ev in events:
            if ev["symbol"] == symbol and ev["type"] in ("book_snapshot", "book_update"):
                adapter, changed = ad, ts
            elif adapter is None and ev["symbol"] == symbol:
                adapter = ad
    if adapter is None or symbol not in adapter.books:
        return None  # no snapshot in the raw logs: the lake may have the book
    if not adapter.book_valid(symbol):
        return _result(venue, symbol, changed, False, "not valid in the raw log", [], [], 0)
    book = adapter.books[symbol]
    n = depth or max(len(book.bids), len(book.asks))
    bids, asks = book.top(n)
    return _result(venue, symbol, changed, True, None, bids, asks, depth)


def _from_lake(lake: Lake, symbol: str, venue: str, at: int, depth: int) -> dict[str, Any]:
    from alphapulse_cli.core.book import L2Book
    from alphapulse_cli.research.lake import _range_sql

    cp = _checkpoint(lake, symbol, venue, at)
    if cp is None:
        return _result(
            venue,
            symbol,
            None,
            False,
            "no checkpoint at or before this time in the lake (export with compact --parquet)",
            [],
            [],
            0,
        )
    cp_ts, ts_book, valid, reason, book_depth, levels = cp
    if not valid:
        return _result(venue, symbol, ts_book, False, reason, [], [], 0)
    book = L2Book()
    book.load(
        [lv[1:] for lv in levels if lv[0] == "bid"], [lv[1:] for lv in levels if lv[0] == "ask"]
    )
    files = lake.files.find("book_updates", symbol, venue, cp_ts, at)
    lake.files.check_whole(files)
    last = ts_book
    if not book_depth:
        got = _last_levels(lake, files, cp_ts, at)
        if got is not None:
            bids, asks, newest = got
            book.apply(bids, asks)
            last = newest if newest is not None else last
            n_levels = depth or max(len(book.bids), len(book.asks))
            top_bids, top_asks = book.top(n_levels)
            return _result(venue, symbol, last, True, None, top_bids, top_asks, depth)
    rows = lake._lake_query(
        files,
        "SELECT epoch_ns(ts) AS t, filename AS f, kind, side, CAST(price AS VARCHAR) AS p, "
        "CAST(size AS VARCHAR) AS s FROM {src} WHERE ts > "
        f"make_timestamp_ns({cp_ts}) AND {_range_sql(None, at)} "
        "ORDER BY ts, filename, file_row_number",
    ).to_pydict()
    t_col, f_col, kinds, sides = rows["t"], rows["f"], rows["kind"], rows["side"]
    prices, sizes = rows["p"], rows["s"]
    i, n = 0, len(t_col)
    while i < n:
        j = i
        key = (t_col[i], f_col[i])
        while j < n and (t_col[j], f_col[j]) == key:
            j += 1
        bids = [[prices[k], sizes[k]] for k in range(i, j) if sides[k] == "bid"]
        asks = [[prices[k], sizes[k]] for k in range(i, j) if sides[k] == "ask"]
        if kinds[i] == "snapshot":
            book = L2Book()
            book.load(bids, asks)
        else:
            book.apply(bids, asks)
        if book_depth:
            book.truncate(book_depth)
        last = t_col[i]
        i = j
    n_levels = depth or max(len(book.bids), len(book.asks))
    top_bids, top_asks = book.top(n_levels)
    return _result(venue, symbol, last, True, None, top_bids, top_asks, depth)


def _last_levels(
    lake: Lake, files: Sequence[LakeFile], cp_ts: int, at: int
) -> tuple[list[list[str]], list[list[str]], int | None] | None:
    """For a venue that sends the whole book (no truncation): the levels the updates after
    the checkpoint leave, each level's last write only (bids, asks as [price, size]), and the
    newest update's time. Applying those to the checkpoint gives the book that applying every
    update in order gives. None when a snapshot is among the updates or a size is negative
    (the caller replays them one message at a time, and refuses the bad size)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from alphapulse_cli.research.lake import _range_sql

    where = f"ts > make_timestamp_ns({cp_ts}) AND {_range_sql(None, at)}"
    files = lake._in_range(files, cp_ts, at)
    rows = lake._ordered(files, ("ts", "kind", "side", "price", "size"), where)
    if not rows.num_rows:
        return [], [], None
    if (
        pc.any(pc.equal(rows.column("kind"), "snapshot")).as_py()
        or pc.any(
            pc.less(rows.column("size"), pa.scalar(0, rows.schema.field("size").type))
        ).as_py()
    ):
        return None
    newest = rows.column("ts").cast(pa.int64())[-1].as_py()
    rows = rows.append_column("rn", pa.array(np.arange(rows.num_rows, dtype=np.int64)))
    cur = lake._con.cursor()
    try:
        cur.register("_updates", rows)
        got = cur.sql(
            "SELECT side, CAST(price AS VARCHAR) AS p, CAST(arg_max(size, rn) AS VARCHAR) AS s "
            "FROM _updates GROUP BY side, price"
        ).fetchall()
    finally:
        cur.close()
    bids = [[p, s] for side, p, s in got if side == "bid"]
    asks = [[p, s] for side, p, s in got if side == "ask"]
    return bids, asks, newest


def _checkpoint(
    lake: Lake, symbol: str, venue: str, at: int
) -> tuple[int, int | None, bool, str | None, int | None, list[tuple[str, str, str]]] | None:
    """The newest checkpoint at or before `at`: (ts, ts_book, valid, reason, depth,
    [(side, price, size), ...]), looking back a day at a time."""
    from alphapulse_cli.research.lake import _range_sql

    day = at // DAY_NS
    for back in range(SEARCH_DAYS):
        lo = (day - back) * DAY_NS
        files = [
            f
            for f in lake.files.find("book_checkpoints", symbol, venue, lo, lo + DAY_NS - 1)
            if f.day == day - back
        ]
        if not files:
            continue
        lake.files.check_whole(files)
        files = lake._in_range(files, None, at)  # a file that starts after `at` has none
        if not files:
            continue
        where = _range_sql(None, at)
        got = lake._lake_query(
            files,
            "SELECT epoch_ns(ts) AS t, epoch_ns(ts_book) AS tb, valid, reason, depth, side, "
            "CAST(price AS VARCHAR) AS p, CAST(size AS VARCHAR) AS s FROM {src} "
            f"WHERE ts = (SELECT max(ts) FROM {{src}} WHERE {where}) "
            "ORDER BY filename, file_row_number",
        ).to_pydict()
        if not got["t"]:
            continue
        # Two logs may checkpoint the same instant: keep one log's copy.
        first = 0
        levels = [
            (got["side"][k], got["p"][k], got["s"][k])
            for k in range(first, len(got["t"]))
            if got["side"][k] is not None
        ]
        return (
            got["t"][0],
            got["tb"][0],
            bool(got["valid"][0]),
            got["reason"][0],
            got["depth"][0],
            _one_copy(levels),
        )
    return None


def _one_copy(levels: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Levels of a checkpoint that two logs both wrote appear twice; keep each price once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for side, price, size in levels:
        if (side, price) in seen:
            continue
        seen.add((side, price))
        out.append((side, price, size))
    return out
