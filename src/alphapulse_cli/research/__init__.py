"""The captured market for research: trades, book updates, books at any instant and bars,
from the Parquet lake, the raw logs not yet in it, and Redis, in one call.

    from alphapulse_cli.research import Lake, MarketDataRepository, to_pandas

    lake = Lake("lake/", raw="data/", redis=None)
    lake.trades("BTC-USD", start, end, venue=None)          # pyarrow.Table
    lake.book_updates("BTC-USD", start, end)                # pyarrow.Table
    lake.book_at("BTC-USD", at, depth=10)                   # {"ts", "bids", "asks", ...}
    lake.bars("BTC-USD", "1m", start, end)                  # pyarrow.Table
    lake.sql("SELECT ... FROM trades ...")                  # pyarrow.Table
    to_pandas(table, decimals="float")                      # pandas, float64 prices
    df = await MarketDataRepository(lake).get_trades("BTC-USD", start, end)

Times are `datetime` (naive means UTC), ISO 8601 text, ns since the epoch, or the relative
forms `replay --from` takes (`-15m`, `now`). Bad arguments raise UsageError, a lake that is
not one or a cut-off Parquet file DataError, an unreachable Redis (when required)
UpstreamError: all AlphapulseError, see alphapulse_cli.errors.
"""

from alphapulse_cli.errors import LakeWarning
from alphapulse_cli.research.frames import MarketDataRepository, to_pandas
from alphapulse_cli.research.lake import (
    BAR_COLUMNS,
    BOOK_UPDATE_COLUMNS,
    TRADE_COLUMNS,
    Lake,
)

__all__ = [
    "BAR_COLUMNS",
    "BOOK_UPDATE_COLUMNS",
    "TRADE_COLUMNS",
    "Lake",
    "LakeWarning",
    "MarketDataRepository",
    "to_pandas",
]
