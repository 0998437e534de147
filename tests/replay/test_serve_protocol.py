"""`replay --serve` behaves like the venue where a client can tell: Kraken pings answered with
the venue's pongs, pacing by record time, the close, and when the server ends."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest

from tests.helpers.aio import run
from tests.helpers.cli import run_cli
from tests.helpers.serve import connect, read_to_close, receive_all, serve_once, start_server
from tests.helpers.wslog_spec import spec_log

pytestmark = pytest.mark.slow  # every test runs replay --serve as a process

T = 1_700_000_000_000_000_000


def test_kraken_pings_get_the_venues_pongs(tmp_path: Path) -> None:
    log = tmp_path / "k.wslog"
    # --speed keeps the stream open long enough to ping between the frames.
    data = spec_log(
        [(T, 2, 0, b'{"channel":"status"}'), (T + 1, 2, 1, b"{}")]
        + [(T + 2 + i * 100_000_000, 2, 0, b'{"channel":"heartbeat"}') for i in range(8)]
    )
    log.write_bytes(data)
    srv = start_server(str(log), "--speed", "1")

    async def client() -> tuple[list[dict], list[dict], int | None]:
        async with connect(srv.url + "/v2") as ws:
            await ws.send('{"method":"subscribe"}')
            await ws.send('{"method":"ping","req_id":101}')
            await ws.send('{"event":"ping","reqid":42}')
            await ws.send('{"method":"ping"}')
            got = [json.loads(f) for f in await read_to_close(ws)]
            pongs = [m for m in got if m.get("method") == "pong" or m.get("event") == "pong"]
            return got, pongs, ws.close_code

    try:
        got, pongs, code = run(client())
        rc, err = srv.wait()
    finally:
        srv.stop()
    assert code == 4000 and rc == 0, err
    assert [m for m in got if m not in pongs] == [{"channel": "status"}] + [
        {"channel": "heartbeat"}
    ] * 8
    v2 = pongs[0]
    assert set(v2) == {"method", "req_id", "time_in", "time_out"} and v2["req_id"] == 101
    assert v2["time_in"].endswith("Z") and "T" in v2["time_in"]
    assert pongs[1] == {"event": "pong", "reqid": 42}
    assert set(pongs[2]) == {"method", "time_in", "time_out"}
    assert "3 pongs" in err


def test_coinbase_logs_get_no_pongs(tmp_path: Path) -> None:
    log = tmp_path / "c.wslog"
    log.write_bytes(spec_log([(T + i, 1, 0, b'{"type":"heartbeat"}') for i in range(3)]))
    _, rest, code, rc, _ = serve_once(str(log), '{"method":"ping","req_id":1}')
    assert rc == 0
    assert rest == [b'{"type":"heartbeat"}'] * 3 and code == 4000


def test_speed_paces_frames_by_record_time(tmp_path: Path) -> None:
    gaps_ms = [0, 100, 150, 400, 420, 600]
    log = tmp_path / "p.wslog"
    log.write_bytes(
        spec_log([(T, 1, 1, b"{}")] + [(T + g * 1_000_000, 1, 0, b'{"n":%d}' % g) for g in gaps_ms])
    )
    srv = start_server(str(log), "--speed", "2")

    async def client() -> list[float]:
        from websockets.exceptions import ConnectionClosed

        arrivals = []
        async with connect(srv.url) as ws:
            await ws.send("{}")
            t0 = time.perf_counter()
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
                    arrivals.append(time.perf_counter() - t0)
            except ConnectionClosed:
                pass
        return arrivals

    try:
        arrivals = run(client())
        assert srv.wait()[0] == 0
    finally:
        srv.stop()
    assert len(arrivals) == len(gaps_ms)
    # Paced from the recorded subscribe: never early; a loose bound on late (a busy CI box).
    for got, gap in zip(arrivals, gaps_ms, strict=True):
        want = gap / 1000 / 2
        assert got >= want - 0.01, (got, want)
        assert got <= want + 0.25, (got, want)


def test_a_silent_client_gets_the_stream_after_the_grace_period(tmp_path: Path) -> None:
    log = tmp_path / "g.wslog"
    log.write_bytes(spec_log([(T + i, 1, 0, b'{"n":%d}' % i) for i in range(5)]))
    srv = start_server(str(log))
    try:
        t0 = time.perf_counter()
        _, rest, code = run(receive_all(srv.url, None))
        waited = time.perf_counter() - t0
        assert srv.wait()[0] == 0
    finally:
        srv.stop()
    assert len(rest) == 5 and code == 4000
    assert waited >= 4.5  # the grace period (5 s), not an immediate stream


def test_the_server_ends_after_its_clients_and_keep_serving_restarts_each(tmp_path: Path) -> None:
    log = tmp_path / "e.wslog"
    frames = [b'{"n":%d}' % i for i in range(10)]
    log.write_bytes(spec_log([(T + i, 1, 0, f) for i, f in enumerate(frames)]))
    srv = start_server(str(log))
    try:
        assert run(receive_all(srv.url, "{}"))[1] == frames
        rc, err = srv.wait()
    finally:
        srv.stop()
    assert rc == 0 and "end of log (4000)" in err

    srv = start_server(str(log), "--keep-serving")
    try:
        for _ in range(2):
            assert run(receive_all(srv.url, "{}"))[1] == frames
        assert srv.proc.poll() is None
        srv.proc.send_signal(signal.SIGTERM)
        rc, err = srv.wait()
    finally:
        srv.stop()
    assert rc == 0
    assert err.count("10 coinbase frames") == 2


def test_stdin_serves_one_client(tmp_path: Path) -> None:
    data = spec_log([(T + i, 1, 0, b'{"n":%d}' % i) for i in range(3)])
    r = run_cli("replay", "-", "--serve", "127.0.0.1:0", "--keep-serving", input=data)
    assert r.returncode == 2 and b"stdin" in r.stderr


def test_options_that_do_not_apply_are_usage_errors(sample_log: Path) -> None:
    for extra in (
        ["--format", "wslog"],
        ["-o", "x.out"],
        ["--kind", "out"],
        ["--symbol", "BTC-USD"],
    ):
        r = run_cli("replay", str(sample_log), "--serve", "127.0.0.1:0", *extra)
        assert r.returncode == 2, (extra, r.stderr)
        assert b"--serve" in r.stderr
    for bad in ("nope", "127.0.0.1:70000", "host:"):
        r = run_cli("replay", str(sample_log), "--serve", bad)
        assert r.returncode == 2 and b"[HOST:]PORT" in r.stderr, r.stderr


def test_follow_serves_a_growing_log_until_its_writer_ends_it(tmp_path: Path) -> None:
    from alphapulse_cli.wslog.writer import WslogWriter

    log = tmp_path / "live.wslog"
    writer = WslogWriter(log, lock=False)
    writer.write(T, 1 | (1 << 12), b"{}")
    first = [b'{"n":%d}' % i for i in range(5)]
    later = [b'{"n":%d}' % i for i in range(5, 9)]
    for i, f in enumerate(first):
        writer.write(T + 1 + i, 1, f)
    writer.flush()
    srv = start_server(str(log), "--follow")

    async def client() -> tuple[list[bytes], int | None]:
        got = []
        async with connect(srv.url) as ws:
            await ws.send("{}")
            for _ in first:
                got.append(await asyncio.wait_for(ws.recv(decode=False), 5))
            # The server keeps the connection open, waiting for the log to grow.
            for i, f in enumerate(later):
                writer.write(T + 10 + i, 1, f)
            writer.close(venue=1)
            got += await read_to_close(ws)
            return got, ws.close_code

    try:
        got, code = run(client())
        rc, err = srv.wait()
    finally:
        srv.stop()
    assert got == first + later
    assert (code, rc) == (4000, 0), err


def test_a_greeting_needs_the_connect_event_it_follows(tmp_path: Path) -> None:
    """Frames before the first outbound record are sent on connect only when the served part
    starts at a connect event; cut mid-connection, that record may be a ping, not a subscribe."""
    body = [(T + 1, 2, 0, b'{"channel":"status"}'), (T + 2, 2, 1, b"{}"), (T + 3, 2, 0, b"[1]")]
    connect_event = (T, 2, 2, b'{"event":"connect","url":"wss://ws.kraken.com/v2"}')
    for records, early_frames in (([connect_event, *body], 1), (body, 0)):
        log = tmp_path / f"g{early_frames}.wslog"
        log.write_bytes(spec_log(records))
        srv = start_server(str(log))

        async def client(url: str) -> tuple[list[bytes], list[bytes]]:
            early: list[bytes] = []
            async with connect(url) as ws:
                # What comes before the client speaks: half a second of silence ends it.
                try:
                    while True:
                        early.append(await asyncio.wait_for(ws.recv(decode=False), 0.5))
                except asyncio.TimeoutError:
                    pass
                await ws.send("{}")
                rest = await read_to_close(ws)
            return early, rest

        try:
            early, rest = run(client(srv.url))
            assert srv.wait()[0] == 0
        finally:
            srv.stop()
        assert len(early) == early_frames
        assert early + rest == [b'{"channel":"status"}', b"[1]"]


def test_a_client_that_leaves_ends_the_server_even_mid_wait(tmp_path: Path) -> None:
    """Waiting for a followed log to grow, or for a paced frame's time, ends with the client."""
    from alphapulse_cli.wslog.writer import WslogWriter

    live = tmp_path / "live.wslog"
    writer = WslogWriter(live, lock=False)
    writer.write(T, 1, b'{"n":0}')
    writer.flush()
    slow = tmp_path / "slow.wslog"
    slow.write_bytes(spec_log([(T, 1, 0, b'{"n":0}'), (T + 3600 * 10**9, 1, 0, b'{"n":1}')]))
    try:
        for args in ([str(live), "--follow"], [str(slow), "--speed", "1"]):
            srv = start_server(*args)

            async def leave(url: str) -> bytes:
                async with connect(url) as ws:
                    await ws.send("{}")
                    return await asyncio.wait_for(ws.recv(decode=False), 5)

            try:
                assert run(leave(srv.url)) == b'{"n":0}'
                rc, err = srv.wait(timeout=10)
            finally:
                srv.stop()
            assert rc == 0 and "client went away" in err, err
    finally:
        writer.close()


def test_sigterm_mid_stream_closes_clients_with_1001_and_exits_0(tmp_path: Path) -> None:
    slow = tmp_path / "slow.wslog"
    slow.write_bytes(spec_log([(T, 1, 0, b'{"n":0}'), (T + 3600 * 10**9, 1, 0, b'{"n":1}')]))
    srv = start_server(str(slow), "--speed", "1")

    async def client() -> tuple[list[bytes], int | None]:
        async with connect(srv.url) as ws:
            await ws.send("{}")
            got = [await asyncio.wait_for(ws.recv(decode=False), 5)]
            srv.proc.send_signal(signal.SIGTERM)
            return got + await read_to_close(ws, timeout=5), ws.close_code

    try:
        got, code = run(client())
        rc, err = srv.wait(timeout=10)
    finally:
        srv.stop()
    assert got == [b'{"n":0}']
    assert (code, rc) == (1001, 0)
    assert "server stopped (1001)" in err
