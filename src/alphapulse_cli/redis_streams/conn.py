"""Redis connections over plain TCP, TLS or a Unix socket: a blocking one (tail-stream) and
an asyncio one (the publisher). Both log in (AUTH, SELECT) on connect and raise
UpstreamError subclasses whose messages carry the URL with its password masked."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

from alphapulse_cli.errors import (
    Incomplete,
    ProtocolError,
    RedisAuthError,
    RedisCommandError,
    RedisUnavailable,
    RespError,
)
from alphapulse_cli.redis_streams.resp import ReplyReader, StreamReplyParser, encode
from alphapulse_cli.redis_streams.url import RedisTarget

READ_SIZE = 1 << 20
T = TypeVar("T")


def _where(target: RedisTarget) -> str:
    return target.display or target.scheme


def describe_os_error(target: RedisTarget, exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        why = "connection refused"
    elif isinstance(exc, (TimeoutError, asyncio.TimeoutError, socket.timeout)):
        why = "timed out"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        why = (
            f"TLS certificate not trusted ({exc.verify_message}); "
            "add ?ssl_ca_certs=PATH to the URL (or ssl_cert_reqs=none)"
        )
    elif isinstance(exc, socket.gaierror):
        why = f"cannot resolve host ({exc.strerror or exc})"
    elif isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror.lower()
    else:
        why = str(exc) or type(exc).__name__
    return target.redact(f"{_where(target)}: {why}")


def not_redis(target: RedisTarget, exc: ProtocolError) -> RedisUnavailable:
    """What reaches the user when the URL leads to something that answers, but not in RESP
    (an HTTP server, another service's port): an unreachable Redis, not a crash."""
    return RedisUnavailable(
        target.redact(
            f"{_where(target)}: the server there does not speak Redis ({exc}); "
            "check the host and port in the URL"
        )
    )


def with_hint(message: str) -> str:
    """A connect failure's message, plus what to check when nothing answered at all."""
    if any(w in message for w in ("refused", "timed out", "cannot resolve", "no such file")):
        return f"{message}; is redis-server running? pass --redis URL"
    return message


def handshake_commands(target: RedisTarget, client_name: str | None) -> list[bytes]:
    cmds = []
    if target.password is not None:
        if target.username:
            cmds.append(encode("AUTH", target.username, target.password))
        else:
            cmds.append(encode("AUTH", target.password))
    if target.db:
        cmds.append(encode("SELECT", target.db))
    if client_name:
        cmds.append(encode("CLIENT", "SETNAME", client_name))
    cmds.append(encode("PING"))
    return cmds


def check_handshake(target: RedisTarget, replies: list[Any]) -> None:
    for reply in replies:
        if isinstance(reply, RespError):
            code = reply.code
            if code in ("WRONGPASS", "NOAUTH", "NOPERM") or "AUTH" in str(reply).upper():
                raise RedisAuthError(
                    target.redact(
                        f"{_where(target)}: authentication failed ({reply}); "
                        "check the user and password in the URL"
                    )
                )
            raise RedisCommandError(target.redact(f"{_where(target)}: {reply}"))


class SyncConnection:
    """A blocking connection: send commands, read replies, optionally with a time limit."""

    def __init__(
        self, target: RedisTarget, *, timeout: float = 5.0, client_name: str | None = None
    ):
        self.target = target
        self.timeout = timeout
        self._reader = ReplyReader()
        try:
            if target.scheme == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(target.path)
            else:
                sock = socket.create_connection((target.host, target.port), timeout=timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if target.tls:
                    sock = target.ssl_context().wrap_socket(sock, server_hostname=target.host)
        except OSError as exc:
            raise RedisUnavailable(describe_os_error(target, exc)) from None
        self.sock = sock
        cmds = handshake_commands(target, client_name)
        self.send(b"".join(cmds))
        check_handshake(target, [self.read_reply() for _ in cmds])

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        try:
            # _drain leaves the socket non-blocking; sendall needs it blocking again.
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
        except OSError as exc:
            raise RedisUnavailable(describe_os_error(self.target, exc)) from None

    def _recv(self, timeout: float | None) -> bytes:
        try:
            self.sock.settimeout(timeout)
            data = self.sock.recv(READ_SIZE)
        except OSError as exc:
            raise RedisUnavailable(describe_os_error(self.target, exc)) from None
        if not data:
            raise RedisUnavailable(f"{_where(self.target)}: connection closed by the server")
        return data

    def read_reply(self, timeout: float | None = None) -> Any:
        while True:
            try:
                ok, value = self._reader.get()
            except ProtocolError as exc:
                raise not_redis(self.target, exc) from None
            if ok:
                return value
            self._reader.feed(self._recv(timeout if timeout is not None else self.timeout))

    def call(self, *args: bytes | str | int) -> Any:
        """One command; an error reply raises RedisCommandError."""
        self.send(encode(*args))
        reply = self.read_reply()
        if isinstance(reply, RespError):
            raise RedisCommandError(self.target.redact(f"{_where(self.target)}: {reply}"))
        return reply

    def read_parsed(
        self, parse: Callable[[StreamReplyParser], T], timeout: float | None = None
    ) -> T:
        """Wait until the buffered replies parse whole with ``parse`` and return its result.

        Used for the large stream replies: the buffer is split once per attempt, and an attempt
        is made only once the socket has nothing more ready to give.
        """
        data = self._reader.take_rest()
        wait = timeout if timeout is not None else self.timeout
        while True:
            if data.endswith(b"\r\n"):
                p = StreamReplyParser(data)
                try:
                    result = parse(p)
                except Incomplete:
                    pass
                except ProtocolError as exc:
                    raise not_redis(self.target, exc) from None
                else:
                    if not p.consumed_all:
                        raise RedisUnavailable(
                            f"{_where(self.target)}: unexpected extra reply data; reconnect"
                        )
                    return result
            data += self._recv(wait)
            data += self._drain()

    def _drain(self) -> bytes:
        """Whatever the socket holds right now, without waiting (so a large reply is parsed
        once it is all here, not once per chunk)."""
        chunks = []
        # A socket with a timeout waits for readability before recv, even non-blocking;
        # timeout 0 makes recv (plain or TLS, which takes no flags) return at once.
        self.sock.settimeout(0)
        while True:
            try:
                chunk = self.sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                break
            except OSError as exc:
                raise RedisUnavailable(describe_os_error(self.target, exc)) from None
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


class AsyncConnection:
    """An asyncio connection for the publisher: write a pipeline, count its replies."""

    def __init__(
        self, target: RedisTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.target = target
        self.reader = reader
        self.writer = writer
        self.replies = ReplyReader()

    @classmethod
    async def open(
        cls, target: RedisTarget, *, timeout: float = 5.0, client_name: str | None = None
    ) -> AsyncConnection:
        try:
            if target.scheme == "unix":
                fut = asyncio.open_unix_connection(target.path, limit=READ_SIZE)
            else:
                ssl_ctx = target.ssl_context() if target.tls else None
                fut = asyncio.open_connection(
                    target.host,
                    target.port,
                    ssl=ssl_ctx,
                    server_hostname=target.host if ssl_ctx else None,
                    limit=READ_SIZE,
                )
            reader, writer = await asyncio.wait_for(fut, timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise RedisUnavailable(describe_os_error(target, exc)) from None
        conn = cls(target, reader, writer)
        try:
            sock = writer.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            cmds = handshake_commands(target, client_name)
            writer.write(b"".join(cmds))
            replies = await asyncio.wait_for(conn.read_replies(len(cmds)), timeout)
            check_handshake(target, replies)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, (OSError, asyncio.TimeoutError)):
                raise RedisUnavailable(describe_os_error(target, exc)) from None
            raise
        return conn

    async def read_more(self) -> None:
        data = await self.reader.read(READ_SIZE)
        if not data:
            raise RedisUnavailable(f"{_where(self.target)}: connection closed by the server")
        self.replies.feed(data)

    async def read_replies(self, n: int) -> list[Any]:
        out: list[Any] = []
        while len(out) < n:
            try:
                ok, value = self.replies.get()
            except ProtocolError as exc:
                raise not_redis(self.target, exc) from None
            if ok:
                out.append(value)
            else:
                await self.read_more()
        return out

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:
            pass
