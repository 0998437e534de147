"""What every venue adapter shares: counters, books and their validity, the outbox, the
normalized event shapes (docs/architecture.md §5) and trade-id continuity.

An adapter is sans-I/O: `feed(frame bytes, receive ns)` returns events and never raises;
what it wants sent (a resubscribe after a checksum mismatch or a trade gap, pings) waits in
the outbox. Events are dicts; every one starts with the same six keys

    type, exchange, symbol (BASE-QUOTE), venue_symbol, ts_exchange (ns or None), ts_local

(symbol fields are None for connection-level events), then per type:

    trade              price, size (wire text), side (aggressor: buy/sell), trade_id (str|None)
    book_snapshot      bids, asks: every level, [price, size] wire text, as sent
    book_update        bids, asks: the changed levels (size "0..." removes), as sent
    gap                expected (first missing trade id), got, missing (count),
                       source ("trade_id", "heartbeat", or "sequence_num": an
                       Advanced Trade connection lost messages; no symbol, every
                       book of the connection waits for its next snapshot)
    checksum_mismatch  expected (the venue's), computed (ours)
    resync             reason (the book waits for a new snapshot)
    connect            url, protocol;  disconnect: reason
    malformed          reason, raw (the frame's first bytes, for the log)
"""

from __future__ import annotations

from typing import Any

from alphapulse_cli.adapters.tradeids import TradeIds
from alphapulse_cli.core.book import L2Book
from alphapulse_cli.errors import Malformed

STAT_KEYS = (
    "trades",
    "book_updates",
    "checksum_ok",
    "checksum_mismatch",
    "gaps",
    "resyncs",
    "malformed",
)
Event = dict[str, Any]
RAW_HEAD = 120


def check_utf8(payload: bytes) -> None:
    """Malformed unless the frame is UTF-8 (JSON text must be; ASCII, the common case, is
    checked without decoding)."""
    if not payload.isascii():
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed(f"not UTF-8: byte {exc.start}") from None
        except AttributeError:
            raise Malformed("frame is not bytes") from None


