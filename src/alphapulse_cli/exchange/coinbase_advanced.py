"""Coinbase Advanced Trade market data (wss://advanced-trade-ws.coinbase.com) as a sans-I/O
session, served on the Coinbase exchange's path /advanced-trade.

One channel per subscribe (`"channel"`, singular): level2 (messages on channel `l2_data`: a
snapshot of the book per product, then one update per market event, sides `bid`/`offer`,
`new_quantity` the new size), market_trades (a snapshot of the last trades, then updates;
`side` the maker's, BUY/SELL, `trade_id` a string) and heartbeats (once a second, with a
counter). Every message carries the envelope {channel, client_id, timestamp,
sequence_num, events}; sequence_num counts every message of the connection, across
channels and products, from 0. The skip fault consumes a number without sending its
message: the client sees the next number jump.
"""

from __future__ import annotations

import json
from typing import Any

from alphapulse_cli.core.times import ns_to_rfc3339
from alphapulse_cli.exchange.market import ASK, BID, BUY, Book, Trade
from alphapulse_cli.exchange.session import Session, dumps

PATH = "/advanced-trade"
SERVED = ("level2", "market_trades", "heartbeats")


class AdvancedSession(Session):
    dialect = "coinbase-advanced"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subs: dict[str, list[str]] = {}  # channel -> product ids, in subscription order
        self.channels: dict[int, set[str]] = {}  # book idx -> its channels
        self.pending: dict[int, list[str]] = {}  # book idx -> this event's level changes
        self.subscribed = False
        self.next_heartbeat_ns = 0
        self.heartbeats = 0
        self.seq = 0
        self.skip = set(self.faults.skip)

    # ---- client messages
    def receive(self, data: str | bytes, now_ns: int) -> None:
        msg = self.client_json(data, now_ns)
        if msg is None:
            self._error("malformed JSON")
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        channel = msg.get("channel") if isinstance(msg, dict) else None
        if kind not in ("subscribe", "unsubscribe"):
            self._error(f"{kind} is not a valid message type")
            return
        if channel not in SERVED:
            self._error(f"{channel!r} is not a valid channel")
            return
        products = msg.get("product_ids") or []
        if not isinstance(products, list):
            products = []
        if kind == "subscribe" and not products and channel != "heartbeats":
            self._error(f"{channel} needs product_ids")
            return
        if kind == "subscribe":
            self._subscribe(channel, products, now_ns)
        else:
            self._unsubscribe(channel, products)

    def _error(self, message: str) -> None:
        self.emit(dumps({"type": "error", "message": message}), "error")

    def _subscribe(self, channel: str, products: list[Any], now_ns: int) -> None:
        self.subscribed = True
        if channel == "heartbeats":
            self.subs.setdefault(channel, [])
            if self.next_heartbeat_ns == 0:
                self.next_heartbeat_ns = now_ns
            self._subscriptions()
            return
        added = []
        for pid in products:
            book = self.lookup(pid, self.market.by_symbol)
            if book is None:
                self._error(f"{pid} is not a valid product")
                continue
            listed = self.subs.setdefault(channel, [])
            if pid not in listed:
                listed.append(pid)
                added.append(book)
        self._subscriptions()
        for book in added:
            chans = self.channels.setdefault(book.idx, set())
            if not chans:
                self.attach(book)
            chans.add(channel)
            if channel == "level2":
                self._snapshot(book)
            else:
                self._trades(book, list(book.trades), "snapshot")

    def _unsubscribe(self, channel: str, products: list[Any]) -> None:
        listed = self.subs.get(channel)
        if listed is None:
            return
        gone = list(listed) if not products else [p for p in products if p in listed]
        for pid in gone:
            listed.remove(pid)
            book = self.market.by_symbol[pid]
            chans = self.channels.get(book.idx, set())
            chans.discard(channel)
            if channel == "level2":
                self.pending.pop(book.idx, None)
            if not chans:
                self.channels.pop(book.idx, None)
                self.detach(book)
        if not listed:
            del self.subs[channel]
        self._subscriptions()

    # ---- messages
    def _send(self, channel: str, events: str, kind: str) -> None:
        """One enveloped message with the connection's next sequence_num (or, for a skip
        fault, the number used up and nothing sent)."""
        seq = self.seq
        self.seq += 1
        if seq in self.skip:
            self.stats.skipped += 1
            return
        self.emit(
            f'{{"channel":"{channel}","client_id":"","timestamp":"{self.market.iso}",'
            f'"sequence_num":{seq},"events":[{events}]}}'.encode(),
            kind,
        )

    def _subscriptions(self) -> None:
        subs = json.dumps({"subscriptions": {k: v for k, v in self.subs.items()}})
        self._send("subscriptions", subs, "subscriptions")

    def _snapshot(self, book: Book) -> None:
        pt, qt = book.ptxt, book.qtxt
        t0 = "1970-01-01T00:00:00Z"
        levels = [
            f'{{"side":"{name}","event_time":"{t0}","price_level":"{pt(p)}","new_quantity":"{qt(q)}"}}'
            for side, name in ((BID, "bid"), (ASK, "offer"))
            for p, q in book.top(side)
        ]
        self._send(
            "l2_data",
            f'{{"type":"snapshot","product_id":"{book.symbol}","updates":[{",".join(levels)}]}}',
            "l2_snapshot",
        )

    def _trades(self, book: Book, trades: list[Trade], kind: str) -> None:
        pt, qt = book.ptxt, book.qtxt
        body = ",".join(
            f'{{"trade_id":"{t.trade_id}","product_id":"{book.symbol}","price":"{pt(t.price)}",'
            f'"size":"{qt(t.lots)}","side":"{"SELL" if t.taker == BUY else "BUY"}",'
            f'"time":"{ns_to_rfc3339(t.ts_ns)}"}}'
            for t in trades
        )
        self._send("market_trades", f'{{"type":"{kind}","trades":[{body}]}}', f"trades_{kind}")

    # ---- market listener
    def on_change(
        self, book: Book, side: int, price: int, lots: int, prev: int, rank: int, op: int
    ) -> None:
        chans = self.channels.get(book.idx)
        if chans and "level2" in chans:
            self.pending.setdefault(book.idx, []).append(
                f'{{"side":"{"offer" if side else "bid"}","event_time":"{self.market.iso}",'
                f'"price_level":"{book.ptxt(price)}","new_quantity":"{book.qtxt(lots)}"}}'
            )

    def on_trades(self, book: Book, trades: list[Trade]) -> None:
        chans = self.channels.get(book.idx)
        if chans and "market_trades" in chans:
            self._trades(book, trades, "update")

    def on_event_end(self, book: Book) -> None:
        changes = self.pending.pop(book.idx, None)
        if changes:
            self._send(
                "l2_data",
                f'{{"type":"update","product_id":"{book.symbol}","updates":[{",".join(changes)}]}}',
                "l2_update",
            )

    # ---- timers
    def on_clock(self, now_ns: int) -> None:
        s = self.settings
        if not self.subscribed_in_time(self.subscribed, now_ns):
            return
        if (
            self.next_heartbeat_ns
            and now_ns >= self.next_heartbeat_ns
            and "heartbeats" in self.subs
        ):
            self.next_heartbeat_ns = now_ns + int(s.heartbeat_interval * 1e9)
            self.heartbeats += 1
            self._send(
                "heartbeats",
                f'{{"current_time":"{self.market.iso}","heartbeat_counter":{self.heartbeats}}}',
                "heartbeats",
            )
