"""The live side of a query: trades still only in Redis (`trades:<exchange>:<symbol>`).

Entries carry the receive time (`received`, µs) and the venue's time (`timestamp`, µs; the
receive time when the venue sends none). An entry's id is the time Redis added it, never
before the trade was received, so a range read can start at the wanted receive time and
skip the older part of the stream without reading it.
"""

from __future__ import annotations

from typing import Any

from alphapulse_cli.venues_table import VENUE_IDS

BATCH = 10_000
TRADE_COLUMNS = ("ts", "ts_exchange", "venue", "symbol", "price", "size", "side", "trade_id")


def read_trades(
    url: str, symbol: str, venue: str | None, start_ns: int | None, end_ns: int | None
) -> dict[str, list[Any]]:
    """Columns of the trades in Redis received in [start_ns, end_ns]; raises RedisUnavailable
    (an UpstreamError) when Redis cannot be reached."""
    from alphapulse_cli.redis_streams.cluster import connect_sync
    from alphapulse_cli.redis_streams.entries import trade_key
    from alphapulse_cli.redis_streams.url import parse_url

    cols: dict[str, list[Any]] = {c: [] for c in TRADE_COLUMNS}
    conn = connect_sync(parse_url(url), client_name="alphapulse-query")
    try:
        for v in [venue] if venue else list(VENUE_IDS):
            key = trade_key(v, symbol)
            lo = "-" if start_ns is None else f"{start_ns // 1_000_000}-0"
            while True:
                batch = conn.call("XRANGE", key, lo, "+", "COUNT", BATCH)
                if not batch:
                    break
                for _eid, flat in batch:
                    _add(cols, v, symbol, flat, start_ns, end_ns)
                if len(batch) < BATCH:
                    break
                lo = "(" + _text(batch[-1][0])
    finally:
        conn.close()
    return cols


def _text(b: Any) -> str:
    return b.decode() if isinstance(b, bytes) else str(b)


def _add(
    cols: dict[str, list[Any]],
    venue: str,
    symbol: str,
    flat: list[Any],
    start_ns: int | None,
    end_ns: int | None,
) -> None:
    f = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
    try:
        received = int(f["received"]) * 1000
        exchange_ts = int(f.get("timestamp") or f["received"]) * 1000
    except (KeyError, ValueError):
        return  # not an entry alphapulse wrote
    if (start_ns is not None and received < start_ns) or (end_ns is not None and received > end_ns):
        return
    cols["ts"].append(received)
    cols["ts_exchange"].append(exchange_ts)
    cols["venue"].append(venue)
    cols["symbol"].append(symbol)
    cols["price"].append(f.get("price"))
    cols["size"].append(f.get("volume"))
    cols["side"].append(f.get("side"))
    cols["trade_id"].append(f.get("trade_id") or None)
