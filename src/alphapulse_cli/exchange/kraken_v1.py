"""Kraken WebSocket v1 (wss://ws.kraken.com) as a sans-I/O session.

`systemStatus` on connect; `subscribe` with a pair list and {name: book|trade, depth}, one
`subscriptionStatus` per pair; data as arrays ending in channel name and pair. Book updates
have 4 elements, or 5 when asks and bids both changed, the checksum "c" sits in the last side
object, and levels coming back into view are marked "r" (republish). All values are strings.
"""

from __future__ import annotations

from typing import Any

from alphapulse_cli.core.times import ns_to_epoch_text
from alphapulse_cli.exchange.kraken_books import (
    DEPTHS,
    REPUBLISH,
    TRUNCATED,
    BookSub,
    Entry,
    KrakenSession,
)
from alphapulse_cli.exchange.market import ASK, BID, BUY, Book, Trade
from alphapulse_cli.exchange.session import dumps

VERSION = "1.9.5"


class KrakenV1Session(KrakenSession):
    dialect = "kraken-v1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_channel_id = 100 + self.rng.randrange(1000) * 10

    def opening(self, now_ns: int) -> None:
        connection_id = (1 << 63) + self.rng.getrandbits(63)  # past int64, as Kraken's are
        self.emit(
            f'{{"connectionID":{connection_id},"event":"systemStatus","status":"online",'
            f'"version":"{VERSION}"}}'.encode(),
            "systemStatus",
        )

    # ---- dialect hooks
    def checksum(self, book: Book) -> int:
        return book.checksum_v1()

    def level_text(self, book: Book, price: int, lots: int) -> tuple[str, str]:
        return book.p1txt(price), book.qtxt(lots)

    def heartbeat(self) -> bytes:
        return b'{"event":"heartbeat"}'

    # ---- client messages
    def receive(self, data: str | bytes, now_ns: int) -> None:
        self.last_in_ns = now_ns
        msg = self.parse(data)
        if not isinstance(msg, dict):
            self.emit(dumps({"errorMessage": "Malformed request", "event": "error"}), "error")
            return
        event = msg.get("event")
        reqid = msg.get("reqid")
        if event == "ping":
            pong: dict[str, Any] = {"event": "pong"}
            if reqid is not None:
                pong["reqid"] = reqid
            self.emit(dumps(pong), "pong")
        elif event in ("subscribe", "unsubscribe"):
            self._subscription(msg, event, reqid)
        else:
            self.emit(dumps({"errorMessage": "Unsupported event", "event": "error"}), "error")

    def _status(
        self,
        pair: Any,
        reqid: Any,
        sub: dict[str, Any],
        status: str,
        error: str | None = None,
        channel: tuple[int, str] | None = None,
    ) -> None:
        obj: dict[str, Any] = {
            "event": "subscriptionStatus",
            "pair": pair,
            "status": status,
            "subscription": sub,
        }
        if channel is not None:
            obj["channelID"], obj["channelName"] = channel
        if reqid is not None:
            obj["reqid"] = reqid
        if error is not None:
            obj["errorMessage"] = error
        self.emit(dumps(obj, sort_keys=True), "error" if error else "subscriptionStatus")

    def _subscription(self, msg: dict[str, Any], event: str, reqid: Any) -> None:
        spec = msg.get("subscription")
        pairs = msg.get("pair")
        if not isinstance(spec, dict) or not isinstance(pairs, list) or not pairs:
            self.emit(
                dumps(
                    {
                        "errorMessage": "Subscription and pair list required",
                        "event": "error",
                        **({"reqid": reqid} if reqid is not None else {}),
                    },
                    sort_keys=True,
                ),
                "error",
            )
            return
        name = spec.get("name")
        depth = spec.get("depth", 10)
        shown: dict[str, Any] = {"depth": depth, "name": name} if name == "book" else {"name": name}
        for pair in pairs:
            if name not in ("book", "trade"):
                self._status(pair, reqid, shown, "error", "Subscription name invalid")
                continue
            if name == "book" and depth not in DEPTHS:
                self._status(pair, reqid, shown, "error", "Subscription depth not supported")
                continue
            book = self.lookup(pair, self.market.by_v1_symbol)
            if book is None:
                self._status(pair, reqid, shown, "error", "Currency pair not supported")
                continue
            if event == "unsubscribe":
                self._unsubscribe(book, name, pair, reqid, shown)
                continue
            if book.idx in (self.books if name == "book" else self.trades):
                self._status(pair, reqid, shown, "error", "Subscription already exists")
                continue
            cid = self.next_channel_id
            self.next_channel_id += 1
            channel_name = f"book-{depth}" if name == "book" else "trade"
            self._status(pair, reqid, shown, "subscribed", channel=(cid, channel_name))
            if name == "book":
                sub = BookSub(book, depth, pair, cid)
                self.watch_book(sub)
                self._snapshot(sub)
            else:
                self.watch_trades(book, (pair, cid))

    def _unsubscribe(
        self, book: Book, name: str, pair: Any, reqid: Any, shown: dict[str, Any]
    ) -> None:
        if name == "book":
            sub = self.books.get(book.idx)
            wire = (sub.channel_id, f"book-{sub.depth}") if sub else None
        else:
            t = self.trades.get(book.idx)
            wire = (t[1], "trade") if t else None
        if wire is None:
            self._status(pair, reqid, shown, "error", "Subscription not found")
            return
        self.unwatch(book, name)
        self._status(pair, reqid, shown, "unsubscribed", channel=wire)

    # ---- messages
    def _snapshot(self, sub: BookSub) -> None:
        book = sub.book
        pt, qt = book.p1txt, book.qtxt
        parts = []
        for side in (ASK, BID):
            since = book.since[side]
            parts.append(
                ",".join(
                    f'["{pt(p)}","{qt(q)}","{ns_to_epoch_text(since.get(p, book.now_ns))}"]'
                    for p, q in book.top(side, sub.depth)
                )
            )
        self.emit(
            f'[{sub.channel_id},{{"as":[{parts[0]}],"bs":[{parts[1]}]}},'
            f'"book-{sub.depth}","{sub.wire_symbol}"]'.encode(),
            "book_snapshot",
        )

    def send_update(self, sub: BookSub, entries: list[Entry], checksum: int) -> None:
        book = sub.book
        pt, qt = book.p1txt, book.qtxt
        now = self.market.epoch
        asks: list[str] = []
        bids: list[str] = []
        for side, price, lots, _prev, flag in entries:
            if flag == TRUNCATED:
                continue
            if flag == REPUBLISH:
                since = ns_to_epoch_text(book.since[side].get(price, book.now_ns))
                level = f'["{pt(price)}","{qt(lots)}","{since}","r"]'
            else:
                level = f'["{pt(price)}","{qt(lots)}","{now}"]'
            (asks if side == ASK else bids).append(level)
        if asks and bids:
            body = f'{{"a":[{",".join(asks)}]}},{{"b":[{",".join(bids)}],"c":"{checksum}"}}'
        elif asks:
            body = f'{{"a":[{",".join(asks)}],"c":"{checksum}"}}'
        else:
            body = f'{{"b":[{",".join(bids)}],"c":"{checksum}"}}'
        self.emit(
            f'[{sub.channel_id},{body},"book-{sub.depth}","{sub.wire_symbol}"]'.encode(),
            "book_update",
        )

    def send_trades(self, book: Book, wire: tuple[str, int], trades: list[Trade]) -> None:
        pt, qt = book.p1txt, book.qtxt
        items = ",".join(
            f'["{pt(t.price)}","{qt(t.lots)}","{ns_to_epoch_text(t.ts_ns)}",'
            f'"{"b" if t.taker == BUY else "s"}","{"m" if t.ord_type == "market" else "l"}",""]'
            for t in trades
        )
        self.emit(f'[{wire[1]},[{items}],"trade","{wire[0]}"]'.encode(), "trade")
