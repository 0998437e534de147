"""Coinbase: the Exchange feed (level2 / level2_batch, matches, heartbeat), plus the
Advanced Trade feed's l2_data and market_trades (same venue, other endpoint).

Integrity on Coinbase is trade-id continuity per product (the matches channel can drop
messages) checked against heartbeat `last_trade_id`; books carry no sequence or checksum,
so a book is trusted from its snapshot until the connection ends. The wire `side` of a
match is the MAKER's: the aggressor is the opposite side.

Advanced Trade numbers every message of a connection, across channels and products, with
`sequence_num`. A number beyond the next one means messages were lost: a `gap` event
(source `sequence_num`, no symbol), and every book of the connection waits for a fresh
snapshot (collect resubscribes level2 and market_trades). A number not beyond the last
(a repeat, or the docs' constant 0) is no gap.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import msgspec

from alphapulse_cli.adapters import coinbase_msgs as m
from alphapulse_cli.adapters.base import Adapter, Event, check_utf8
from alphapulse_cli.adapters.symbols import coinbase_symbol
from alphapulse_cli.adapters.tradeids import TradeIds
from alphapulse_cli.core.book import L2Book
from alphapulse_cli.core.times import SECONDS as _SECONDS
from alphapulse_cli.core.times import rfc3339_to_ns
from alphapulse_cli.errors import Malformed
from alphapulse_cli.speedups import kernel

if TYPE_CHECKING:
    from alphapulse_cli._speedups import CoinbaseFast

EXCHANGE_URL = "wss://ws-feed.exchange.coinbase.com"
ADVANCED_URL = "wss://advanced-trade-ws.coinbase.com"
DEFAULT_CHANNELS = ["level2_batch", "matches", "heartbeat"]
ADVANCED_CHANNELS = ["level2", "market_trades", "heartbeats"]
_AGGRESSOR = {"buy": "sell", "sell": "buy", "BUY": "sell", "SELL": "buy"}
_ADV_SIDE = {"bid": "bid", "offer": "ask", "ask": "ask"}
_SEEN_LIMIT = 10_000
_INF = float("inf")
_decode = m.decode
_L2Update = m.L2Update
_Match = m.Match


class CoinbaseAdapter(Adapter):
    venue = "coinbase"

    def __init__(self, speedups: bool | None = None) -> None:
        """speedups: use the compiled path (default: when built, unless
        $ALPHAPULSE_NO_SPEEDUPS is set). Events are the same either way."""
        super().__init__()
        # product id -> (symbol, book) for every book that is valid: one lookup per l2update.
        # Updated in place: the compiled path holds this very dict.
        self._live: dict[str, tuple[str, L2Book]] = {}
        self._adv_seen: dict[str, dict[str, None]] = {}
        self._adv_seq: int | None = None  # the connection's last Advanced Trade sequence_num
        self._attach_fast(speedups)

    def _attach_fast(self, speedups: bool | None) -> None:
        # The compiled l2update/match path (src/alphapulse_cli/_speedups.c), when it runs;
        # the pure-Python feed below stays the authority for every frame.
        fast_type: type[CoinbaseFast] | None = kernel("CoinbaseFast", speedups)
        self._fast: CoinbaseFast | None = None
        if fast_type is not None:
            self._fast = fast_type(
                _decode,
                _L2Update,
                _Match,
                self._live,
                self._symbols,
                self.stats,
                self.trade_ids.next,
                CoinbaseAdapter.feed.__get__(self),
            )
            # Instance attribute over the method: the hot path is one C call, no Python frame.
            self.feed = self._fast.feed  # type: ignore[method-assign]
            self.feed_into = self._fast.feed_into  # type: ignore[method-assign]
            self.writes_lines = True
        self._choose_path()  # a restored adapter (compact/carry.py) knows its protocol

    @property
    def speedups(self) -> bool:
        """Whether this adapter runs the compiled path."""
        return self._fast is not None

    def share_trade_ids(self, ids: TradeIds) -> None:
        super().share_trade_ids(ids)
        if self._fast is not None:
            self._fast.set_trade_next(ids.next)

    # ---- public --------------------------------------------------------------------------
    def default_url(self, protocol: str | None = None) -> str:
        return ADVANCED_URL if protocol == "advanced" else EXCHANGE_URL

    def subscribe_messages(
        self,
        symbols: list[str],
        channels: list[str] | None = None,
        depth: int | None = None,
        protocol: str | None = None,
    ) -> list[bytes]:
        ids = [s.upper().replace("/", "-") for s in symbols]
        if protocol == "advanced":
            # Advanced Trade takes exactly one channel per subscribe message.
            out = []
            for ch in channels or ADVANCED_CHANNELS:
                msg: dict[str, Any] = {"type": "subscribe", "channel": ch}
                if ch != "heartbeats":
                    msg["product_ids"] = ids
                out.append(json.dumps(msg, separators=(",", ":")).encode())
            return out
        msg = {"type": "subscribe", "product_ids": ids, "channels": channels or DEFAULT_CHANNELS}
        return [json.dumps(msg, separators=(",", ":")).encode()]

    def _on_connect(self, url: str | None) -> None:
        super()._on_connect(url)
        self._adv_seq = None  # numbering starts again with each connection
        self.protocol = "advanced" if url and "advanced-trade" in url else "exchange"
        self._choose_path()

    def _choose_path(self) -> None:
        if self._fast is not None and self.protocol is not None:
            # The compiled path knows Exchange frames only: on Advanced Trade it would decode
            # each frame once more just to decline it.
            fast = self.protocol == "exchange"
            if fast:
                self.feed = self._fast.feed  # type: ignore[method-assign]
                self.feed_into = self._fast.feed_into  # type: ignore[method-assign]
            else:
                self.feed = CoinbaseAdapter.feed.__get__(self)  # type: ignore[method-assign]
                self.feed_into = CoinbaseAdapter.feed_into.__get__(self)  # type: ignore[method-assign]
            self.writes_lines = fast

    def _normalize(self, symbol: str) -> str | None:
        return coinbase_symbol(symbol)

    # ---- inbound -------------------------------------------------------------------------
    def feed(self, payload: bytes, ts_local: int) -> list[Event]:
        """Normalized events for one inbound frame. Never raises.

        l2update, the bulk of the traffic, is handled inline: at hundreds of thousands of
        messages a second every Python call layer shows."""
        try:
            try:
                msg = _decode(payload)
            except msgspec.ValidationError as exc:
                return self._untyped(payload, ts_local, str(exc))
            except msgspec.DecodeError as exc:
                raise Malformed(f"not JSON: {exc}") from None
            except UnicodeDecodeError as exc:
                raise Malformed(f"not UTF-8: byte {exc.start}") from None
            if not payload.isascii():
                check_utf8(payload)
            if type(msg) is not _L2Update:
                if type(msg) is _Match:
                    return self._match(msg, ts_local)
                return self._other(msg, ts_local)
            pid = msg.product_id
            live = self._live.get(pid)
            if live is None:
                return self._l2update_slow(pid)
            sym, book = live
            t = msg.time
            ts_ex: int | None
            if len(t) == 27:
                try:
                    ts_ex = _SECONDS[t[:19]] + int(t[20:26]) * 1000
                except (KeyError, ValueError):
                    ts_ex = rfc3339_to_ns(t)
            else:
                ts_ex = rfc3339_to_ns(t)
            changes = msg.changes
            bids: list[list[str]]
            asks: list[list[str]]
            if len(changes) == 1:  # the common case, without the all-or-nothing pass
                side, price, size = changes[0]
                key = book._cache.get(price)
                if key is None:
                    try:
                        key = book._price_key(price)
                    except ValueError as exc:
                        raise Malformed(f"bad level: {exc}", sym, pid) from None
                try:
                    f = float(size)  # checks the size and tests it for zero; the text is kept
                except ValueError:
                    f = -1.0
                if not (0.0 <= f < _INF and size.isascii()):
                    raise Malformed(f"bad level: size {size[:40]!r} is not a number", sym, pid)
                if side == "buy":
                    bs = book.bids
                    bids = [[price, size]]
                    asks = []
                else:
                    bs = book.asks
                    key = -key
                    bids = []
                    asks = [[price, size]]
                # BookSide.apply, inlined: a removed level keeps its key with size None.
                sizes = bs.sizes
                old = sizes.get(key)
                if f:
                    if old is None:
                        if key not in sizes:
                            bs.add_key(key, price)
                        else:  # a removed level coming back takes its new text
                            bs.prices[key] = price
                        bs.live += 1
                    sizes[key] = size
                elif old is not None:
                    sizes[key] = None
                    bs.live -= 1
            else:
                bids = []
                asks = []
                try:
                    book.apply_changes(changes, bids, asks)
                except ValueError as exc:
                    raise Malformed(f"bad level: {exc}", sym, pid) from None
            self.stats["book_updates"] += 1
            return [
                {
                    "type": "book_update",
                    "exchange": "coinbase",
                    "symbol": sym,
                    "venue_symbol": pid,
                    "ts_exchange": ts_ex,
                    "ts_local": ts_local,
                    "bids": bids,
                    "asks": asks,
                }
            ]
        except Malformed as exc:
            return [self._malformed(payload, ts_local, exc.reason, exc.symbol, exc.venue_symbol)]
        except Exception as exc:  # a frame no rule anticipated: report, never crash
            reason = f"unexpected {type(exc).__name__}: {exc}"
            return [self._malformed(payload, ts_local, reason[:300])]

    def _l2update_slow(self, pid: str) -> list[Event]:
        """An l2update for a product without a usable book: stale (waiting for its snapshot,
        dropped quietly), never snapshotted (malformed), or not a product id at all."""
        sym = self._symbol(pid)
        if sym in self.books and sym in self._stale:
            return []
        raise Malformed("l2update before its snapshot", sym, pid)

    def _validity_changed(self) -> None:
        live = self._live
        live.clear()
        for pid, sym in self._symbols.items():
            if sym in self.books and sym not in self._stale:
                live[pid] = (sym, self.books[sym])

    def _other(self, msg: m.Message, ts_local: int) -> list[Event]:
        t = type(msg)
        if t is m.LastMatch:
            return self._match(msg, ts_local)  # type: ignore[arg-type]
        if t is m.Snapshot:
            return self._snapshot(msg, ts_local)  # type: ignore[arg-type]
        if t is m.Heartbeat:
            hb: m.Heartbeat = msg  # type: ignore[assignment]
            sym = self._symbol(hb.product_id)
            if hb.last_trade_id < 0:
                return []
            return self._heartbeat_tid(
                sym, hb.product_id, hb.last_trade_id, rfc3339_to_ns(hb.time), ts_local
            )
        if t is m.Error:
            err: m.Error = msg  # type: ignore[assignment]
            self._note_error(f"{err.message}: {err.reason}" if err.reason else err.message)
        return []

    def _note_error(self, text: str) -> None:
        self.venue_errors.append(text[:500])
        del self.venue_errors[:-20]

    def _untyped(self, payload: bytes, ts_local: int, why: str) -> list[Event]:
        """Not one of our typed shapes: a well-formed type we do not use, Advanced Trade,
        or a malformed frame."""
        check_utf8(payload)
        try:
            obj = m.decode_any(payload)
        except msgspec.DecodeError as exc:
            raise Malformed(f"not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise Malformed("not a JSON object")
        kind = obj.get("type")
        if isinstance(kind, str):
            if kind in m.KNOWN_TYPES:
                pid = obj.get("product_id")
                sym = coinbase_symbol(pid) if isinstance(pid, str) else None
                raise Malformed(f"bad {kind} message: {why}", sym, pid if sym else None)
            return []  # a type we do not use (venues add types over time)
        channel = obj.get("channel")
        if isinstance(channel, str):
            return self._advanced(obj, channel, ts_local)
        raise Malformed("no 'type' or 'channel' field")

    def _match(self, msg: m.Match, ts_local: int) -> list[Event]:
        pid = msg.product_id
        sym = self._symbols.get(pid) or self._symbol(pid)
        price, size = msg.price, msg.size
        try:
            # float() only validates; the event keeps the wire text.
            ok = 0.0 < float(price) < _INF and 0.0 <= float(size) < _INF
        except ValueError:
            ok = False
        if not ok or not price.isascii() or not size.isascii():
            raise Malformed(f"bad trade price/size {price[:30]!r}/{size[:30]!r}", sym, pid)
        t = msg.time
        ts_ex = None
        if len(t) == 27:
            try:
                ts_ex = _SECONDS[t[:19]] + int(t[20:26]) * 1000
            except (KeyError, ValueError):
                ts_ex = rfc3339_to_ns(t)
        else:
            ts_ex = rfc3339_to_ns(t)
        tid = msg.trade_id
        out: list[Event] = []
        nxt = self.trade_ids.next
        if nxt.get(sym) == tid:
            nxt[sym] = tid + 1
        elif not self._trade_seen(sym, pid, tid, ts_ex, ts_local, out):
            return out
        self.stats["trades"] += 1
        out.append(
            {
                "type": "trade",
                "exchange": "coinbase",
                "symbol": sym,
                "venue_symbol": pid,
                "ts_exchange": ts_ex,
                "ts_local": ts_local,
                "price": price,
                "size": size,
                "side": _AGGRESSOR[msg.side],
                "trade_id": str(tid),
            }
        )
        return out

    def _snapshot(self, msg: m.Snapshot, ts_local: int) -> list[Event]:
        pid = msg.product_id
        sym = self._symbol(pid)
        book = self.books.get(sym) or L2Book()
        try:
            book.load(msg.bids, msg.asks)
        except ValueError as exc:
            raise Malformed(f"bad snapshot level: {exc}", sym, pid) from None
        self.books[sym] = book
        self._stale.discard(sym)
        self._validity_changed()
        ev = self._event(
            "book_snapshot", sym, pid, rfc3339_to_ns(msg.time) if msg.time else None, ts_local
        )
        ev["bids"] = [list(lv) for lv in msg.bids]
        ev["asks"] = [list(lv) for lv in msg.asks]
        return [ev]

    # ---- Advanced Trade --------------------------------------------------------------------
    def _advanced(self, obj: dict[str, Any], channel: str, ts_local: int) -> list[Event]:
        out: list[Event] = []
        seq = obj.get("sequence_num")
        if type(seq) is int:
            last = self._adv_seq
            if last is None or seq > last:
                self._adv_seq = seq
                if last is not None and seq > last + 1:
                    out.append(self._sequence_gap(last + 1, seq, ts_local))
        events = obj.get("events")
        if channel not in ("l2_data", "market_trades"):
            return out
        if not isinstance(events, list):
            raise Malformed(f"{channel} without an events list")
        ts_msg = rfc3339_to_ns(obj.get("timestamp"))
        for ev in events:
            if not isinstance(ev, dict):
                raise Malformed(f"{channel} event is not an object")
            if channel == "l2_data":
                book_ev = self._adv_book(ev, ts_msg, ts_local)
                if book_ev is not None:
                    out.append(book_ev)
            else:
                self._adv_trades(ev, ts_local, out)
        return out

    def _sequence_gap(self, expected: int, got: int, ts_local: int) -> Event:
        """Messages of this connection were lost: no book of it can be trusted until its
        next snapshot."""
        self.stats["gaps"] += 1
        self._stale.update(self.books)
        self._validity_changed()
        ev = self._event("gap", None, None, None, ts_local)
        ev["expected"] = expected
        ev["got"] = got
        ev["missing"] = got - expected
        ev["source"] = "sequence_num"
        return ev

    def _adv_book(self, ev: dict[str, Any], ts_msg: int | None, ts_local: int) -> Event | None:
        pid = ev.get("product_id")
        kind = ev.get("type")
        updates = ev.get("updates")
        if not isinstance(pid, str) or kind not in ("snapshot", "update"):
            raise Malformed("l2_data event without product_id or with an unknown type")
        sym = self._symbol(pid)
        if not isinstance(updates, list):
            raise Malformed("l2_data event without updates", sym, pid)
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        for u in updates:
            side = _ADV_SIDE.get(str(u.get("side"))) if isinstance(u, dict) else None
            price = u.get("price_level") if side else None
            qty = u.get("new_quantity") if side else None
            if not isinstance(price, str) or not isinstance(qty, str):
                raise Malformed("l2_data update without side/price_level/new_quantity", sym, pid)
            (bids if side == "bid" else asks).append([price, qty])
        book = self.books.get(sym)
        try:
            if kind == "snapshot":
                book = book or L2Book()
                book.load(bids, asks)
                self.books[sym] = book
                self._stale.discard(sym)
                self._validity_changed()
            elif book is None:
                raise Malformed("l2_data update before its snapshot", sym, pid)
            elif sym in self._stale:
                return None
            else:
                book.apply(bids, asks)
                self.stats["book_updates"] += 1
        except ValueError as exc:
            raise Malformed(f"bad level: {exc}", sym, pid) from None
        out = self._event(
            "book_snapshot" if kind == "snapshot" else "book_update", sym, pid, ts_msg, ts_local
        )
        out["bids"] = bids
        out["asks"] = asks
        return out

    def _adv_trades(self, ev: dict[str, Any], ts_local: int, out: list[Event]) -> None:
        trades = ev.get("trades")
        if not isinstance(trades, list):
            raise Malformed("market_trades event without trades")
        for t in trades:
            if not isinstance(t, dict):
                raise Malformed("market_trades trade is not an object")
            pid, price, size, side = (
                t.get("product_id"),
                t.get("price"),
                t.get("size"),
                t.get("side"),
            )
            tid = t.get("trade_id")
            if not isinstance(pid, str) or side not in _AGGRESSOR:
                raise Malformed("market_trades trade without product_id or side")
            sym = self._symbol(pid)
            if (
                not isinstance(price, str)
                or not isinstance(size, str)
                or not _decimal(price)
                or not _decimal(size)
            ):
                raise Malformed("market_trades trade with a bad price or size", sym, pid)
            tid_s = str(tid) if isinstance(tid, (str, int)) and not isinstance(tid, bool) else None
            # Advanced Trade ids are opaque strings and batches repeat the snapshot's
            # trades: dedupe by id instead of checking continuity.
            if tid_s is not None:
                seen = self._adv_seen.setdefault(sym, {})
                if tid_s in seen:
                    continue
                seen[tid_s] = None
                if len(seen) > _SEEN_LIMIT:
                    for k in list(seen)[: _SEEN_LIMIT // 2]:
                        del seen[k]
            self.stats["trades"] += 1
            trade = self._event("trade", sym, pid, rfc3339_to_ns(t.get("time")), ts_local)
            trade.update(price=price, size=size, side=_AGGRESSOR[side], trade_id=tid_s)
            out.append(trade)


def _decimal(text: str) -> bool:
    return text.isascii() and text.replace(".", "", 1).isdigit()
