"""RESP2, the Redis wire protocol, without I/O: command encoding and reply parsing.

Two parsers: ``parse_reply`` walks one reply of any shape; ``StreamReplyParser`` reads the
large XREAD / XREADGROUP / XAUTOCLAIM replies fast by splitting the buffer on CRLF in C and
slicing each entry's fields in one step, checking every bulk length so that a value that
itself holds CRLF falls back to an exact join.
"""

from __future__ import annotations

from typing import Any, Union

from alphapulse_cli.errors import Incomplete, ProtocolError, RespError

CRLF = b"\r\n"

# "$<n>" header -> n, for the lengths that fields and values usually have.
_HDR_LEN_B = {b"$%d" % n: n for n in range(1024)}
_HDR_LEN_S = {f"${n}": n for n in range(1024)}


Reply = Union[bytes, int, None, list[Any], RespError]


def _arg(a: bytes | str | int) -> bytes:
    if isinstance(a, bytes):
        return a
    if isinstance(a, str):
        return a.encode()
    return str(a).encode()


def encode(*args: bytes | str | int) -> bytes:
    """One command as a RESP array of bulk strings."""
    if all(type(a) is str for a in args):
        # XACK with a thousand ids: one format per argument, one encode for all of them.
        texts: tuple[str, ...] = args  # type: ignore[assignment]
        text = f"*{len(texts)}\r\n" + "".join([f"${len(a)}\r\n{a}\r\n" for a in texts])
        if text.isascii():
            return text.encode("ascii")
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = _arg(a)
        parts.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(parts)


