"""What one `replay --serve` client is sent: the log's inbound frames of one venue, framed.

A feed runs in its own thread (reading, zstd decompression and a followed file's waits stay off
the event loop) and hands the server batches of ready-made WebSocket frames: the server writes
them to the socket as they are, without touching the payload. The frames are unmasked and
uncompressed (the server negotiates no extension), so a frame is a 2-10 byte header plus the
recorded bytes, which is what keeps the payload byte-identical.

The batches are cut at the point where the client is to speak first: when the served part of
the log starts at a connect event, the frames recorded between it and the first outbound record
(the subscribe) are the venue's greeting (Kraken's status), sent on connect; everything else
waits for the client's first message (`Gate`). A part that starts mid-connection (`--from`)
has no greeting: its first outbound record may be a ping, not the subscribe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from alphapulse_cli.wslog.reader import Record

BATCH_FRAMES = 1024
BATCH_BYTES = 1 << 18
# A greeting is a frame or two; more inbound frames than this before any outbound record means
# the log holds no subscribe to cut at, and the client's first message opens the whole stream.
GREETING_MAX = 16
_KIND_IN = 0
_KIND_OUT = 1
_CONNECT = b'{"event":"connect"'
_SMALL_HEADERS = {
    op: [bytes((0x80 | op, n)) for n in range(126)] for op in (0x1, 0x2)
}  # FIN + opcode, length < 126


def frame_header(payload: bytes) -> bytes:
    """The server-side header of one unfragmented frame: text when the bytes are UTF-8 (what
    the venues send), binary otherwise, so a client gets back exactly the recorded bytes."""
    op = 0x1
    if not payload.isascii():
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            op = 0x2
    n = len(payload)
    if n < 126:
        return _SMALL_HEADERS[op][n]
    if n < 1 << 16:
        return bytes((0x80 | op, 126)) + n.to_bytes(2, "big")
    return bytes((0x80 | op, 127)) + n.to_bytes(8, "big")


@dataclass
class Batch:
    """Frames ready for the socket: `parts` alternates header and payload, `ts` is per frame."""

    ts: list[int] = field(default_factory=list)
    parts: list[bytes] = field(default_factory=list)
    size: int = 0


@dataclass
class Gate:
    """Wait here for the client's first message; `ts` is the recorded subscribe's time."""

    ts: int | None


@dataclass
class End:
    """No more frames; `error` is the reason when the log could not be read to its end."""

    error: BaseException | None = None


Item = Batch | Gate | End


@dataclass
class FeedStats:
    venue: int | None = None
    frames: int = 0
    bytes: int = 0
    other_venues: set[int] = field(default_factory=set)
    other_venue_frames: int = 0


class Feed:
    """Reads records in a thread and queues batches for one connection.

    venue None: the venue of the first inbound or outbound record. slot None: every
    connection slot of that venue, in log order.
    """

    def __init__(
        self,
        open_records: Callable[[], Iterator[Record]],
        loop: asyncio.AbstractEventLoop,
        *,
        venue: int | None,
        slot: int | None,
        count: int | None = None,
        live: bool = False,
        depth: int = 8,
    ) -> None:
        self._open = open_records
        self._loop = loop
        self._slot = slot
        self._count = count
        self._live = live  # a followed file: hand over each frame as soon as it is read
        self.queue: asyncio.Queue[Item] = asyncio.Queue(depth)
        self.stats = FeedStats(venue=venue)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="serve-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def finished(self) -> bool:
        """The thread has read all it will read."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def stop(self) -> None:
        """Ask the thread to end (the client went away); it notices within a quarter second."""
        self._stop.set()

    def _put(self, item: Item) -> bool:
        try:
            fut = asyncio.run_coroutine_threadsafe(self.queue.put(item), self._loop)
        except RuntimeError:  # the loop is gone
            return False
        while True:
            try:
                fut.result(0.25)
                return True
            except concurrent.futures.TimeoutError:
                if self._stop.is_set():
                    fut.cancel()
                    return False
            except concurrent.futures.CancelledError:
                return False

    def _run(self) -> None:
        try:
            self._feed()
        except BaseException as exc:  # handed to the server, which ends the run with it
            self._put(End(exc))
        else:
            self._put(End())

    def _feed(self) -> None:
        st = self.stats
        venue, slot, left = st.venue, self._slot, self._count
        if left is not None and left <= 0:
            return
        greeting: Batch | None = Batch()  # None once the gate is queued
        batch = Batch()
        error: Exception | None = None
        target = batch
        connected = False  # a connect event opens the served part: a greeting may follow
        try:
            for ts, tag, payload in self._open():
                kind = tag >> 12
                v = tag & 0xFF
                if kind > _KIND_OUT:
                    if (
                        greeting is not None
                        and payload.startswith(_CONNECT)
                        and (venue is None or v == venue)
                        and (slot is None or (tag >> 8) & 0xF == slot)
                    ):
                        connected = True
                    continue
                if venue is None:
                    venue = st.venue = v
                if v != venue:
                    st.other_venues.add(v)
                    st.other_venue_frames += kind == _KIND_IN
                    continue
                if slot is not None and (tag >> 8) & 0xF != slot:
                    continue
                if greeting is not None:
                    if kind == _KIND_OUT:
                        if (greeting.ts and not self._put(greeting)) or not self._put(Gate(ts)):
                            return
                        greeting = None
                        continue
                    if not connected or len(greeting.ts) >= GREETING_MAX:
                        if not self._put(Gate(None)):
                            return
                        batch, greeting = greeting, None
                    else:
                        target = greeting
                if greeting is None:
                    if kind == _KIND_OUT:
                        continue
                    target = batch
                target.ts.append(ts)
                target.parts.append(frame_header(payload))
                target.parts.append(payload)
                target.size += len(payload)
                st.frames += 1
                st.bytes += len(payload)
                if left is not None:
                    left -= 1
                    if left <= 0:
                        break
                if target is batch and (
                    self._live or len(batch.ts) >= BATCH_FRAMES or batch.size >= BATCH_BYTES
                ):
                    if not self._put(batch):
                        return
                    batch = Batch()
                if self._stop.is_set():
                    return
        except Exception as exc:  # what was read before a bad record still goes out
            error = exc
        if greeting is not None:
            # No subscribe recorded: the client's first message opens everything read.
            if not self._put(Gate(None)):
                return
            batch.ts[:0], batch.parts[:0] = greeting.ts, greeting.parts
            batch.size += greeting.size
        if batch.ts and not self._put(batch):
            return
        if error is not None:
            raise error