class Adapter:
    """Base class; subclasses implement `_feed` (and may extend the session hooks)."""

    venue = "none"
    symbol_form = "BASE-QUOTE"  # the venue's own symbol shape, for error messages
    writes_lines = False  # whether feed_into may write events into its buffer itself

    def __init__(self) -> None:
        self.stats: dict[str, int] = dict.fromkeys(STAT_KEYS, 0)
        self._symbols: dict[str, str] = {}  # venue symbol -> common symbol
        self.books: dict[str, L2Book] = {}
        # Symbols whose book is known to be wrong (checksum mismatch, resync) and waits for
        # its next snapshot; their updates are dropped quietly until then.
        self._stale: set[str] = set()
        self._outbox: list[bytes] = []
        self.protocol: str | None = None
        self.url: str | None = None
        self.venue_errors: list[str] = []
        # Trade-id continuity per symbol; it survives reconnects (ids are per product, so
        # a new connection's first trades are checked against the last one's).
        self.trade_ids = TradeIds()

    # A compiled path holds references to the adapter's dicts and cannot be pickled: it is
    # left out and attached again to the restored dicts (compact/carry.py pickles adapters
    # to continue books across hourly files).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_fast", "feed", "feed_into", "writes_lines"):
            state.pop(name, None)
        state["_speedups"] = getattr(self, "_fast", None) is not None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        speedups = state.pop("_speedups", False)
        self.__dict__.update(state)
        self._attach_fast(speedups)

    def _attach_fast(self, speedups: bool | None) -> None:
        """Attach the venue's compiled path, when it has one and it runs."""

    # ---- the public surface -------------------------------------------------------------
    def feed(self, payload: bytes, ts_local: int) -> list[Event]:
        """Normalized events for one inbound frame. Never raises."""
        try:
            return self._feed(payload, ts_local)
        except Malformed as exc:
            return [self._malformed(payload, ts_local, exc.reason, exc.symbol, exc.venue_symbol)]
        except Exception as exc:  # a frame no rule above anticipated: report, never crash
            reason = f"unexpected {type(exc).__name__}: {exc}"
            return [self._malformed(payload, ts_local, reason[:300])]

    def feed_into(self, payload: bytes, ts_local: int, out: bytearray) -> list[Event] | None:
        """`feed`, for callers that want JSON lines: an adapter may append the frame's
        events to `out` (exactly as msgspec's encode_lines writes them) and return None,
        or return the events as `feed` does. This one always returns them."""
        return self.feed(payload, ts_local)

    def feed_outbound(self, payload: bytes, ts_local: int) -> None:
        """What we sent (subscribe, ping); lets an adapter learn the subscription."""
        return None

    def feed_session(self, obj: dict[str, Any], ts_local: int) -> list[Event]:
        """A .wslog session event: connect, disconnect, resync, end."""
        try:
            kind = obj.get("event") if isinstance(obj, dict) else None
            if kind == "connect":
                url = obj.get("url")
                self.url = url if isinstance(url, str) else None
                self._on_connect(self.url)
                ev = self._event("connect", None, None, None, ts_local)
                ev["url"] = self.url
                ev["protocol"] = self.protocol
                return [ev]
            if kind == "disconnect":
                self.books.clear()
                self._stale.clear()
                self._validity_changed()
                ev = self._event("disconnect", None, None, None, ts_local)
                reason = obj.get("reason")
                ev["reason"] = reason if isinstance(reason, str) else None
                return [ev]
            if kind == "resync":
                return self._on_resync(obj, ts_local)
        except Exception:
            return []
        return []

    def share_trade_ids(self, ids: TradeIds) -> None:
        """Check trade ids against `ids` from now on (connections of one venue share one
        TradeIds, so a trade seen on two connections is emitted once)."""
        self.trade_ids = ids

    def take_outbox(self) -> list[bytes]:
        out, self._outbox = self._outbox, []
        return out

    def book_valid(self, symbol: str) -> bool:
        return symbol in self.books and symbol not in self._stale

    def book_depth(self, symbol: str) -> int | None:
        """The depth a venue truncates `symbol`'s book to after each message (None: the venue
        sends the whole book), so a reader rebuilding the book from its levels can do the same."""
        return None

    def default_url(self, protocol: str | None = None) -> str:
        raise NotImplementedError

    def ping_message(self) -> bytes | None:
        return None

    def subscribe_messages(
        self,
        symbols: list[str],
        channels: list[str] | None = None,
        depth: int | None = None,
        protocol: str | None = None,
    ) -> list[bytes]:
        raise NotImplementedError

    # ---- hooks ---------------------------------------------------------------------------
    def _feed(self, payload: bytes, ts_local: int) -> list[Event]:
        raise NotImplementedError

    def _on_connect(self, url: str | None) -> None:
        """A new connection: no book survives it. Trade ids do (ids are per product, so a
        reconnect's first trades are checked against the last connection's)."""
        self.books.clear()
        self._stale.clear()
        self._validity_changed()

    def _validity_changed(self) -> None:
        """Called whenever `books` or `_stale` changed (for subclasses' lookup caches)."""

    def _normalize(self, symbol: str) -> str | None:
        return None

    def _symbol(self, venue_symbol: str) -> str:
        """The common symbol for a venue symbol, cached; Malformed if it is not one."""
        sym = self._symbols.get(venue_symbol)
        if sym is None:
            sym = self._normalize(venue_symbol)
            if sym is None:
                raise Malformed(
                    f"unknown symbol {venue_symbol[:40]!r}: expected {self.symbol_form}"
                )
            self._symbols[venue_symbol] = sym
        return sym

    def _on_resync(self, obj: dict[str, Any], ts_local: int) -> list[Event]:
        """The capture resynced a symbol (or all): its book waits for a new snapshot.
        A symbol already waiting (we asked for the resync ourselves) is not counted twice."""
        raw = obj.get("symbol")
        reason = obj.get("reason")
        reason = reason if isinstance(reason, str) else "resync"
        if isinstance(raw, str):
            sym = self._normalize(raw) or raw
            if sym in self._stale:
                return []
            self._stale.add(sym)
            self._validity_changed()
            return [self._resync(sym, raw if sym != raw else None, None, ts_local, reason)]
        fresh = [s for s in self.books if s not in self._stale]
        self._stale.update(fresh)
        self._validity_changed()
        return [self._resync(None, None, None, ts_local, reason)] if fresh or not self.books else []

    # ---- events --------------------------------------------------------------------------
    def _event(
        self, kind: str, symbol: str | None, vsym: str | None, ts_ex: int | None, ts_local: int
    ) -> Event:
        return {
            "type": kind,
            "exchange": self.venue,
            "symbol": symbol,
            "venue_symbol": vsym,
            "ts_exchange": ts_ex,
            "ts_local": ts_local,
        }

    def _malformed(
        self,
        payload: bytes,
        ts_local: int,
        reason: str,
        symbol: str | None = None,
        vsym: str | None = None,
    ) -> Event:
        self.stats["malformed"] += 1
        ev = self._event("malformed", symbol, vsym, None, ts_local)
        ev["reason"] = reason
        head = payload[:RAW_HEAD]
        ev["raw"] = head.decode("utf-8", "replace") if isinstance(head, bytes) else str(head)
        return ev

    def _resync(
        self, symbol: str | None, vsym: str | None, ts_ex: int | None, ts_local: int, reason: str
    ) -> Event:
        self.stats["resyncs"] += 1
        ev = self._event("resync", symbol, vsym, ts_ex, ts_local)
        ev["reason"] = reason
        return ev

    def _mismatch(
        self, symbol: str, vsym: str, ts_ex: int | None, ts_local: int, expected: int, computed: int
    ) -> Event:
        self.stats["checksum_mismatch"] += 1
        ev = self._event("checksum_mismatch", symbol, vsym, ts_ex, ts_local)
        ev["expected"] = expected
        ev["computed"] = computed
        return ev

    def _gap(
        self,
        symbol: str,
        vsym: str,
        ts_ex: int | None,
        ts_local: int,
        expected: int,
        got: int,
        missing: int,
        source: str,
    ) -> Event:
        self.stats["gaps"] += 1
        ev = self._event("gap", symbol, vsym, ts_ex, ts_local)
        ev["expected"] = expected
        ev["got"] = got
        ev["missing"] = missing
        ev["source"] = source
        return ev

    def _trade_seen(
        self, sym: str, vsym: str, tid: int, ts_ex: int | None, ts_local: int, out: list[Event]
    ) -> bool:
        """Check a trade id against the symbol's continuity (see tradeids); False for a
        duplicate. Appends a gap event when ids were skipped."""
        emit, gap = self.trade_ids.check(sym, tid)
        if gap is not None:
            out.append(self._gap(sym, vsym, ts_ex, ts_local, *gap, "trade_id"))
            self._on_trade_gap(sym, vsym)
        return emit

    def _on_trade_gap(self, sym: str, vsym: str) -> None:
        """Hook: a venue that can replay recent trades asks for them here."""

    def _heartbeat_tid(
        self, sym: str, vsym: str, last_tid: int, ts_ex: int | None, ts_local: int
    ) -> list[Event]:
        """A venue's 'last trade id' claim: ids beyond what we have seen were missed."""
        gap = self.trade_ids.claim(sym, last_tid)
        if gap is None:
            return []
        return [self._gap(sym, vsym, ts_ex, ts_local, *gap, "heartbeat")]
