"""`alphapulse tail-stream` against a real redis-server: start positions, templates, patterns,
consumer groups sharing work, and a killed consumer's pending entries claimed by another."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.redis_streams import RedisServer, kill_group
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow  # a redis-server, tail-stream as a process

KEY = "trades:coinbase:BTC-USD"
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00Z


def fields(i: int) -> dict[str, str]:
    return {
        "timestamp": str(T0_MS * 1000 + i * 1000),
        "price": f"67000.{i % 100:02d}",
        "volume": f"0.{i:08d}",
        "side": "buy" if i % 2 else "sell",
        "trade_id": str(i),
        "received": str(T0_MS * 1000 + i * 1000 + 7),
    }


def add(r, key: str, start: int, n: int, ids: bool = False) -> list[str]:
    """XADD n entries; with ids, entry i gets the id <T0_MS + i*1000>-0."""
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + n):
        pipe.xadd(key, fields(i), id=f"{T0_MS + i * 1000}-0" if ids else "*")
    return list(pipe.execute())


def tail(url: str, *args: str, stdout=subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "alphapulse_cli", "tail-stream", *args, "--redis", url],
        stdout=stdout,
        stderr=subprocess.PIPE,
    )


def blocked_readers(r) -> int:
    """Tailers waiting in XREAD / XREADGROUP BLOCK: they have seen what exists so far."""
    return sum(
        1
        for c in r.client_list()
        if c.get("name") == "alphapulse-tail" and c.get("cmd") in ("xread", "xreadgroup")
    )


def lines(out: bytes) -> list[dict]:
    return [json.loads(x) for x in out.splitlines()]


def finish(proc: subprocess.Popen[bytes], timeout: float = 20) -> tuple[bytes, bytes]:
    out, err = proc.communicate(timeout=timeout)
    return out, err


def test_from_zero_prints_every_entry_as_json(redis_server, rds):
    ids = add(rds, KEY, 0, 50)
    out = run_cli("tail-stream", KEY, "--from", "0", "--count", "50", "--redis", redis_server.url)
    assert out.returncode == 0, out.stderr
    got = lines(out.stdout)
    assert [g["id"] for g in got] == ids
    assert list(got[7]) == ["stream", "id", *fields(7)]
    assert got[7] == {"stream": KEY, "id": ids[7], **fields(7)}


def test_from_an_id_starts_after_it_and_count_stops(redis_server, rds):
    ids = add(rds, KEY, 0, 50)
    out = run_cli(
        "tail-stream", KEY, "--from", ids[9], "--count", "15", "--redis", redis_server.url
    )
    assert out.returncode == 0, out.stderr
    assert [g["id"] for g in lines(out.stdout)] == ids[10:25]


def test_from_a_time_starts_at_it(redis_server, rds):
    ids = add(rds, KEY, 0, 30, ids=True)
    for start in ("2026-01-01T00:00:10Z", str(T0_MS // 1000 + 10)):
        out = run_cli(
            "tail-stream", KEY, "--from", start, "--count", "5", "--redis", redis_server.url
        )
        assert out.returncode == 0, out.stderr
        assert [g["id"] for g in lines(out.stdout)] == ids[10:15]


def test_default_from_dollar_gives_new_entries_only(redis_server, rds):
    add(rds, KEY, 0, 20)
    proc = tail(redis_server.url, KEY, "--count", "5")
    try:
        wait_until(lambda: blocked_readers(rds) == 1)
        new = add(rds, KEY, 100, 5)
        out, err = finish(proc)
    finally:
        kill_group(proc)
    assert proc.returncode == 0, err
    assert [g["id"] for g in lines(out)] == new


def test_fmt_template(redis_server, rds):
    add(rds, KEY, 1, 2)
    fmt = "{ts} {symbol} {side} {volume}@{price} {exchange} {nothing}|"
    out = run_cli(
        "tail-stream", KEY, "--from", "0", "--count", "2", "--fmt", fmt, "--redis", redis_server.url
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().splitlines() == [
        "2026-01-01T00:00:00.001000Z BTC-USD buy 0.00000001@67000.01 coinbase |",
        "2026-01-01T00:00:00.002000Z BTC-USD sell 0.00000002@67000.02 coinbase |",
    ]
    bad = run_cli("tail-stream", KEY, "--fmt", "{}", "--redis", redis_server.url)
    assert bad.returncode == 2


@pytest.mark.parametrize("group", [False, True])
def test_patterns_pick_up_streams_created_later(redis_server, rds, group):
    add(rds, KEY, 0, 3)  # before the start: not wanted with the default --from $
    extra = ["--group", "g", "--consumer", "c1"] if group else []
    proc = tail(redis_server.url, "trades:coinbase:*", "--rescan", "0.1", "--count", "6", *extra)
    try:
        wait_until(lambda: blocked_readers(rds) == 1)
        later = "trades:coinbase:SOL-USD"
        want = {(later, i) for i in add(rds, later, 10, 3)}
        want |= {(KEY, i) for i in add(rds, KEY, 20, 3)}
        add(rds, "trades:kraken:BTC-USD", 30, 3)  # does not match the pattern
        out, err = finish(proc)
    finally:
        kill_group(proc)
    assert proc.returncode == 0, err
    assert {(g["stream"], g["id"]) for g in lines(out)} == want
    if group:
        assert rds.xpending(later, "g")["pending"] == 0


def test_two_consumers_in_a_group_share_a_stream(redis_server, rds, tmp_path):
    n = 20_000
    files = [open(tmp_path / f"c{k}.jsonl", "wb") for k in (1, 2)]  # noqa: SIM115
    procs = [
        tail(redis_server.url, KEY, "--group", "g", "--consumer", f"c{k}", "--from", "0", stdout=f)
        for k, f in zip((1, 2), files, strict=True)
    ]
    try:
        wait_until(lambda: blocked_readers(rds) == 2)
        ids: list[str] = []
        for k in range(0, n, 500):
            ids += add(rds, KEY, k, 500)
            time.sleep(0.002)  # a producer that trickles, not a wait: both consumers get work

        def done() -> bool:
            info = rds.xinfo_groups(KEY)[0]
            return info["pending"] == 0 and info["last-delivered-id"] == ids[-1]

        wait_until(done, 30)
        for p in procs:
            p.send_signal(signal.SIGTERM)
            finish(p)
    finally:
        for p in procs:
            kill_group(p)
        for f in files:
            f.close()
    got = [[g["id"] for g in lines((tmp_path / f"c{k}.jsonl").read_bytes())] for k in (1, 2)]
    assert all(got), "each consumer should have had a share"
    both = got[0] + got[1]
    assert len(both) == len(set(both)) == n  # none twice
    assert set(both) == set(ids)  # none lost
    assert all(g == sorted(g, key=lambda i: tuple(map(int, i.split("-")))) for g in got)


def pipe_full(fd: int) -> bool:
    """Is the pipe read through fd full, so that its writer is blocked? (Linux)"""
    queued = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    return queued >= fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) - 4096


def pending_count(r) -> int:
    groups = r.xinfo_groups(KEY)
    return int(groups[0]["pending"]) if groups else 0


def _kill_with_pending(rds, url: str) -> tuple[list[str], list[str], bytes]:
    """A consumer that reads a batch, cannot write it (nobody reads its stdout), and dies."""
    ids = add(rds, KEY, 0, 5000)
    r_fd, w_fd = os.pipe()
    proc = tail(url, KEY, "--group", "g", "--consumer", "dead", "--from", "0", stdout=w_fd)
    os.close(w_fd)
    try:
        wait_until(lambda: pending_count(rds) >= 1000)
        wait_until(lambda: pipe_full(r_fd), what="stuck writing into the full pipe")
    finally:
        kill_group(proc)
    written = b""
    os.set_blocking(r_fd, False)
    while True:
        try:
            chunk = os.read(r_fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        written += chunk
    os.close(r_fd)
    pending = [p["message_id"] for p in rds.xpending_range(KEY, "g", "-", "+", 10_000)]
    return ids, pending, written


def test_killed_consumer_pending_entries_are_claimed_by_another(redis_server, rds):
    ids, pending, written = _kill_with_pending(rds, redis_server.url)
    assert pending == ids[: len(pending)] and len(pending) >= 1000
    # Lines it wrote before dying were never acknowledged: they stay pending.
    assert {json.loads(x)["id"] for x in written.splitlines()[:-1]} <= set(pending)

    def all_idle() -> bool:  # longer than --claim-idle below
        entries = rds.xpending_range(KEY, "g", "-", "+", 10_000)
        return min(e["time_since_delivered"] for e in entries) > 200

    wait_until(all_idle)
    out = run_cli(
        "tail-stream",
        KEY,
        "--group",
        "g",
        "--consumer",
        "alive",
        "--claim-idle",
        "200",
        "--count",
        str(len(ids)),
        "--redis",
        redis_server.url,
    )
    assert out.returncode == 0, out.stderr
    got = [g["id"] for g in lines(out.stdout)]
    assert len(got) == len(set(got)) == len(ids)
    assert set(got) == set(ids)
    assert set(pending) <= set(got)
    assert rds.xpending(KEY, "g")["pending"] == 0  # all acknowledged once written


def test_restarted_consumer_gets_its_own_pending_entries_first(redis_server, rds):
    ids, pending, _written = _kill_with_pending(rds, redis_server.url)
    out = run_cli(
        "tail-stream",
        KEY,
        "--group",
        "g",
        "--consumer",
        "dead",
        "--count",
        str(len(pending) + 10),
        "--redis",
        redis_server.url,
    )
    assert out.returncode == 0, out.stderr
    got = [g["id"] for g in lines(out.stdout)]
    assert got[: len(pending)] == pending
    assert got[len(pending) :] == ids[len(pending) : len(pending) + 10]
    assert rds.xpending(KEY, "g")["pending"] == 0


def test_no_ack_leaves_nothing_pending(redis_server, rds):
    ids = add(rds, KEY, 0, 10)
    args = ("--group", "g", "--consumer", "c", "--from", "0", "--no-ack", "--count", "10")
    out = run_cli("tail-stream", KEY, *args, "--redis", redis_server.url)
    assert out.returncode == 0, out.stderr
    assert [g["id"] for g in lines(out.stdout)] == ids
    info = rds.xinfo_groups(KEY)[0]
    assert info["pending"] == 0 and info["last-delivered-id"] == ids[-1]


def test_group_options_are_checked(redis_server):
    out = run_cli("tail-stream", KEY, "--group", "g", "--redis", redis_server.url)
    assert out.returncode == 2
    assert b"--consumer" in out.stderr


def test_tail_stream_rides_out_a_redis_restart(tmp_path):
    server = RedisServer(tmp_path, durable=True).start()
    r = server.client()
    out_path = tmp_path / "out.jsonl"
    try:
        with open(out_path, "wb") as out:
            proc = tail(server.url, KEY, "--group", "g", "--consumer", "c", stdout=out)
            try:
                wait_until(lambda: blocked_readers(r) == 1)
                ids = add(r, KEY, 0, 1000)
                wait_until(lambda: pending_count(r) == 0 and len(out_path.read_bytes()) > 0)
                wait_until(lambda: blocked_readers(r) == 1)
                r.close()
                server.kill()
                time.sleep(0.3)  # the outage itself: Redis stays down this long, on purpose
                server.start()
                r = server.client()
                ids += add(r, KEY, 1000, 1000)

                def done() -> bool:
                    g = r.xinfo_groups(KEY)[0]
                    return g["pending"] == 0 and g["last-delivered-id"] == ids[-1]

                wait_until(done, 20)
                proc.send_signal(signal.SIGTERM)
                _out, err = finish(proc)
            finally:
                kill_group(proc)
        got = [g["id"] for g in lines(out_path.read_bytes())]
        assert got == ids  # every entry once, in order, across the restart
        assert b"reconnected" in err
    finally:
        r.close()
        server.stop()


def test_a_backlog_read_ahead_stops_at_count_and_leaves_nothing_pending(redis_server, rds):
    ids = add(rds, KEY, 0, 5000)
    args = ("--group", "g", "--consumer", "c", "--from", "0", "--batch", "300")
    out = run_cli("tail-stream", KEY, *args, "--count", "4000", "--redis", redis_server.url)
    assert out.returncode == 0, out.stderr
    assert [g["id"] for g in lines(out.stdout)] == ids[:4000]
    info = rds.xinfo_groups(KEY)[0]
    # Nothing read beyond --count: the rest is still new for the group, nothing pending.
    assert info["pending"] == 0 and info["last-delivered-id"] == ids[3999]
    rest = run_cli("tail-stream", KEY, *args, "--count", "1000", "--redis", redis_server.url)
    assert [g["id"] for g in lines(rest.stdout)] == ids[4000:]


def test_an_idle_tail_ends_quietly_when_its_reader_goes(redis_server, rds):
    add(rds, KEY, 0, 3)
    proc = tail(redis_server.url, KEY, "--from", "0")
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["stream"] == KEY
        proc.stdout.close()  # like `| head -1`; no entry comes after this
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None and proc.stderr.read() == b""
    finally:
        kill_group(proc)


def test_a_tail_from_dollar_says_on_a_terminal_that_it_waits(redis_server, rds):
    """On a terminal (stderr a pty), plain tail-stream from `$` says what it waits for;
    on a pipe it says nothing."""
    import pty

    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "alphapulse_cli", "tail-stream", KEY, "--json"]
    cmd += ["--redis", redis_server.url, "--count", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    try:
        said = os.read(master, 4096).decode()
        add(rds, KEY, 500, 1)
        assert proc.wait(20) == 0
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert "waiting for new entries" in said and "--from 0" in said
    quiet = subprocess.run([*cmd[:-2], "--count", "1", "--from", "0"], capture_output=True)
    assert quiet.returncode == 0 and quiet.stderr == b""
