from collections.abc import Callable
from typing import Any

class CoinbaseFast:
    def __init__(
        self,
        decode: Callable[[bytes], Any],
        l2update: type,
        match: type,
        live: dict[str, Any],
        symbols: dict[str, str],
        stats: dict[str, int],
        trade_next: dict[str, int],
        fallback: Callable[[bytes, int], list[dict[str, Any]]],
    ) -> None: ...
    def feed(self, payload: bytes, ts_local: int) -> list[dict[str, Any]]: ...
    def feed_into(
        self, payload: bytes, ts_local: int, out: bytearray
    ) -> list[dict[str, Any]] | None: ...
    def set_trade_next(self, trade_next: dict[str, int]) -> None: ...

def rfc3339_ns(text: object) -> int | None: ...
def book_levels(side: Any, n: int) -> tuple[float, ...]: ...
def split_records(
    buf: bytes,
    pos: int,
    out: list[tuple[int, int, bytes]],
    stop_ts: int,
    tag_limit: int,
    max_len: int,
) -> int: ...
def counters() -> dict[str, dict[str, int]]: ...
def reset_counters() -> None: ...

class KrakenFast:
    def __init__(
        self,
        decode: Callable[[bytes], Any],
        live: dict[str, tuple[Any, ...]],
        symbols: dict[str, str],
        stats: dict[str, int],
        trade_next: dict[str, int],
        mismatch: Callable[[dict[str, Any], int, int], list[dict[str, Any]]],
        fallback: Callable[[bytes, int], list[dict[str, Any]]],
    ) -> None: ...
    def feed(self, payload: bytes, ts_local: int) -> list[dict[str, Any]]: ...
    def feed_into(
        self, payload: bytes, ts_local: int, out: bytearray
    ) -> list[dict[str, Any]] | None: ...
    def set_protocol(self, protocol: int) -> None: ...
    def set_trade_next(self, trade_next: dict[str, int]) -> None: ...
