"""`replay --serve` plays recorded traffic back byte for byte: real captures from the local
exchange, a real `websockets` client, the real executable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.helpers.aio import run
from tests.helpers.serve import (
    COINBASE_SUB,
    KRAKEN_V2_SUB,
    connect,
    read_to_close,
    receive_all,
    record_log,
    serve_once,
    start_server,
)
from tests.helpers.wslog_spec import spec_log, spec_preamble, spec_record

pytestmark = pytest.mark.slow  # every test runs replay --serve as a process


@pytest.fixture(scope="module")
def coinbase_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    path = tmp_path_factory.mktemp("cb") / "coinbase.wslog"
    return path, record_log(path, "coinbase", 3000)


@pytest.fixture(scope="module")
def kraken_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    path = tmp_path_factory.mktemp("kr") / "kraken.wslog"
    return path, record_log(path, "kraken", 1500)


def test_coinbase_capture_is_served_byte_identical_in_order(coinbase_log) -> None:
    path, frames = coinbase_log
    hello, rest, code, rc, err = serve_once(str(path), COINBASE_SUB)
    assert hello == []
    assert code == 4000
    assert rest == frames
    assert rc == 0, err
    assert f"{len(frames)} coinbase frames" in err


def test_kraken_greeting_comes_first_and_the_rest_after_the_subscribe(kraken_log) -> None:
    path, frames = kraken_log
    assert json.loads(frames[0])["channel"] == "status"
    srv = start_server(str(path), "--stats")

    async def client() -> tuple[bytes, list[bytes], bytes | None, int | None]:
        async with connect(srv.url + "/v2") as ws:
            status = await asyncio.wait_for(ws.recv(decode=False), 5)
            # Nothing more until the client speaks: the acks and books answer its subscribe.
            early = None
            try:
                early = await asyncio.wait_for(ws.recv(decode=False), 0.5)
            except asyncio.TimeoutError:
                pass
            await ws.send(KRAKEN_V2_SUB)
            rest = await read_to_close(ws)
            return status, rest, early, ws.close_code

    try:
        status, rest, early, code = run(client())
        rc, err = srv.wait()
    finally:
        srv.stop()
    assert early is None
    assert [status, *rest] == frames
    assert code == 4000
    assert rc == 0, err
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["frames"] == len(frames)
    assert summary["clients"][0]["venue"] == "kraken"
    assert summary["clients"][0]["received"] == 1


def test_kraken_v1_capture_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "v1.wslog"
    frames = record_log(path, "kraken", 600, v1=True)
    hello, rest, code, rc, err = serve_once(str(path), '{"event":"subscribe"}', greeting=1)
    assert hello + rest == frames
    assert json.loads(frames[0])["event"] == "systemStatus"
    assert (code, rc) == (4000, 0), err


def test_count_and_time_range_pick_the_frames(coinbase_log) -> None:
    path, frames = coinbase_log
    _, rest, code, rc, _ = serve_once(str(path), COINBASE_SUB, "--count", "100", "--kind", "in")
    assert rc == 0
    assert rest == frames[:100]
    assert code == 4000


def test_each_venue_has_its_path_and_slots_keep_their_order(tmp_path: Path) -> None:
    t = 1_700_000_000_000_000_000
    cb = [b'{"type":"match","trade_id":%d}' % i for i in range(50)]
    kr0 = [b'{"channel":"trade","n":%d}' % i for i in range(30)]
    kr1 = [b'[42,{"a":[["1.0","%d","0"]]},"book-10","XBT/USD"]' % i for i in range(30)]
    records = [(t, 1, 1, b'{"type":"subscribe"}', 0), (t, 2, 1, b"{}", 0), (t, 2, 1, b"{}", 1)]
    for i in range(50):
        records.append((t + 10 + i * 3, 1, 0, cb[i], 0))
        if i < 30:
            records.append((t + 11 + i * 3, 2, 0, kr0[i], 0))
            records.append((t + 12 + i * 3, 2, 0, kr1[i], 1))
    log = tmp_path / "mixed.wslog"
    log.write_bytes(spec_preamble() + b"".join(spec_record(*r) for r in records))
    srv = start_server(str(log), "--keep-serving")

    async def clients() -> dict[str, list[bytes]]:
        out = {}
        for path in ("/coinbase", "/kraken", "/kraken/1", "/", "/v2"):
            _, rest, code = await receive_all(srv.url + path, "{}")
            assert code == 4000
            out[path] = rest
        return out

    try:
        got = run(clients())
        srv.proc.terminate()
        rc, err = srv.wait()
    finally:
        srv.stop()
    assert got["/coinbase"] == cb
    assert got["/kraken"] == [f for pair in zip(kr0, kr1, strict=True) for f in pair]
    assert got["/kraken/1"] == kr1
    # No venue in the path: the log's first venue, and the server says where the others are.
    assert got["/"] == cb == got["/v2"]
    assert "connect to /kraken" in err
    assert rc == 0


def test_unknown_slot_is_a_404(coinbase_log) -> None:
    from websockets.exceptions import InvalidStatus

    path, _ = coinbase_log
    srv = start_server(str(path), "--exchange", "coinbase")

    async def attempt(p: str) -> int:
        try:
            async with connect(srv.url + p):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    try:
        assert run(attempt("/coinbase/x")) == 404
        assert run(attempt("/kraken")) == 404  # excluded by --exchange
        assert srv.proc.poll() is None  # refused handshakes are not clients
    finally:
        srv.stop()


def test_non_utf8_and_large_frames_keep_their_bytes(tmp_path: Path) -> None:
    t = 1_700_000_000_000_000_000
    frames = [b"\xff\xfe binary", "caf\u00e9".encode(), b"x" * 70_000, b"", b"y" * 126]
    log = tmp_path / "odd.wslog"
    log.write_bytes(spec_log([(t + i, 1, 0, f) for i, f in enumerate(frames)]))
    _, rest, code, rc, _ = serve_once(str(log), "{}")
    assert rc == 0
    assert rest == frames
    assert code == 4000


def test_a_cut_off_log_closes_with_1011_and_exit_3_or_serves_with_tail_stop(tmp_path: Path) -> None:
    t = 1_700_000_000_000_000_000
    good = [b'{"n":%d}' % i for i in range(20)]
    data = (
        spec_log([(t + i, 1, 0, f) for i, f in enumerate(good)])
        + spec_record(t + 99, 1, 0, b"x" * 50)[:-10]
    )
    log = tmp_path / "cut.wslog"
    log.write_bytes(data)
    _, rest, code, rc, err = serve_once(str(log), "{}")
    assert code == 1011
    assert rest == good
    assert rc == 3
    assert "cut off" in err
    _, rest, code, rc, _ = serve_once(str(log), "{}", "--tail", "stop")
    assert rc == 0
    assert (rest, code) == (good, 4000)
