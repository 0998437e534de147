"""`alphapulse replay` end to end, through the real executable."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import zstandard

from alphapulse_cli.wslog.reader import complete_length
from tests.helpers.cli import run_cli
from tests.helpers.wslog_spec import spec_log, spec_record

pytestmark = pytest.mark.slow  # every test runs the CLI as a process


def test_jsonl_whole_output(sample_log):
    r = run_cli("replay", str(sample_log))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0] == {
        "ts": 1_700_000_000_000_000_000,
        "exchange": "coinbase",
        "conn": 0,
        "kind": "event",
        "msg": '{"event":"connect","url":"wss://ws-feed.exchange.coinbase.com"}',
    }
    assert [x["kind"] for x in lines] == ["event", "out", "in", "in", "event"]
    assert base64.b64decode(lines[3]["msg_b64"]) == b"\xff\xfe not utf-8"
    assert r.stderr == b""


def test_wslog_output_is_byte_identical(tmp_path, sample_log):
    raw = sample_log.read_bytes()
    r = run_cli("replay", str(sample_log), "--format", "wslog")
    assert r.stdout == raw
    out = tmp_path / "o.wslog"
    r = run_cli("replay", str(sample_log), "--format", "wslog", "--kind", "in,out", "-o", str(out))
    assert r.returncode == 0 and r.stdout == b""
    kept = raw[16:]
    # records 2 and 3 and 4 (out, in, in) in order, one preamble in front
    assert out.read_bytes()[:16] == raw[:16]
    assert out.read_bytes()[16:] in kept


def test_merge_is_by_time_and_stable(tmp_path):
    a = tmp_path / "a.wslog"
    b = tmp_path / "b.wslog"
    a.write_bytes(
        spec_log([(10, 1, 0, b"a1"), (20, 1, 0, b"a2"), (20, 1, 0, b"a3"), (40, 1, 0, b"a4")])
    )
    b.write_bytes(spec_log([(5, 2, 0, b"b1"), (20, 2, 0, b"b2"), (30, 2, 0, b"b3")]))
    r = run_cli("replay", str(a), str(b))
    assert [json.loads(x)["msg"] for x in r.stdout.splitlines()] == [
        "b1",
        "a1",
        "a2",
        "a3",
        "b2",
        "b3",
        "a4",
    ]
    r = run_cli("replay", str(a), str(b), "--format", "wslog")
    expected = (
        a.read_bytes()[:16]
        + spec_record(5, 2, 0, b"b1")
        + spec_record(10, 1, 0, b"a1")
        + spec_record(20, 1, 0, b"a2")
        + spec_record(20, 1, 0, b"a3")
        + spec_record(20, 2, 0, b"b2")
        + spec_record(30, 2, 0, b"b3")
        + spec_record(40, 1, 0, b"a4")
    )
    assert r.stdout == expected


def test_filters_count_and_stats(tmp_path):
    a = tmp_path / "a.wslog"
    recs = [
        (1_700_000_000_000_000_000 + i * 1_000_000_000, 1 + i % 2, 0, b"m%d" % i) for i in range(10)
    ]
    a.write_bytes(spec_log(recs))
    r = run_cli(
        "replay",
        str(a),
        "--exchange",
        "kraken",
        "--from",
        "1700000002",
        "--to",
        "2023-11-14T22:13:27Z",
        "--stats",
    )
    msgs = [json.loads(x)["msg"] for x in r.stdout.splitlines()]
    assert msgs == ["m3", "m5", "m7"]
    stats = json.loads(r.stderr)
    assert stats["records"] == 3 and stats["venues"] == {"kraken": 3}
    assert stats["first_ts"] == recs[3][0] and stats["last_ts"] == recs[7][0]
    r = run_cli("replay", str(a), "-c", "2")
    assert len(r.stdout.splitlines()) == 2


def test_truncated_default_and_tail_stop(tmp_path, sample_log):
    cut = tmp_path / "cut.wslog"
    cut.write_bytes(sample_log.read_bytes()[:-3])
    r = run_cli("replay", str(cut))
    assert r.returncode == 3
    err = r.stderr.decode()
    assert err.count("\n") == 1 and "3 bytes missing" in err and str(cut) in err
    assert "Traceback" not in err
    r = run_cli("replay", str(cut), "--tail", "stop", "--stats")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 4
    assert json.loads(r.stderr)["truncated"][0]["missing"] == 3
    r = run_cli("replay", str(cut), "--format", "wslog")
    assert r.returncode == 3
    r = run_cli("replay", str(cut), "--format", "wslog", "--tail", "stop")
    assert r.returncode == 0
    whole = sample_log.read_bytes()
    assert r.stdout == whole[: complete_length(whole[:-3], "x")[0]]


def test_garbage_and_missing_files_exit_3_in_one_line(tmp_path):
    j = tmp_path / "x.json"
    j.write_text('{"a": 1}\n')
    for args in ([str(j)], [str(tmp_path / "nope.wslog")], [str(j), "--format", "wslog"]):
        r = run_cli("replay", *args)
        assert r.returncode == 3, args
        assert r.stderr.decode().count("\n") == 1 and b"Traceback" not in r.stderr


def test_usage_errors_exit_2(sample_log):
    assert run_cli("replay", str(sample_log), "--format", "xml").returncode == 2
    assert run_cli("replay", str(sample_log), "--from", "yesterday-ish").returncode == 2
    assert run_cli("replay", str(sample_log), "--speed", "-3").returncode == 2
    assert run_cli("replay", str(sample_log), "--exchange", "binance").returncode == 2


def test_stdin_plain_and_zstd(sample_log):
    raw = sample_log.read_bytes()
    r1 = run_cli("replay", "-", input=raw)
    r2 = run_cli("replay", "-", input=zstandard.ZstdCompressor().compress(raw))
    assert r1.returncode == r2.returncode == 0
    assert r1.stdout == r2.stdout and len(r1.stdout.splitlines()) == 5


def test_zstd_tool_output_is_read(tmp_path, sample_log):
    subprocess.run(["zstd", "-q", str(sample_log), "-o", str(tmp_path / "s.wslog.zst")], check=True)
    r = run_cli("replay", str(tmp_path / "s.wslog.zst"), "--format", "wslog")
    assert r.stdout == sample_log.read_bytes()


def test_closed_pipe_is_quiet(tmp_path):
    big = tmp_path / "big.wslog"
    big.write_bytes(spec_log([(i, 1, 0, b"x" * 100) for i in range(200_000)]))
    for fmt in ("jsonl", "wslog", "events"):
        p = subprocess.run(
            f"{sys.executable} -m alphapulse_cli replay {big} --format {fmt} | head -c 10; "
            'exit "${PIPESTATUS[0]}"',
            shell=True,
            executable="/bin/bash",
            capture_output=True,
            timeout=60,
        )
        assert p.stderr == b"", p.stderr
        assert p.returncode == 0  # the README: a closed pipe exits quietly, not as an error


def test_speed_paces_output(tmp_path):
    a = tmp_path / "a.wslog"
    a.write_bytes(spec_log([(0, 1, 0, b"a"), (1_000_000_000, 1, 0, b"b")]))
    t0 = time.monotonic()
    r = run_cli("replay", str(a), "--speed", "4")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    assert time.monotonic() - t0 >= 0.25  # one second of log at 4x


def test_sigint_exits_130(tmp_path):
    live = tmp_path / "live.wslog"
    live.write_bytes(spec_log([(1, 1, 0, b"a")]))
    p = subprocess.Popen(
        [sys.executable, "-m", "alphapulse_cli", "replay", str(live), "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    line = p.stdout.readline()
    assert json.loads(line)["msg"] == "a"
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=10) == 130
    assert b"Traceback" not in p.stderr.read()


def test_version_and_module_entry():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith(b"alphapulse ")
    assert os.path.exists(sys.executable)


def test_bulk_copy_of_a_large_file_is_exact_at_any_cut(tmp_path):
    """Files over a MiB take the mapped path: the same bytes, the same cut reports."""
    records = [(i, 1 + i % 2, 0, b'{"n":%d}' % i + b"\x93" * (i % 300)) for i in range(20_000)]
    whole = spec_log(records[:10_000]) + spec_log(records[10_000:])
    assert len(whole) > 3 << 20
    path = tmp_path / "big.wslog"
    for cut in (len(whole), len(whole) - 1, len(whole) // 2 + 5, (1 << 20) + 3):
        path.write_bytes(whole[:cut])
        good = complete_length(whole[:cut])[0]
        r = run_cli("replay", str(path), "--format", "wslog", "--tail", "stop", "--stats")
        assert r.returncode == 0 and r.stdout == whole[:good]
        cuts = json.loads(r.stderr)["truncated"]
        assert [c["offset"] for c in cuts] == ([] if good == cut else [good])
        if good != cut:
            r = run_cli("replay", str(path), "--format", "wslog")
            assert r.returncode == 3 and f"offset {good}:" in r.stderr.decode()


@pytest.mark.parametrize("symbol", ["FOO-BAR", "btcusd"])
def test_a_symbol_that_never_occurs_gets_one_warning(sample_log, symbol):
    r = run_cli("replay", str(sample_log), "--format", "events", "--symbol", symbol)
    assert r.returncode == 0 and b'"trade"' not in r.stdout
    [line] = r.stderr.decode().splitlines()
    assert line.startswith("alphapulse: warning: --symbol") and "BTC-USD" in line, line


def test_a_symbol_that_occurs_gets_no_warning(sample_log):
    r = run_cli("replay", str(sample_log), "--format", "events", "--symbol", "btc/usd")
    assert r.returncode == 0 and b'"trade"' in r.stdout and r.stderr == b""


@pytest.mark.parametrize("fmt", ["jsonl", "events"])
def test_inputs_without_records_get_one_warning(tmp_path, fmt):
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "preamble.wslog").write_bytes(spec_log([]))
    for target in (empty, tmp_path / "preamble.wslog"):
        r = run_cli("replay", str(target), "--format", fmt)
        assert r.returncode == 0 and r.stdout == b""
        [line] = r.stderr.decode().splitlines()
        assert line.startswith("alphapulse: warning:") and "no records" in line, line


def _on_a_pty(args: list[str], stdout) -> str:
    """Run replay with stderr on a pseudo-terminal; what the terminal was shown."""
    import pty

    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "alphapulse_cli", "replay", *args], stdout=stdout, stderr=slave
    )
    os.close(slave)
    shown = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the pty closes with the process
                break
            if not chunk:
                break
            shown += chunk
        assert p.wait(60) == 0, shown
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
    return shown.decode(errors="replace")


def test_a_long_read_shows_a_progress_bar_on_a_terminal_only(tmp_path):
    match = (
        b'{"type":"match","trade_id":%d,"side":"sell","size":"1.5","price":"400.23",'
        b'"product_id":"BTC-USD"}'
    )
    log = tmp_path / "big.wslog"
    log.write_bytes(spec_log([(1_700_000_000 + i, 1, 0, match % (10 + i)) for i in range(60_000)]))
    with open(tmp_path / "out", "wb") as out:
        shown = _on_a_pty([str(log), "--format", "events"], out)
        assert "replay events" in shown and "MB" in shown, shown
        assert _on_a_pty([str(log), "--format", "events", "-q"], out) == ""
    assert (tmp_path / "out").stat().st_size > 0
