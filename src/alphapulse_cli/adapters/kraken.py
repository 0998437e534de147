"""Kraken, WebSocket v2 and v1 behind one venue name.

The protocol comes from the connect URL (ends with /v2, or the bare v1 host) and otherwise
from each frame's shape (arrays and "event" objects are v1, "channel"/"method" objects v2).
Book integrity is Kraken's CRC32 over the top 10 levels after applying every level of a
message and truncating each side to the subscribed depth. v2 values are formatted to the
instrument's price/qty precision first (from the instrument channel, else the most decimals
seen on the wire for that symbol); v1 strings are used as sent. A mismatch makes that one
book stale and queues an unsubscribe + subscribe for that symbol to get a fresh snapshot.
"""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING, Any

import msgspec

from alphapulse_cli.adapters import kraken_v1, kraken_v2
from alphapulse_cli.adapters.base import Adapter, Event, check_utf8
from alphapulse_cli.adapters.kraken_checksum import fixed, level_token
from alphapulse_cli.adapters.kraken_items import (
    MAX_DEPTH,
    BookData,
    DepthInfo,
    Item,
    PrecisionInfo,
    TradeData,
    VenueError,
    depth_for,
)
from alphapulse_cli.adapters.symbols import kraken_symbol, to_kraken
from alphapulse_cli.adapters.tradeids import TradeIds
from alphapulse_cli.core.book import L2Book
from alphapulse_cli.errors import Malformed
from alphapulse_cli.speedups import kernel

if TYPE_CHECKING:
    from alphapulse_cli._speedups import KrakenFast

V2_URL = "wss://ws.kraken.com/v2"
V1_URL = "wss://ws.kraken.com"
V1_HOSTS = ("ws.kraken.com", "ws-auth.kraken.com", "beta-ws.kraken.com")
DEFAULT_DEPTH = 10
_TOKEN_CACHE = 20_000
RESUBSCRIBE_INTERVAL_NS = 1_000_000_000
V2_CHANNELS = ["instrument", "book", "trade"]
V1_CHANNELS = ["book", "trade"]

# Float literals arrive as their exact text; integers as int (any size).
_decode = msgspec.json.Decoder(float_hook=str).decode


def protocol_from_url(url: str | None) -> str | None:
    if not url:
        return None
    u = url.split("?", 1)[0].rstrip("/")
    if u.endswith("/v2"):
        return "v2"
    host = u.split("://", 1)[-1]
    return "v1" if host in V1_HOSTS else None