def parse_reply(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[Reply, int]:
    """Parse one reply at pos -> (value, position after it). Raises Incomplete."""
    end = buf.find(CRLF, pos) if not isinstance(buf, memoryview) else bytes(buf).find(CRLF, pos)
    if end < 0:
        raise Incomplete
    kind = buf[pos]
    head = bytes(buf[pos + 1 : end])
    if kind == 36:  # $ bulk string
        n = int(head)
        if n < 0:
            return None, end + 2
        start = end + 2
        if len(buf) < start + n + 2:
            raise Incomplete
        return bytes(buf[start : start + n]), start + n + 2
    if kind == 42:  # * array
        n = int(head)
        if n < 0:
            return None, end + 2
        pos = end + 2
        items: list[Any] = []
        for _ in range(n):
            item, pos = parse_reply(buf, pos)
            items.append(item)
        return items, pos
    if kind == 58:  # : integer
        return int(head), end + 2
    if kind == 43:  # + simple string
        return head, end + 2
    if kind == 45:  # - error
        return RespError(head.decode("utf-8", "replace")), end + 2
    raise ProtocolError(f"unexpected reply type byte {kind!r} at offset {pos}")


class ReplyReader:
    """Accumulates bytes and hands out whole replies."""

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        self._buf += data

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def take_rest(self) -> bytes:
        """Hand the unparsed bytes to another parser and forget them."""
        rest = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return rest

    def get(self) -> tuple[bool, Reply]:
        """(True, reply) when a whole reply is buffered, else (False, None)."""
        if self._pos >= len(self._buf):
            return False, None
        try:
            value, self._pos = parse_reply(self._buf, self._pos)
        except Incomplete:
            return False, None
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        return True, value


# A stream entry as parsed: (id, [field, value, field, value, ...]) or (id, None) for an
# entry that a pending list still names but that trimming already removed.
Entry = tuple[str, Union[list[str], None]]


class StreamReplyParser:
    """Parses stream-reading replies from a token list of one buffer.

    ``tokens`` is the buffer split on CRLF; the last token is whatever follows the final
    CRLF and is never consumed, so anything the parser accepts was CRLF-terminated.
    Values come back as str (UTF-8, undecodable bytes replaced).
    """

    __slots__ = ("_ascii", "_hdr", "_last", "i", "t")

    def __init__(self, data: bytes) -> None:
        self._ascii = data.isascii()
        if self._ascii:
            self.t: list[Any] = data.decode("ascii").split("\r\n")
            self._hdr: dict[Any, int] = _HDR_LEN_S
        else:
            self.t = data.split(b"\r\n")
            self._hdr = _HDR_LEN_B
        self._last = len(self.t) - 1
        self.i = 0

    @property
    def consumed_all(self) -> bool:
        return self.i == self._last and not self.t[self._last]

    def _tok(self) -> Any:
        i = self.i
        if i >= self._last:
            raise Incomplete
        self.i = i + 1
        return self.t[i]

    def _text(self, v: Any) -> str:
        return v if self._ascii else v.decode("utf-8", "replace")

    def _bulk(self) -> str | None:
        head = self._tok()
        if head[:1] in ("-", b"-"):
            raise RespError(self._text(head[1:]))
        if head[:1] not in ("$", b"$"):
            raise ProtocolError(f"expected a bulk string, got {self._text(head)[:40]!r}")
        n = int(head[1:])
        if n < 0:
            return None
        return self._text(self._exact(n))

    def _exact(self, n: int) -> Any:
        v = self._tok()
        if len(v) == n:
            return v
        # The value holds CRLF itself: join tokens back until the declared length.
        sep = "\r\n" if self._ascii else b"\r\n"
        parts = [v]
        size = len(v)
        while size < n:
            nxt = self._tok()
            parts.append(nxt)
            size += 2 + len(nxt)
        joined = sep.join(parts)
        if len(joined) != n:
            raise ProtocolError(f"bulk string length {len(joined)} where {n} was declared")
        return joined

    def array_len(self) -> int:
        """Read an array header; -1 for a null array."""
        head = self._tok()
        c = head[:1]
        if c in ("*", b"*"):
            return int(head[1:])
        if c in ("-", b"-"):
            raise RespError(self._text(head[1:]))
        raise ProtocolError(f"expected an array, got {self._text(head)[:40]!r}")

    def bulk(self) -> str | None:
        return self._bulk()

    def skip(self) -> None:
        """Skip one reply of any shape."""
        head = self._tok()
        c = head[:1]
        if c in ("$", b"$"):
            n = int(head[1:])
            if n >= 0:
                self._exact(n)
        elif c in ("*", b"*"):
            for _ in range(max(0, int(head[1:]))):
                self.skip()

    def entries(self) -> list[Entry]:
        """An array of stream entries: [[id, [f, v, ...]], ...]."""
        n = self.array_len()
        if n > 1:
            uniform = self._uniform_entries(n)
            if uniform is not None:
                return uniform
        out: list[Entry] = []
        t = self.t
        hdr = self._hdr
        last = self._last
        text = self._text
        for _ in range(max(n, 0)):
            i = self.i
            # Fast path: *2, $len, id, *2k, then k pairs of ($len, token) with no CRLF inside.
            if i + 4 <= last and t[i] in ("*2", b"*2"):
                eid = t[i + 2]
                fh = t[i + 3]
                if len(eid) == hdr.get(t[i + 1], -1) and fh[:1] in ("*", b"*"):
                    nf = int(fh[1:])
                    if nf < 0:
                        out.append((text(eid), None))
                        self.i = i + 4
                        continue
                    j = i + 4
                    k = j + 2 * nf
                    if k <= last:
                        vals = t[j + 1 : k : 2]
                        try:
                            ok = list(map(hdr.__getitem__, t[j:k:2])) == list(map(len, vals))
                        except KeyError:
                            ok = False
                        if ok:
                            if not self._ascii:
                                vals = [v.decode("utf-8", "replace") for v in vals]
                            out.append((text(eid), vals))
                            self.i = k
                            continue
            out.append(self._entry_slow())
        return out

    def _uniform_entries(self, n: int) -> list[Entry] | None:
        """The usual reply at once: n entries that all have the first one's field count and
        no CRLF inside a value, checked column by column (every bulk length against its
        value) in C-level slices; None when the reply is not of that shape."""
        t = self.t
        i = self.i
        head = t[i + 3] if i + 3 < self._last else None
        if t[i] not in ("*2", b"*2") or head is None or head[:1] not in ("*", b"*"):
            return None
        items = int(head[1:])  # fields and values
        if items <= 0:
            return None
        stride = 4 + 2 * items
        end = i + n * stride
        if end > self._last:
            return None
        if t[i:end:stride].count(t[i]) != n or t[i + 3 : end : stride].count(head) != n:
            return None
        hdr = self._hdr.get
        for o in (1, *range(4, stride, 2)):
            heads = t[i + o : end : stride]
            vals = t[i + o + 1 : end : stride]
            if list(map(hdr, heads)) != list(map(len, vals)):
                return None
        ids = t[i + 2 : end : stride]
        cols = [t[i + 5 + 2 * m : end : stride] for m in range(items)]
        rows: list[Any] = list(map(list, zip(*cols, strict=True)))
        if not self._ascii:
            ids = [v.decode("utf-8", "replace") for v in ids]
            rows = [[v.decode("utf-8", "replace") for v in r] for r in rows]
        self.i = end
        return list(zip(ids, rows, strict=True))

    def _entry_slow(self) -> Entry:
        if self.array_len() != 2:
            raise ProtocolError("a stream entry is not a two-element array")
        eid = self._bulk() or ""
        nf = self.array_len()
        if nf < 0:
            return eid, None
        vals: list[str] = []
        for _ in range(nf):
            vals.append(self._bulk() or "")
        return eid, vals

    def streams(self) -> list[tuple[str, list[Entry]]]:
        """An XREAD / XREADGROUP reply: [[stream, entries], ...] or null (timed out)."""
        n = self.array_len()
        out = []
        for _ in range(max(n, 0)):
            if self.array_len() != 2:
                raise ProtocolError("an XREAD stream item is not a two-element array")
            name = self._bulk() or ""
            out.append((name, self.entries()))
        return out

    def autoclaim(self) -> tuple[str, list[Entry], list[str]]:
        """An XAUTOCLAIM reply: next start id, claimed entries, ids that no longer exist."""
        n = self.array_len()
        nxt = self._bulk() or "0-0"
        claimed = self.entries()
        deleted: list[str] = []
        if n >= 3:
            for _ in range(max(self.array_len(), 0)):
                deleted.append(self._bulk() or "")
        return nxt, claimed, deleted
