"""The research API in a few lines: trades, 1-minute bars, a book at an instant, and SQL.

    alphapulse compact data/ --parquet lake/
    python examples/research.py lake/ [data/]

Run it from a notebook cell the same way: everything it prints is a pyarrow Table or a dict.
"""

from __future__ import annotations

import sys

from alphapulse_cli.research import Lake


def main(lake_dir: str, raw_dir: str | None = None) -> None:
    lake = Lake(lake_dir, raw=raw_dir)
    counts = lake.sql(
        "SELECT venue, symbol, count(*) AS trades, min(ts) AS first, max(ts) AS last "
        "FROM trades GROUP BY ALL ORDER BY trades DESC"
    )
    print(f"trades per market:\n{counts}\n")
    if counts.num_rows == 0:
        print("the lake holds no trades yet: run `alphapulse compact DATA --parquet LAKE`")
        return
    venue = counts.column("venue")[0].as_py()
    symbol = counts.column("symbol")[0].as_py()

    trades = lake.trades(symbol, venue=venue)  # the whole history; add start, end to narrow
    exact = trades.schema.field("price").type
    print(f"{trades.num_rows} {venue} {symbol} trades; prices are exact: {exact}")

    bars = lake.bars(symbol, "1m", venue=venue)
    print(f"bars (1m):\n{bars.select(['ts', 'open', 'high', 'low', 'close', 'trades'])}\n")

    # The book right after the last trade, top 5 levels a side, as exact Decimals.
    last = trades.column("ts").cast("int64")[-1].as_py()
    book = lake.book_at(symbol, last, depth=5, venue=venue)
    state = "valid" if book["valid"] else f"not valid ({book['reason']})"
    print(f"book at {last} ns ({state}):")
    for (bp, bs), (ap, asz) in zip(book["bids"], book["asks"], strict=False):
        print(f"  {bs:>14} {bp:>12} | {ap:<12} {asz}")

    try:
        from alphapulse_cli.research import to_pandas

        df = to_pandas(trades, decimals="float")
        print(f"\npandas: {len(df)} rows, price mean {df['price'].mean():.2f}")
    except Exception as exc:  # pandas is the optional [research] extra
        print(f"\n(pandas not available: {exc})")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python examples/research.py LAKE_DIR [DATA_DIR]")
    main(*sys.argv[1:])