class KrakenAdapter(Adapter):
    venue = "kraken"
    symbol_form = "BASE/QUOTE"

    def __init__(self, speedups: bool | None = None) -> None:
        """speedups: use the compiled path (default: when built, unless
        $ALPHAPULSE_NO_SPEEDUPS is set). Events are the same either way."""
        super().__init__()
        self._precision: dict[str, tuple[int, int]] = {}  # instrument channel, by v2 symbol
        self._inferred: dict[str, tuple[int, int]] = {}  # most decimals seen, by v2 symbol
        self._depth_req: dict[str, int] = {}  # from our subscribes; "*" = every symbol
        self._depth_ack: dict[str, int] = {}
        self._depth_seen: dict[str, int] = {}  # raised when a snapshot is deeper
        self._depth_used: dict[str, int] = {}  # symbol -> the depth its book was cut to
        # checksum tokens per symbol: (precision, price text -> token, qty text -> token)
        self._tokens: dict[str, tuple[tuple[int, int] | None, dict[str, str], dict[str, str]]] = {}
        self._req_id = 0
        self._pending_resub: dict[str, tuple[str, int]] = {}  # symbol -> (protocol, depth)
        self._resub_ns: dict[str, int] = {}  # when the last resubscribe was queued
        # The compiled book-update/trade path (src/alphapulse_cli/_speedups.c), when it runs;
        # the pure-Python feed stays the authority. It reads `_live`: venue symbol ->
        # (symbol, book, depth, price tokens, qty tokens, price places, qty places, inferred
        # price places, inferred qty places) for each valid book, rebuilt (in place, the
        # C side holds this dict) after anything that may change one of them.
        self._live: dict[str, tuple[Any, ...]] = {}
        self._attach_fast(speedups)

    def _attach_fast(self, speedups: bool | None) -> None:
        fast_type: type[KrakenFast] | None = kernel("KrakenFast", speedups)
        self._fast: KrakenFast | None = None
        if fast_type is not None:
            self._fast = fast_type(
                _decode,
                self._live,
                self._symbols,
                self.stats,
                self.trade_ids.next,
                self._fast_mismatch,
                self._slow_feed,
            )
            self.feed = self._fast.feed  # type: ignore[method-assign]
            self.feed_into = self._fast.feed_into  # type: ignore[method-assign]
            self.writes_lines = True
        self._refresh_live()  # a restored adapter (compact/carry.py) has books already

    @property
    def speedups(self) -> bool:
        """Whether this adapter runs the compiled path."""
        return self._fast is not None

    def share_trade_ids(self, ids: TradeIds) -> None:
        super().share_trade_ids(ids)
        if self._fast is not None:
            self._fast.set_trade_next(ids.next)

    def feed_session(self, obj: dict[str, Any], ts_local: int) -> list[Event]:
        out = super().feed_session(obj, ts_local)
        self._refresh_live()
        return out

    def _slow_feed(self, payload: bytes, ts_local: int) -> list[Event]:
        """The pure-Python feed, for the frames the compiled path declines."""
        out = Adapter.feed(self, payload, ts_local)
        self._refresh_live()
        return out

    def _validity_changed(self) -> None:
        self._refresh_live()

    def _refresh_live(self) -> None:
        """Rebuild `_live` from the books, depths, precisions and token caches, exactly as
        the Python path would find them for the next frame."""
        fast = self._fast
        if fast is None:
            return
        live = self._live
        live.clear()
        proto = self.protocol
        fast.set_protocol(1 if proto == "v1" else 2 if proto == "v2" else 0)
        if proto is None:
            return
        books, stale = self.books, self._stale
        for vs, sym in self._symbols.items():
            book = books.get(sym)
            if book is None or sym in stale:
                continue
            depth = self._depth_used.get(sym)
            if depth is None or (proto == "v2" and depth != self._depth(vs)):
                continue  # the Python path sets the depth with its next frame
            prec = (self._precision.get(vs) or self._inferred.get(vs)) if proto == "v2" else None
            cached = self._tokens.get(vs)
            if cached is None or cached[0] != prec:
                cached = self._tokens[vs] = (prec, {}, {})
            pp, qp = prec if prec is not None else (-1, -1)
            ipp, iqp = self._inferred.get(vs, (0, 0))
            live[vs] = (sym, book, depth, cached[1], cached[2], pp, qp, ipp, iqp)

    def _fast_mismatch(self, ev: Event, expected: int, computed: int) -> list[Event]:
        """The compiled path applied a book update whose checksum it could not confirm
        (computed < 0: a token only Decimal makes): what the Python path does next."""
        sym, vs, ts_ex, ts_local = (
            ev["symbol"],
            ev["venue_symbol"],
            ev["ts_exchange"],
            ev["ts_local"],
        )
        ver = "v1" if self.protocol == "v1" else "v2"
        if computed < 0:
            computed = self._checksum(self.books[sym], vs, ver)
            if computed == expected:
                self.stats["checksum_ok"] += 1
                self._refresh_live()
                return [ev]
        out = [ev, self._mismatch(sym, vs, ts_ex, ts_local, expected, computed)]
        self._stale.add(sym)
        self._pending_resub[vs] = (ver, self._depth_used.get(sym) or self._depth(vs))
        self._resubscribe_due(vs, ts_local)
        out.append(self._resync(sym, vs, ts_ex, ts_local, "checksum_mismatch"))
        self._refresh_live()
        return out

    # ---- public --------------------------------------------------------------------------
    def default_url(self, protocol: str | None = None) -> str:
        return V1_URL if protocol == "v1" else V2_URL

    def ping_message(self) -> bytes:
        self._req_id += 1
        if self.protocol == "v1":
            return _dumps({"event": "ping", "reqid": self._req_id})
        return _dumps({"method": "ping", "req_id": self._req_id})

    def subscribe_messages(
        self,
        symbols: list[str],
        channels: list[str] | None = None,
        depth: int | None = None,
        protocol: str | None = None,
    ) -> list[bytes]:
        proto = "v1" if protocol == "v1" else "v2"
        pairs = [to_kraken(s, proto) for s in symbols]
        out = []
        for ch in channels or (V1_CHANNELS if proto == "v1" else V2_CHANNELS):
            if proto == "v1":
                sub: dict[str, Any] = {"name": ch}
                if ch == "book":
                    sub["depth"] = depth or DEFAULT_DEPTH
                out.append(_dumps({"event": "subscribe", "pair": pairs, "subscription": sub}))
                continue
            params: dict[str, Any] = {"channel": ch}
            if ch != "instrument":
                params["symbol"] = pairs
            if ch == "book":
                params["depth"] = depth or DEFAULT_DEPTH
                params["snapshot"] = True
            self._req_id += 1
            out.append(_dumps({"method": "subscribe", "params": params, "req_id": self._req_id}))
        return out

    def feed_outbound(self, payload: bytes, ts_local: int) -> None:
        """Learn the book depth (and, before any connect event, the protocol) from the
        subscribe messages we sent. Never raises."""
        try:
            obj = _decode(payload)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return
        if isinstance(obj, dict):
            try:
                self._learn_outbound(obj)
            except Exception:
                return

    def _learn_outbound(self, obj: dict[str, Any]) -> None:
        self._learn_outbound_obj(obj)
        self._refresh_live()

    def _learn_outbound_obj(self, obj: dict[str, Any]) -> None:
        if obj.get("method") == "subscribe" and isinstance(obj.get("params"), dict):
            params = obj["params"]
            if self.protocol is None:
                self.protocol = "v2"
            if params.get("channel") == "book":
                self._learn_depth(params.get("symbol"), params.get("depth"))
        elif obj.get("event") == "subscribe" and isinstance(obj.get("subscription"), dict):
            sub = obj["subscription"]
            if self.protocol is None:
                self.protocol = "v1"
            if sub.get("name") == "book":
                self._learn_depth(obj.get("pair"), sub.get("depth"))

    def _learn_depth(self, symbols: object, depth: object) -> None:
        d = depth if type(depth) is int and 0 < depth <= MAX_DEPTH else DEFAULT_DEPTH
        if isinstance(symbols, list):
            for s in symbols:
                if isinstance(s, str):
                    self._depth_req[s] = d
                    self._depth_ack.pop(s, None)
        else:
            self._depth_req["*"] = d

    def _on_connect(self, url: str | None) -> None:
        super()._on_connect(url)
        self.protocol = protocol_from_url(url)
        self._depth_ack.clear()
        self._depth_seen.clear()
        self._pending_resub.clear()

    def _normalize(self, symbol: str) -> str | None:
        return kraken_symbol(symbol)

    # ---- inbound -------------------------------------------------------------------------
    def _feed(self, payload: bytes, ts_local: int) -> list[Event]:
        check_utf8(payload)
        try:
            obj = _decode(payload)
        except msgspec.DecodeError as exc:
            raise Malformed(f"not JSON: {exc}") from None
        proto = self.protocol
        items: list[Item]
        if isinstance(obj, list):
            if proto == "v2":
                raise Malformed("array frame on a v2 connection")
            items, ver = kraken_v1.parse_array(obj), "v1"
        elif isinstance(obj, dict):
            if "channel" in obj or "method" in obj:
                if proto == "v1":
                    raise Malformed("v2 message on a v1 connection")
                items, ver = kraken_v2.parse(obj), "v2"
            else:
                if proto == "v2":
                    raise Malformed("v2 message without 'channel' or 'method'")
                items, ver = kraken_v1.parse_event(obj), "v1"
        else:
            raise Malformed("not a JSON object or array")
        out: list[Event] = []
        for item in items:
            t = type(item)
            if t is BookData:
                self._book(item, ver, ts_local, out)  # type: ignore[arg-type]
            elif t is TradeData:
                self._trade(item, ts_local, out)  # type: ignore[arg-type]
            elif t is PrecisionInfo:
                pi: PrecisionInfo = item  # type: ignore[assignment]
                self._precision[pi.venue_symbol] = (pi.price_precision, pi.qty_precision)
            elif t is DepthInfo:
                di: DepthInfo = item  # type: ignore[assignment]
                self._depth_ack[di.venue_symbol] = di.depth
            elif t is VenueError:
                self.venue_errors.append(item.text[:500])  # type: ignore[union-attr]
                del self.venue_errors[:-20]
        return out

    def book_depth(self, symbol: str) -> int | None:
        return self._depth_used.get(symbol)

    def _depth(self, vs: str) -> int:
        return (
            self._depth_seen.get(vs)
            or self._depth_ack.get(vs)
            or self._depth_req.get(vs)
            or self._depth_req.get("*")
            or DEFAULT_DEPTH
        )

    def _book(self, d: BookData, ver: str, ts_local: int, out: list[Event]) -> None:
        vs = d.venue_symbol
        sym = self._symbol(vs)
        book = self.books.get(sym)
        try:
            if d.snapshot:
                fresh = L2Book()
                fresh.load(d.bids, d.asks)
                if d.depth is None:
                    deepest = max(len(d.bids), len(d.asks))
                    self._depth_seen.pop(vs, None)
                    if deepest > self._depth(vs):
                        self._depth_seen[vs] = depth_for(deepest)
                book = self.books[sym] = fresh
                self._stale.discard(sym)
                self._pending_resub.pop(vs, None)
                kind = "book_snapshot"
            elif book is None:
                raise Malformed("book update before its snapshot", sym, vs)
            elif sym in self._stale:
                self._resubscribe_due(vs, ts_local)
                return  # waiting for the snapshot our resubscribe asked for
            else:
                book.apply(d.bids, d.asks)
                self.stats["book_updates"] += 1
                kind = "book_update"
        except ValueError as exc:
            raise Malformed(f"bad level: {exc}", sym, vs) from None
        depth = self._depth_used[sym] = d.depth or self._depth(vs)
        book.truncate(depth)
        ev = self._event(kind, sym, vs, d.ts_exchange, ts_local)
        ev["bids"] = d.bids
        ev["asks"] = d.asks
        out.append(ev)
        if ver == "v2":
            self._infer_precision(vs, d)
        if d.checksum is None:
            return
        computed = self._checksum(book, vs, ver)
        if computed == d.checksum:
            self.stats["checksum_ok"] += 1
            return
        out.append(self._mismatch(sym, vs, d.ts_exchange, ts_local, d.checksum, computed))
        self._stale.add(sym)
        self._pending_resub[vs] = (ver, d.depth or self._depth(vs))
        self._resubscribe_due(vs, ts_local)
        out.append(self._resync(sym, vs, d.ts_exchange, ts_local, "checksum_mismatch"))

    def _resubscribe_due(self, vs: str, ts_local: int) -> None:
        """Queue the pending resubscribe for a stale book, at most once a second per symbol:
        a book that keeps failing must not turn into a subscribe storm (Kraken bans IPs
        that reconnect or resubscribe too fast). Until then its updates keep arriving,
        and each one checks again."""
        pending = self._pending_resub.get(vs)
        if pending is None:
            return
        last = self._resub_ns.get(vs)
        if last is not None and 0 <= ts_local - last < RESUBSCRIBE_INTERVAL_NS:
            return
        del self._pending_resub[vs]
        self._resub_ns[vs] = ts_local
        self._queue_resubscribe(vs, *pending)

    def _infer_precision(self, vs: str, d: BookData) -> None:
        pp, qp = self._inferred.get(vs, (0, 0))
        p0, q0 = pp, qp
        for side in (d.bids, d.asks):
            for price, qty in side:
                n = len(price) - price.find(".") - 1 if "." in price else 0
                if n > pp:
                    pp = n
                n = len(qty) - qty.find(".") - 1 if "." in qty else 0
                if n > qp:
                    qp = n
        if (pp, qp) != (p0, q0):
            self._inferred[vs] = (pp, qp)

    def _checksum(self, book: L2Book, vs: str, ver: str) -> int:
        """CRC32 of the top 10 asks then bids (kraken_checksum's algorithm). Each value's
        token (formatted to the precision, '.' and leading zeros removed) is cached per
        symbol: a message changes a level or two, the other 18 tokens are reused."""
        prec = (self._precision.get(vs) or self._inferred.get(vs)) if ver == "v2" else None
        cached = self._tokens.get(vs)
        if cached is None or cached[0] != prec or len(cached[1]) + len(cached[2]) > _TOKEN_CACHE:
            cached = self._tokens[vs] = (prec, {}, {})
        _, ptok, qtok = cached
        pp, qp = prec if prec is not None else (None, None)
        parts = []
        for side in (book.asks, book.bids):
            for price, qty in side.top(10):
                t = ptok.get(price)
                if t is None:
                    t = ptok[price] = level_token(price if pp is None else _pad(price, pp))
                parts.append(t)
                t = qtok.get(qty)
                if t is None:
                    t = qtok[qty] = level_token(qty if qp is None else _pad(qty, qp))
                parts.append(t)
        return zlib.crc32("".join(parts).encode()) & 0xFFFFFFFF

    def _queue_resubscribe(self, vs: str, ver: str, depth: int) -> None:
        if ver == "v1":
            sub = {"name": "book", "depth": depth}
            self._outbox.append(_dumps({"event": "unsubscribe", "pair": [vs], "subscription": sub}))
            self._outbox.append(_dumps({"event": "subscribe", "pair": [vs], "subscription": sub}))
            return
        params = {"channel": "book", "symbol": [vs], "depth": depth}
        self._req_id += 1
        self._outbox.append(
            _dumps({"method": "unsubscribe", "params": params, "req_id": self._req_id})
        )
        self._req_id += 1
        params = {**params, "snapshot": True}
        self._outbox.append(
            _dumps({"method": "subscribe", "params": params, "req_id": self._req_id})
        )

    def _on_trade_gap(self, sym: str, vsym: str) -> None:
        """v2 trade ids are a per-book sequence and a trade subscription with snapshot=true
        replays the last 50 trades: resubscribing fills a short gap (the snapshot's trades
        that were missing are emitted then; the others are duplicates and dropped)."""
        if self.protocol == "v1":
            return
        self._req_id += 1
        unsub = {"channel": "trade", "symbol": [vsym]}
        self._outbox.append(
            _dumps({"method": "unsubscribe", "params": unsub, "req_id": self._req_id})
        )
        self._req_id += 1
        sub = {"channel": "trade", "symbol": [vsym], "snapshot": True}
        self._outbox.append(_dumps({"method": "subscribe", "params": sub, "req_id": self._req_id}))

    def _trade(self, t: TradeData, ts_local: int, out: list[Event]) -> None:
        vs = t.venue_symbol
        sym = self._symbol(vs)
        tid = t.trade_id
        if tid is not None and not self._trade_seen(sym, vs, tid, t.ts_exchange, ts_local, out):
            return
        self.stats["trades"] += 1
        ev = self._event("trade", sym, vs, t.ts_exchange, ts_local)
        ev["price"] = t.price
        ev["size"] = t.size
        ev["side"] = t.side
        ev["trade_id"] = None if tid is None else str(tid)
        out.append(ev)


def _pad(text: str, places: int) -> str:
    """`text` with exactly `places` decimals: padding or dropping zeros on the string, the
    Decimal path only when significant digits would have to be rounded away."""
    whole, dot, frac = text.partition(".")
    n = len(frac)
    if n == places:
        return text if dot or not places else whole
    if n < places:
        return f"{whole}.{frac}{'0' * (places - n)}"
    if not frac[places:].strip("0"):
        return f"{whole}.{frac[:places]}" if places else whole
    return fixed(text, places)


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
