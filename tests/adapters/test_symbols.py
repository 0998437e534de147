"""Symbol normalization between the venues' spellings and ours."""

from __future__ import annotations

from alphapulse_cli.adapters.symbols import coinbase_symbol, kraken_symbol, to_kraken


def test_symbols():
    assert kraken_symbol("XBT/USD") == "BTC-USD"
    assert kraken_symbol("XDG/EUR") == "DOGE-EUR"
    assert kraken_symbol("MATIC/USD") == "MATIC-USD"
    assert kraken_symbol("XBTUSD") is None
    assert coinbase_symbol("btc-usd") == "BTC-USD"
    assert coinbase_symbol("BTC-USD-X") is None and coinbase_symbol("") is None
    assert to_kraken("BTC-USD", "v1") == "XBT/USD"
    assert to_kraken("BTC-USD", "v2") == "BTC/USD"
    assert to_kraken("XBT/USD", "v2") == "BTC/USD"
