"""pandas for the research API: `to_pandas` and the async `MarketDataRepository`.

pandas is an optional extra (`pip install 'alphapulse-cli[research]'`); everything else in
alphapulse_cli.research returns pyarrow Tables and works without it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alphapulse_cli.errors import UsageError

DECIMALS = ("exact", "float", "string")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise UsageError(
            "pandas is not installed: pip install 'alphapulse-cli[research]' "
            "(or use the pyarrow Tables the Lake returns)"
        ) from None
    return pandas


def to_pandas(table: Any, decimals: str = "exact") -> Any:
    """A Lake result as a pandas DataFrame. decimals: "exact" (decimal.Decimal objects, as
    stored), "float" (float64: fast, for modelling; not exact), "string" (the decimal text)."""
    import pyarrow as pa

    if decimals not in DECIMALS:
        raise UsageError(f"decimals: expected one of {', '.join(DECIMALS)}, got {decimals!r}")
    _pandas()
    if decimals != "exact":
        target = pa.float64() if decimals == "float" else pa.string()
        fields = [
            pa.field(f.name, target) if pa.types.is_decimal(f.type) else f for f in table.schema
        ]
        table = table.cast(pa.schema(fields))
    return table.to_pandas()


class MarketDataRepository:
    """The repository interface research code is written against, over a Lake:

        repo = MarketDataRepository(Lake("lake/", raw="data/"))
        df = await repo.get_trades("BTC-USD", start, end)

    Each call runs in a worker thread, so an event loop (Jupyter's, a service's) keeps
    running while DuckDB reads.
    """

    def __init__(self, lake: Any, decimals: str = "exact") -> None:
        if decimals not in DECIMALS:
            raise UsageError(f"decimals: expected one of {', '.join(DECIMALS)}, got {decimals!r}")
        _pandas()
        self.lake = lake
        self.decimals = decimals

    async def get_trades(self, symbol: str, start: Any, end: Any, venue: str | None = None) -> Any:
        table = await asyncio.to_thread(self.lake.trades, symbol, start, end, venue)
        return to_pandas(table, self.decimals)

    async def get_book_updates(
        self, symbol: str, start: Any, end: Any, venue: str | None = None
    ) -> Any:
        table = await asyncio.to_thread(self.lake.book_updates, symbol, start, end, venue)
        return to_pandas(table, self.decimals)

    async def get_bars(
        self, symbol: str, interval: str, start: Any, end: Any, venue: str | None = None
    ) -> Any:
        table = await asyncio.to_thread(self.lake.bars, symbol, interval, start, end, venue)
        return to_pandas(table, self.decimals)

    async def get_book_at(
        self, symbol: str, at: Any, depth: int = 10, venue: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(
            self.lake.book_at, symbol, at, depth, venue
        )
        return result
