"""Records -> normalized events and book views: the derivation shared by replay, compact and
collect, so live and replayed outputs come from the same code.

A record's tag routes it (bits 0-7 venue, 8-11 connection slot, 12-15 kind) to one
adapter per (venue, connection): kind 0 frames are fed in, kind 1 (what we sent) teaches
the adapter its subscriptions, kind 2 session events (connect, disconnect, resync) drive
its connection state. Output lines are JSON, encoded many events per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from alphapulse_cli.adapters import ADAPTERS, make_adapter
from alphapulse_cli.venues_table import venue_name

if TYPE_CHECKING:
    from alphapulse_cli.adapters.base import Adapter
    from alphapulse_cli.adapters.tradeids import TradeIds

Record = tuple[int, int, bytes]
BATCH_EVENTS = 64
_EVENT_BYTES = 200  # a typical event line, to turn a batch of events into a block size
_BOOK_TYPES = frozenset(("book_snapshot", "book_update"))


class _LineEncoder:
    """msgspec's JSON-lines encoder, made on the first call: msgspec loads with the first
    events, not with the command (a replay that yields none never needs it)."""

    __slots__ = ("_encode",)

    def __init__(self) -> None:
        self._encode: Any = None

    def __call__(self, events: list[dict[str, Any]]) -> bytes:
        if self._encode is None:
            import msgspec

            self._encode = msgspec.json.Encoder().encode_lines
        out: bytes = self._encode(events)
        return out


def _session_event(payload: bytes) -> dict[str, Any] | None:
    """A session record's JSON object (connect, disconnect, resync), else None."""
    import msgspec

    try:
        obj = msgspec.json.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def normalize_symbol(text: str) -> str:
    """A --symbol value as BASE-QUOTE: 'btc/usd' and 'XBT-USD' both give 'BTC-USD'."""
    from alphapulse_cli.adapters.symbols import KRAKEN_TO_COMMON

    base, _, quote = text.strip().upper().replace("/", "-").partition("-")
    return f"{KRAKEN_TO_COMMON.get(base, base)}-{KRAKEN_TO_COMMON.get(quote, quote)}"


