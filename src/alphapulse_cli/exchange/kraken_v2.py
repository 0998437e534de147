"""Kraken WebSocket v2 (wss://ws.kraken.com/v2) as a sans-I/O session.

A `status` message on connect; `subscribe`/`unsubscribe` for book (depth 10/25/100/500/1000),
trade, instrument and heartbeat, one ack per symbol; `ping` -> `pong`. Prices and quantities
are JSON numbers printed at the pair's precision (trailing zeros kept), and every book message
carries the CRC32 of the top 10 computed from that text.
"""

from __future__ import annotations

import time
from typing import Any

from alphapulse_cli.core.times import ns_to_rfc3339
from alphapulse_cli.exchange.kraken_books import (
    DEPTHS,
    TRUNCATED,
    BookSub,
    Entry,
    KrakenSession,
)
from alphapulse_cli.exchange.market import ASK, BID, BUY, Book, Trade
from alphapulse_cli.exchange.session import dumps

API_VERSION = "2.0.10"


class KrakenV2Session(KrakenSession):
    dialect = "kraken-v2"

    def opening(self, now_ns: int) -> None:
        connection_id = (1 << 63) + self.rng.getrandbits(63)  # past int64, as Kraken's are
        self.emit(
            f'{{"channel":"status","data":[{{"api_version":"v2","connection_id":{connection_id},'
            f'"system":"online","version":"{API_VERSION}"}}],"type":"update"}}'.encode(),
            "status",
        )

    # ---- dialect hooks
    def checksum(self, book: Book) -> int:
        return book.checksum_v2()

    def level_text(self, book: Book, price: int, lots: int) -> tuple[str, str]:
        return book.ptxt(price), book.qtxt(lots)

    def heartbeat(self) -> bytes:
        return b'{"channel":"heartbeat"}'

    # ---- client messages
    def receive(self, data: str | bytes, now_ns: int) -> None:
        self.last_in_ns = now_ns
        time_in = ns_to_rfc3339(now_ns)
        msg = self.parse(data)
        if not isinstance(msg, dict):
            self._reply(None, None, time_in, error="Malformed request")
            return
        method, req_id = msg.get("method"), msg.get("req_id")
        if method == "ping":
            self._reply("pong", req_id, time_in, plain=True)
        elif method in ("subscribe", "unsubscribe"):
            params = msg.get("params")
            if not isinstance(params, dict):
                self._reply(method, req_id, time_in, error="Missing params")
            elif method == "subscribe":
                self._subscribe(params, req_id, time_in, now_ns)
            else:
                self._unsubscribe(params, req_id, time_in)
        else:
            self._reply(method, req_id, time_in, error="Method not found")

    def _reply(
        self,
        method: Any,
        req_id: Any,
        time_in: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        symbol: Any = None,
        plain: bool = False,
    ) -> None:
        obj: dict[str, Any] = {}
        if method is not None:
            obj["method"] = method
        if req_id is not None:
            obj["req_id"] = req_id
        if error is not None:
            obj["error"] = error
            obj["success"] = False
            if symbol is not None:
                obj["symbol"] = symbol
        elif not plain:
            obj["result"] = result or {}
            obj["success"] = True
        obj["time_in"] = time_in
        obj["time_out"] = ns_to_rfc3339(time.time_ns())
        kind = "pong" if plain else ("error" if error else "ack")
        self.emit(dumps(obj, sort_keys=True), kind)

    def _symbols(self, params: dict[str, Any], method: str, req_id: Any, time_in: str) -> list[Any]:
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            self._reply(method, req_id, time_in, error="Missing or empty symbol list")
            return []
        return symbols

    def _subscribe(self, params: dict[str, Any], req_id: Any, time_in: str, now_ns: int) -> None:
        channel = params.get("channel")
        if channel == "heartbeat":
            self.heartbeats = True
            self._reply("subscribe", req_id, time_in, result={"channel": "heartbeat"})
            return
        if channel == "instrument":
            snap = params.get("snapshot", True) is not False
            self._reply(
                "subscribe", req_id, time_in, result={"channel": "instrument", "snapshot": snap}
            )
            if snap:
                self._instrument_snapshot()
            return
        if channel not in ("book", "trade"):
            self._reply("subscribe", req_id, time_in, error=f"Channel {channel} not supported")
            return
        depth = params.get("depth", 10)
        if channel == "book" and depth not in DEPTHS:
            self._reply("subscribe", req_id, time_in, error=f"Unsupported depth {depth}")
            return
        snap = params.get("snapshot", channel == "book") is not False
        for sym in self._symbols(params, "subscribe", req_id, time_in):
            book = self.lookup(sym, self.market.by_symbol)
            if book is None:
                self._reply(
                    "subscribe",
                    req_id,
                    time_in,
                    symbol=sym,
                    error=f"Currency pair not supported {sym}",
                )
                continue
            table: dict[int, Any] = self.books if channel == "book" else self.trades
            if book.idx in table:
                self._reply("subscribe", req_id, time_in, symbol=sym, error="Already subscribed")
                continue
            result: dict[str, Any] = {"channel": channel, "snapshot": snap, "symbol": sym}
            if channel == "book":
                result["depth"] = depth
            self._reply("subscribe", req_id, time_in, result=result)
            if channel == "book":
                sub = BookSub(book, depth, sym)
                self.watch_book(sub)
                if snap:
                    self._book_snapshot(sub)
            else:
                if snap:
                    self._trade_message(book, list(book.trades), "snapshot")
                self.watch_trades(book, (sym, 0))

    def _unsubscribe(self, params: dict[str, Any], req_id: Any, time_in: str) -> None:
        channel = params.get("channel")
        if channel not in ("book", "trade"):
            self._reply("unsubscribe", req_id, time_in, error=f"Channel {channel} not supported")
            return
        for sym in self._symbols(params, "unsubscribe", req_id, time_in):
            book = self.market.by_symbol.get(sym) if isinstance(sym, str) else None
            table: dict[int, Any] = self.books if channel == "book" else self.trades
            if book is None or book.idx not in table:
                self._reply(
                    "unsubscribe", req_id, time_in, symbol=sym, error="Subscription Not Found"
                )
                continue
            result: dict[str, Any] = {"channel": channel, "symbol": sym}
            if channel == "book":
                result["depth"] = self.books[book.idx].depth
            self.unwatch(book, channel)
            self._reply("unsubscribe", req_id, time_in, result=result)

    # ---- messages
    def _levels(self, book: Book, levels: list[tuple[int, int]]) -> str:
        pt, qt = book.ptxt, book.qtxt
        return ",".join(f'{{"price":{pt(p)},"qty":{qt(q)}}}' for p, q in levels)

    def _book_snapshot(self, sub: BookSub) -> None:
        book = sub.book
        bids = self._levels(book, book.top(BID, sub.depth))
        asks = self._levels(book, book.top(ASK, sub.depth))
        self.emit(
            f'{{"channel":"book","type":"snapshot","data":[{{"symbol":"{sub.wire_symbol}",'
            f'"bids":[{bids}],"asks":[{asks}],"checksum":{sub.last_ck},'
            f'"timestamp":"{self.market.iso}"}}]}}'.encode(),
            "book_snapshot",
        )

    def send_update(self, sub: BookSub, entries: list[Entry], checksum: int) -> None:
        book = sub.book
        pt, qt = book.ptxt, book.qtxt
        bids: list[str] = []
        asks: list[str] = []
        for side, price, lots, _prev, flag in entries:
            if flag == TRUNCATED:  # left the view: the client truncates it itself
                continue
            (asks if side == ASK else bids).append(f'{{"price":{pt(price)},"qty":{qt(lots)}}}')
        self.emit(
            f'{{"channel":"book","type":"update","data":[{{"symbol":"{sub.wire_symbol}",'
            f'"bids":[{",".join(bids)}],"asks":[{",".join(asks)}],"checksum":{checksum},'
            f'"timestamp":"{self.market.iso}"}}]}}'.encode(),
            "book_update",
        )

    def send_trades(self, book: Book, wire: tuple[str, int], trades: list[Trade]) -> None:
        self._trade_message(book, trades, "update")

    def _trade_message(self, book: Book, trades: list[Trade], kind: str) -> None:
        pt, qt = book.ptxt, book.qtxt
        items = ",".join(
            f'{{"symbol":"{book.symbol}","side":"{"buy" if t.taker == BUY else "sell"}",'
            f'"price":{pt(t.price)},"qty":{qt(t.lots)},"ord_type":"{t.ord_type}",'
            f'"trade_id":{t.trade_id},"timestamp":"{ns_to_rfc3339(t.ts_ns)}"}}'
            for t in trades
        )
        self.emit(
            f'{{"channel":"trade","type":"{kind}","data":[{items}]}}'.encode(), f"trade_{kind}"
        )

    def _instrument_snapshot(self) -> None:
        assets: dict[str, dict[str, Any]] = {}
        pairs = []
        for book in self.market.books:
            inst = book.inst
            for asset in (inst.base, inst.quote):
                if asset not in assets:
                    assets[asset] = {
                        "id": asset,
                        "status": "enabled",
                        "precision": 10 if asset != "USD" else 4,
                        "precision_display": 5 if asset != "USD" else 2,
                        "borrowable": True,
                        "collateral_value": 1.0,
                        "margin_rate": 0.02,
                    }
            tick = inst.tick_units / inst.price_scale
            pairs.append(
                {
                    "symbol": inst.symbol,
                    "base": inst.base,
                    "quote": inst.quote,
                    "status": "online",
                    "qty_precision": inst.qty_precision,
                    "qty_increment": 10.0**-inst.qty_precision,
                    "price_precision": inst.price_precision,
                    "cost_precision": 5,
                    "marginable": False,
                    "has_index": True,
                    "cost_min": 0.5,
                    "tick_size": tick,
                    "price_increment": tick,
                    "qty_min": 10.0**-inst.qty_precision,
                }
            )
        self.emit(
            dumps(
                {
                    "channel": "instrument",
                    "type": "snapshot",
                    "data": {"assets": list(assets.values()), "pairs": pairs},
                }
            ),
            "instrument_snapshot",
        )
