"""`alphapulse shm-dump` run as a user would: whole outputs compared, error exits."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from alphapulse_cli.shm import ShmBookWriter
from alphapulse_cli.shm.layout import ring_path
from tests.helpers.cli import run_cli
from tests.helpers.shm import wait_ready, writer_proc

pytestmark = pytest.mark.slow  # every test runs shm-dump as a process

T = 1_700_000_000_000_000_000


def fill(name: str, capacity: int = 16) -> None:
    with ShmBookWriter.open(name, capacity=capacity) as w:
        w.write_book(
            T + 1,
            "coinbase",
            "BTC-USD",
            [["67123.45", "0.1"], ["67123.40", "2"]],
            [["67124", "1.5"]],
        )
        w.write_book(T + 2, "kraken", "ETH-USD", [["3000.1", "10"]], [["3000.2", "0.00012345"]])
        w.write_book(T + 3, "coinbase", "BTC-USD", [["67123.5", "0.3"]], [])


LINE1 = (
    '{"exchange":"coinbase","symbol":"BTC-USD","ts":1700000000000000001,"sequence":1,'
    '"bids":[[67123.45,0.1],[67123.4,2.0]],"asks":[[67124.0,1.5]]}\n'
)
LINE2 = (
    '{"exchange":"kraken","symbol":"ETH-USD","ts":1700000000000000002,"sequence":2,'
    '"bids":[[3000.1,10.0]],"asks":[[3000.2,0.00012345]]}\n'
)
LINE3 = (
    '{"exchange":"coinbase","symbol":"BTC-USD","ts":1700000000000000003,"sequence":3,'
    '"bids":[[67123.5,0.3]],"asks":[]}\n'
)


def out(*args: str) -> str:
    r = run_cli("shm-dump", *args)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    return r.stdout.decode()


def test_dump_prints_every_entry_as_json_lines(ring_name):
    fill(ring_name)
    assert out(ring_name) == LINE1 + LINE2 + LINE3
    assert out(str(ring_path(ring_name))) == LINE1 + LINE2 + LINE3  # a path works too


def test_filters_latest_depth_and_count(ring_name):
    fill(ring_name)
    assert out(ring_name, "--symbol", "btc/usd") == LINE1 + LINE3
    assert out(ring_name, "--exchange", "kraken") == LINE2
    assert out(ring_name, "-e", "kraken,coinbase", "-s", "ETH-USD") == LINE2
    assert out(ring_name, "--latest") == LINE2 + LINE3
    assert out(ring_name, "--count", "1") == LINE1
    assert out(ring_name, "--count", "0") == ""
    one = out(ring_name, "--depth", "1", "--count", "1")
    assert json.loads(one)["bids"] == [[67123.45, 0.1]]


def test_stats_on_stderr(ring_name):
    fill(ring_name, capacity=2)  # three entries in two slots
    r = run_cli("shm-dump", ring_name, "--stats")
    assert r.returncode == 0
    assert r.stdout.decode() == LINE2 + LINE3
    stats = json.loads(r.stderr)
    assert stats == {
        "ring": str(ring_path(ring_name)),
        "capacity": 2,
        "write_seq": 3,
        "read": 2,
        "lost": 0,
        "writer_pid": stats["writer_pid"],
        "writer_alive": False,
        "printed": 2,
    }


def test_stats_see_a_live_writer(ring_name):
    p = writer_proc(ring_name, 8, 3, "hold")
    wait_ready(p)
    try:
        r = run_cli("shm-dump", ring_name, "--stats", "--count", "0")
        stats = json.loads(r.stderr)
        assert (stats["writer_pid"], stats["writer_alive"], stats["write_seq"]) == (p.pid, True, 3)
    finally:
        p.communicate("\n", timeout=30)


def test_follow_prints_new_entries_as_they_are_written(ring_name):
    fill(ring_name)
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphapulse_cli", "shm-dump", ring_name, "--latest", "--follow",
         "--symbol", "BTC-USD", "--count", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().decode() == LINE3  # the newest BTC-USD, then follows
        with ShmBookWriter.open(ring_name) as w:
            w.write_book(T + 4, "kraken", "ETH-USD", [["1", "1"]], [])  # filtered out
            w.write_book(T + 5, "coinbase", "BTC-USD", [["2.5", "1"]], [["3", "4"]])
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert rest.decode() == (
        '{"exchange":"coinbase","symbol":"BTC-USD","ts":1700000000000000005,"sequence":5,'
        '"bids":[[2.5,1.0]],"asks":[[3.0,4.0]]}\n'
    )


def test_ladder_format(ring_name):
    fill(ring_name)
    text = out(ring_name, "--format", "ladder", "--latest", "--exchange", "coinbase")
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    assert lines[0][:4] == ["coinbase", "BTC-USD", "seq", "3"]
    assert lines[1] == ["bid", "size", "bid", "ask", "ask", "size"]
    assert lines[2] == ["0.3", "67123.5"]


def test_closed_pipe_is_quiet(ring_name):
    with ShmBookWriter.open(ring_name, capacity=4096) as w:
        for k in range(4096):
            w.write_book(
                k, "coinbase", "BTC-USD", [[str(100 + k), "1"]] * 50, [[str(200 + k), "1"]] * 50
            )
    r = subprocess.run(
        f"{sys.executable} -m alphapulse_cli shm-dump {ring_name} | head -1; "
        "exit ${PIPESTATUS[0]}",
        shell=True, executable="/bin/bash", capture_output=True,
    )  # fmt: skip
    assert r.returncode == 0 and r.stderr == b""
    assert json.loads(r.stdout)["sequence"] == 1


@pytest.mark.parametrize("content", [None, b"", b'{"not": "a ring"}\n' * 300])
def test_missing_ring_or_not_a_ring_exits_3_with_one_line(ring_name, content):
    if content is not None:
        ring_path(ring_name).parent.mkdir(parents=True, exist_ok=True)
        ring_path(ring_name).write_bytes(content)
    r = run_cli("shm-dump", ring_name)
    assert r.returncode == 3 and r.stdout == b""
    err = r.stderr.decode()
    assert (
        err.count("\n") == 1 and err.startswith("alphapulse: ") and str(ring_path(ring_name)) in err
    )
    assert (
        "no such ring" if content is None else "not a ring" if not content else "bad magic"
    ) in err


def test_bad_options_exit_2(ring_name):
    fill(ring_name)
    assert run_cli("shm-dump", ring_name, "--depth", "51").returncode == 2
    assert run_cli("shm-dump", ring_name, "--format", "xml").returncode == 2
    assert run_cli("shm-dump", "../x/.y").returncode in (2, 3)
    assert run_cli("shm-dump", ".hidden").returncode == 2