class Normalizer:
    """Feeds records to per-(venue, connection) adapters and returns their events.

    `symbols` keeps only events for those symbols (plus connection-level events, which
    carry no symbol). `last_adapter` is the adapter that handled the last record.
    """

    def __init__(self, symbols: Iterable[str] | None = None) -> None:
        self.symbols: frozenset[str] | None = (
            frozenset(normalize_symbol(s) for s in symbols) if symbols else None
        )
        self.adapters: dict[int, Adapter | None] = {}
        self.last_adapter: Adapter | None = None
        self._shared_ids: dict[str, TradeIds] = {}
        # With a symbol filter, every symbol met (kept or not): a --symbol that never
        # occurs is worth a word, and what the inputs do hold is the hint.
        self.seen_symbols: set[str] = set()

    def adapter_for(self, tag: int) -> Adapter | None:
        key = tag & 0xFFF
        if key in self.adapters:
            return self.adapters[key]
        name = venue_name(key & 0xFF)
        adapter = make_adapter(name) if name in ADAPTERS else None
        if adapter is not None:
            # Trade ids are per product, whatever the connection: connections of one venue
            # share them, so a trade seen on two connections is emitted once.
            adapter.share_trade_ids(self._shared_ids.setdefault(name, adapter.trade_ids))
        self.adapters[key] = adapter
        return adapter

    def process(self, ts: int, tag: int, payload: bytes) -> list[dict[str, Any]]:
        adapter = self.adapters.get(tag & 0xFFF)
        if adapter is None:
            adapter = self.adapter_for(tag)
            if adapter is None:
                return []
        self.last_adapter = adapter
        kind = tag >> 12
        if kind == 0:
            events = adapter.feed(payload, ts)
        elif kind == 2:
            obj = _session_event(payload)
            if obj is None:
                return []
            events = adapter.feed_session(obj, ts)
        else:
            if kind == 1:
                adapter.feed_outbound(payload, ts)
            return []
        wanted = self.symbols
        if wanted is not None and events:
            self.seen_symbols.update(e["symbol"] for e in events)
            events = [e for e in events if e["symbol"] is None or e["symbol"] in wanted]
        return events

    def missing_symbols(self) -> list[str]:
        """The filter's symbols that no event carried."""
        if self.symbols is None:
            return []
        return sorted(self.symbols - self.seen_symbols)

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Integrity counters per venue name, summed over its connections."""
        out: dict[str, dict[str, int]] = {}
        for adapter in self.adapters.values():
            if adapter is None:
                continue
            from alphapulse_cli.adapters.base import STAT_KEYS

            acc = out.setdefault(adapter.venue, dict.fromkeys(STAT_KEYS, 0))
            for k, v in adapter.stats.items():
                acc[k] += v
        return out


def iter_event_lines(
    records: Iterable[Record],
    symbols: Iterable[str] | None = None,
    normalizer: Normalizer | None = None,
    *,
    batch: int = BATCH_EVENTS,
) -> Iterator[bytes]:
    """Normalized events as JSON lines, yielded in blocks of about `batch` events (use
    batch=1 when following a live source, so every event leaves at once)."""
    norm = normalizer if normalizer is not None else Normalizer(symbols)
    encode_lines = _LineEncoder()
    process = norm.process
    adapters = norm.adapters
    direct = norm.symbols is None
    # Lines collect in `out`, in order. Event dicts wait in `pending` to be encoded many
    # per call; an adapter that writes its own lines (the compiled Coinbase path) writes
    # them into `out` itself, after whatever is pending.
    out = bytearray()
    pending: list[dict[str, Any]] = []
    block = batch * _EVENT_BYTES if batch > 1 else 1
    for ts, tag, payload in records:
        # Inbound frames (kind 0: the tag is the adapter key) of known connections go
        # straight to their adapter; everything else takes the general route.
        adapter = adapters.get(tag) if direct else None
        events: list[dict[str, Any]] | None
        if adapter is None:
            events = process(ts, tag, payload)
        elif adapter.writes_lines:
            if pending:
                out += encode_lines(pending)
                pending = []
            events = adapter.feed_into(payload, ts, out)
        else:
            events = adapter.feed(payload, ts)
        if events:
            pending += events
            if len(pending) >= batch:
                out += encode_lines(pending)
                pending = []
        if len(out) >= block:
            yield bytes(out)
            out.clear()
    if pending:
        out += encode_lines(pending)
    if out:
        yield bytes(out)


def iter_book_lines(
    records: Iterable[Record],
    depth: int,
    symbols: Iterable[str] | None = None,
    normalizer: Normalizer | None = None,
    *,
    batch: int = 256,
) -> Iterator[bytes]:
    """After each book-changing message, the book's top `depth` levels per side as
    {"type": "book","exchange","symbol","ts_local","bids","asks"} JSON lines, best first
    (`type` first, as in the events). Books that are
    not valid (awaiting a snapshot after a mismatch or disconnect) are left out."""
    norm = normalizer if normalizer is not None else Normalizer(symbols)
    encode_lines = _LineEncoder()
    process = norm.process
    pending: list[dict[str, Any]] = []
    for ts, tag, payload in records:
        events = process(ts, tag, payload)
        if not events:
            continue
        adapter = norm.last_adapter
        if adapter is None:
            continue
        done: set[str] = set()
        for ev in events:
            sym = ev["symbol"]
            if ev["type"] not in _BOOK_TYPES or sym in done:
                continue
            done.add(sym)
            if not adapter.book_valid(sym):
                continue
            bids, asks = adapter.books[sym].top(depth)
            pending.append(
                {
                    "type": "book",
                    "exchange": adapter.venue,
                    "symbol": sym,
                    "ts_local": ts,
                    "bids": bids,
                    "asks": asks,
                }
            )
        if len(pending) >= batch:
            yield encode_lines(pending)
            pending = []
    if pending:
        yield encode_lines(pending)
