"""Coinbase Exchange market data (wss://ws-feed.exchange.coinbase.com) as a sans-I/O session.

Channels: level2_batch (alias level2_50; changes merged per product every 50 ms), level2
(one l2update per market event; refused without the four authentication fields), matches
(last_match first, then match with consecutive trade_id, `side` the maker's), ticker (one per
trade event) and heartbeat (once a second per product, with sequence and last_trade_id).
"""

from __future__ import annotations

from typing import Any

from alphapulse_cli.core.times import ns_to_rfc3339
from alphapulse_cli.exchange.market import ASK, BID, BUY, Book, Trade
from alphapulse_cli.exchange.session import Session, dumps

AUTH_FIELDS = ("signature", "key", "passphrase", "timestamp")
ALIASES = {"level2_50": "level2_batch"}
SERVED = ("level2_batch", "level2", "matches", "ticker", "heartbeat")
NEED_AUTH = ("level2", "level3", "full", "user", "balance")
EVENT_CHANNELS = ("level2_batch", "level2", "matches", "ticker")
LEVEL2_AUTH_REASON = (
    "level2, level3, and full channels now require authentication. "
    "https://docs.cloud.coinbase.com/exchange/docs/websocket-auth"
)


class _Product:
    __slots__ = ("batch", "book", "channels", "pending")

    def __init__(self, book: Book) -> None:
        self.book = book
        self.channels: set[str] = set()
        self.pending: list[str] = []  # this event's changes (level2)
        self.batch: list[str] = []  # changes since the last batch (level2_batch)


