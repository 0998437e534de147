"""The live status table (collect on a terminal) at the widths terminals have."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from alphapulse_cli.cli.collect_view import LiveReporter

TOTALS = {
    "venue": "kraken",
    "frames_in": 123_456,
    "frames_per_s": 2345.6,
    "bytes_in": 98_765_432,
    "bytes_written": 98_765_432,
    "reconnects": 1,
    "malformed": 0,
    "sink_errors": 0,
    "parse_backlog": 0,
    "sinks": {},
}


def _row(symbol: str, price: str) -> dict:
    trade = {"side": "sell", "size": "0.00123456", "price": price}
    return {
        "symbol": symbol,
        "msgs_per_s": 1234.0,
        "messages": 99_999,
        "last_trade": trade,
        "bid": price,
        "ask": price[:-1] + "9",
        "spread": "0.01",
        "trades": 10,
        "gaps": 0,
        "checksum_failures": 0,
        "resyncs": 0,
        "bytes": 45_678_901,
    }


@pytest.mark.parametrize("width", [80, 100, 160])
def test_two_symbols_fit_the_terminal_untruncated(width):
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None)
    rep = LiveReporter(console=console)
    rep.tick([_row("BTC-USD", "67249.99"), _row("MATIC-USD", "0.56661")], TOTALS)
    rep.close(
        {
            **TOTALS,
            "stop_reason": "test",
            "frames_out": 1,
            "gaps": 0,
            "checksum_mismatch": 0,
            "files": [],
        }
    )
    # The last frame Live drew, without its cursor movements.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "\n", out.getvalue())
    table = text[: text.index("stopped (")]
    assert all(len(line) <= width for line in table.splitlines())
    assert "…" not in table
    assert "reconnects 1" in table  # the title breaks between items, never inside one
    for word in ("BTC-USD", "MATIC-USD", "67249.99", "0.56661", "67249.99", "43.6 MB"):
        assert word in table, table