class CoinbaseSession(Session):
    dialect = "coinbase"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subs: dict[str, list[str]] = {}  # channel -> product ids, in subscription order
        self.products: dict[int, _Product] = {}
        self.subscribed = False
        self.next_batch_ns = 0
        self.next_heartbeat_ns = 0
        self.matches_sent = 0  # ordinal of `match` messages, for the skip fault
        self.skip = set(self.faults.skip)

    # ---- client messages
    def receive(self, data: str | bytes, now_ns: int) -> None:
        msg = self.client_json(data, now_ns)
        if msg is None:
            self._error("Malformed JSON")
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "subscribe":
            self._subscribe(msg, now_ns)
        elif kind == "unsubscribe":
            self._unsubscribe(msg)
        else:
            self._error("Failed to subscribe", f"{kind} is not a valid message type")

    def _error(self, message: str, reason: str | None = None) -> None:
        obj = {"type": "error", "message": message}
        if reason is not None:
            obj["reason"] = reason
        self.emit(dumps(obj), "error")

    def _channels(self, msg: dict[str, Any]) -> list[tuple[str, list[Any]]] | None:
        root = msg.get("product_ids") or []
        chans = msg.get("channels")
        if not isinstance(root, list) or not isinstance(chans, list) or not chans:
            self._error("Failed to subscribe", "channels must be a non-empty list")
            return None
        out: list[tuple[str, list[Any]]] = []
        for ch in chans:
            if isinstance(ch, str):
                name, products = ch, root
            elif isinstance(ch, dict) and isinstance(ch.get("name"), str):
                name, products = ch["name"], ch.get("product_ids") or root
            else:
                self._error("Failed to subscribe", f"{ch!r} is not a valid channel")
                continue
            out.append((ALIASES.get(name, name), products if isinstance(products, list) else []))
        return out

    def _subscribe(self, msg: dict[str, Any], now_ns: int) -> None:
        parsed = self._channels(msg)
        if parsed is None:
            return
        authed = all(isinstance(msg.get(k), str) and msg.get(k) for k in AUTH_FIELDS)
        added: list[tuple[str, Book]] = []
        valid = False
        reported: set[str] = set()
        for name, products in parsed:
            if name in NEED_AUTH and not authed:
                self._error("Failed to subscribe", LEVEL2_AUTH_REASON)
                continue
            if name not in SERVED:
                self._error("Failed to subscribe", f"{name} is not a valid channel")
                continue
            if not products:
                self._error("Failed to subscribe", f"{name} needs product_ids")
                continue
            for pid in products:
                book = self.lookup(pid, self.market.by_symbol)
                if book is None:
                    if str(pid) not in reported:
                        reported.add(str(pid))
                        self._error("Failed to subscribe", f"{pid} is not a valid product")
                    continue
                valid = True
                listed = self.subs.setdefault(name, [])
                if pid not in listed:
                    listed.append(pid)
                    added.append((name, book))
        if not valid:
            return
        self.subscribed = True
        self._subscriptions()
        for name, book in added:
            p = self.products.get(book.idx)
            if p is None:
                p = self.products[book.idx] = _Product(book)
            p.channels.add(name)
            if name in ("level2", "level2_batch"):
                self._snapshot(book)
            elif name == "matches":
                self._match(book, book.trades[-1], "last_match")
            elif name == "ticker":
                self._ticker(book, book.trades[-1])
            elif name == "heartbeat" and self.next_heartbeat_ns == 0:
                self.next_heartbeat_ns = now_ns
            if name in EVENT_CHANNELS:
                self.attach(book)

    def _unsubscribe(self, msg: dict[str, Any]) -> None:
        parsed = self._channels(msg)
        if parsed is None:
            return
        for name, products in parsed:
            listed = self.subs.get(name)
            if not listed:
                continue
            gone = list(listed) if not products else [p for p in products if p in listed]
            for pid in gone:
                listed.remove(pid)
                book = self.market.by_symbol[pid]
                p = self.products[book.idx]
                p.channels.discard(name)
                if not p.channels & set(EVENT_CHANNELS):
                    self.detach(book)
                    p.pending.clear()
                    p.batch.clear()
                if not p.channels:
                    del self.products[book.idx]
            if not listed:
                del self.subs[name]
        self._subscriptions()

    def _subscriptions(self) -> None:
        chans = [{"name": n, "product_ids": list(p)} for n, p in self.subs.items() if p]
        self.emit(dumps({"type": "subscriptions", "channels": chans}), "subscriptions")

    # ---- messages
    def _snapshot(self, book: Book) -> None:
        pt, qt = book.ptxt, book.qtxt
        bids = ",".join(f'["{pt(p)}","{qt(q)}"]' for p, q in book.top(BID))
        asks = ",".join(f'["{pt(p)}","{qt(q)}"]' for p, q in book.top(ASK))
        self.emit(
            f'{{"type":"snapshot","product_id":"{book.symbol}","bids":[{bids}],"asks":[{asks}]}}'.encode(),
            "snapshot",
        )

    def _l2update(self, book: Book, changes: list[str]) -> None:
        self.emit(
            f'{{"type":"l2update","product_id":"{book.symbol}","changes":[{",".join(changes)}],'
            f'"time":"{self.market.iso}"}}'.encode(),
            "l2update",
        )

    def _match(self, book: Book, t: Trade, kind: str = "match") -> None:
        maker_side = "sell" if t.taker == BUY else "buy"
        time_txt = self.market.iso if t.ts_ns == self.market.now_ns else ns_to_rfc3339(t.ts_ns)
        self.emit(
            f'{{"type":"{kind}","trade_id":{t.trade_id},"maker_order_id":"{t.maker_order}",'
            f'"taker_order_id":"{t.taker_order}","side":"{maker_side}","size":"{book.qtxt(t.lots)}",'
            f'"price":"{book.ptxt(t.price)}","product_id":"{book.symbol}","sequence":{t.seq},'
            f'"time":"{time_txt}"}}'.encode(),
            kind,
        )
        self.stats.last_trade_id[book.symbol] = t.trade_id

    def _ticker(self, book: Book, t: Trade) -> None:
        pt, qt = book.ptxt, book.qtxt
        bid = book.level_at(BID, 0) or (0, 0)
        ask = book.level_at(ASK, 0) or (0, 0)
        self.emit(
            f'{{"type":"ticker","sequence":{t.seq},"product_id":"{book.symbol}",'
            f'"price":"{pt(t.price)}","open_24h":"{pt(book.open_24h)}",'
            f'"volume_24h":"{qt(book.volume_24h)}","low_24h":"{pt(book.low_24h)}",'
            f'"high_24h":"{pt(book.high_24h)}","volume_30d":"{qt(book.volume_24h * 30)}",'
            f'"best_bid":"{pt(bid[0])}","best_bid_size":"{qt(bid[1])}",'
            f'"best_ask":"{pt(ask[0])}","best_ask_size":"{qt(ask[1])}",'
            f'"side":"{"buy" if t.taker == BUY else "sell"}","time":"{ns_to_rfc3339(t.ts_ns)}",'
            f'"trade_id":{t.trade_id},"last_size":"{qt(t.lots)}"}}'.encode(),
            "ticker",
        )

    # ---- market listener
    def on_change(
        self, book: Book, side: int, price: int, lots: int, prev: int, rank: int, op: int
    ) -> None:
        p = self.products.get(book.idx)
        if p is None:
            return
        chans = p.channels
        if "level2" in chans or "level2_batch" in chans:
            change = f'["{"sell" if side else "buy"}","{book.ptxt(price)}","{book.qtxt(lots)}"]'
            if "level2" in chans:
                p.pending.append(change)
            if "level2_batch" in chans:
                p.batch.append(change)

    def on_trades(self, book: Book, trades: list[Trade]) -> None:
        p = self.products.get(book.idx)
        if p is None:
            return
        if "matches" in p.channels:
            for t in trades:
                self.matches_sent += 1
                if self.matches_sent in self.skip:
                    self.stats.skipped += 1
                    self.stats.gaps.append({"symbol": book.symbol, "trade_id": t.trade_id})
                    continue
                self._match(book, t)
        if "ticker" in p.channels:
            self._ticker(book, trades[-1])

    def on_event_end(self, book: Book) -> None:
        p = self.products.get(book.idx)
        if p is not None and p.pending:
            self._l2update(book, p.pending)
            p.pending = []

    # ---- timers
    def on_clock(self, now_ns: int) -> None:
        s = self.settings
        if not self.subscribed_in_time(self.subscribed, now_ns):
            return
        if now_ns >= self.next_batch_ns:
            self.next_batch_ns = now_ns + int(s.batch_interval * 1e9)
            for p in self.products.values():
                if p.batch:
                    self._l2update(p.book, p.batch)
                    p.batch = []
        if self.next_heartbeat_ns and now_ns >= self.next_heartbeat_ns:
            self.next_heartbeat_ns = now_ns + int(s.heartbeat_interval * 1e9)
            for pid in self.subs.get("heartbeat", ()):
                book = self.market.by_symbol[pid]
                self.emit(
                    f'{{"type":"heartbeat","sequence":{book.seq},'
                    f'"last_trade_id":{book.last_trade_id},"product_id":"{pid}",'
                    f'"time":"{self.market.iso}"}}'.encode(),
                    "heartbeat",
                )
