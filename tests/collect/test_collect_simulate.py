"""collect --simulate: the local exchange runs inside collect's process and event loop, and
is captured exactly as a venue is: every frame it sent is in the log, the connect event
names its loopback URL, faults, signals and exit codes behave as against the venue."""

from __future__ import annotations

import io
import re
import signal
import subprocess

import pytest

from tests.helpers.collect import (
    collect_cmd,
    inbound,
    log_lines,
    records,
    run_collect,
    sessions,
    stopped,
)
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.slow  # every test runs collect and its exchange (mostly as a process)

RATE = 2000


@pytest.mark.parametrize(
    ("venue", "args", "path"),
    [
        ("coinbase", [], ""),
        ("kraken", [], "/v2"),
        ("kraken", ["--protocol", "v1"], ""),
    ],
)
def test_every_frame_the_simulated_exchange_sent_is_recorded(tmp_path, venue, args, path):
    duration = 3.0
    r = run_collect(
        venue,
        "BTC-USD",
        "ETH-USD",
        "--simulate",
        "--rate",
        str(RATE),
        *args,
        "-o",
        str(tmp_path),
        "--duration",
        str(duration),
    )
    assert r.returncode == 0, r.stderr.decode()
    summary = stopped(r.stderr)
    sim = summary["simulated"]
    url = sim["url"]
    assert re.fullmatch(rf"ws://127\.0\.0\.1:\d+{path}", url), url
    recs = records(tmp_path)
    assert all(f.parent.name == venue for f in tmp_path.rglob("*.wslog"))
    # No fidelity lost: what the exchange counted as sent is what the log holds.
    assert len(inbound(recs)) == sim["frames_sent"] == summary["frames_in"]
    assert sim["connections"] == 1 and sim["rate"] == RATE
    # The market ran at about the rate asked for: a tenth of its events are trades.
    assert summary["trades"] > RATE * 0.1 * duration / 2
    ev = sessions(recs)
    assert ev[0] == {"event": "connect", "url": url}
    assert ev[-2:] == [{"event": "disconnect", "reason": "duration reached"}, {"event": "end"}]
    lines = log_lines(r.stderr)
    assert [x["url"] for x in lines if x["event"] == "simulate"] == [url]
    assert [x["url"] for x in lines if x["event"] == "connect"] == [url]
    assert summary["malformed"] == 0 and summary["gaps"] == 0
    if venue == "kraken":
        assert summary["checksum_ok"] > 100 and summary["checksum_mismatch"] == 0


def test_faults_reach_the_capture_as_from_a_venue(tmp_path):
    r = run_collect(
        "kraken",
        "BTC-USD",
        "--simulate",
        "--rate",
        str(RATE),
        "--skip",
        "50",
        "--drop-after",
        "1500",
        "-o",
        str(tmp_path),
        "--duration",
        "4",
    )
    assert r.returncode == 0, r.stderr.decode()
    summary = stopped(r.stderr)
    sim = summary["simulated"]
    # The skipped book update fails the next checksum and resubscribes that book; the drop
    # reconnects to the same exchange, whose second connection is clean.
    assert summary["checksum_mismatch"] == 1 and summary["resubscribes"] == 1
    assert summary["reconnects"] == 1 and sim["connections"] == 2
    assert len(inbound(records(tmp_path))) == sim["frames_sent"] == summary["frames_in"]
    connects = [e for e in sessions(records(tmp_path)) if e["event"] == "connect"]
    assert connects == [{"event": "connect", "url": sim["url"]}] * 2


def test_every_symbol_refused_exits_4_like_the_venue(tmp_path):
    r = run_collect("coinbase", "BTC-USD", "--simulate", "--refuse", "BTC-USD", "-o", str(tmp_path))
    assert r.returncode == 4, r.stderr.decode()
    last = r.stderr.decode().splitlines()[-1]
    assert re.fullmatch(r"alphapulse: ws://127\.0\.0\.1:\d+: the venue refused .*", last), last


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["kraken", "--simulate", "--url", "ws://127.0.0.1:9/v2"], "--simulate and --url"),
        (["kraken", "--drop-after", "5", "--skip", "3"], "--drop-after and --skip need --simulate"),
        (["kraken", "--rate", "100"], "--rate needs --simulate"),
        (["coinbase", "--simulate", "--corrupt-checksum", "3"], "no checksum"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, args, says):
    r = run_collect(*args, "-o", str(tmp_path))
    assert r.returncode == 2, r.stderr.decode()
    [line] = r.stderr.decode().splitlines()
    assert line.startswith("alphapulse: ") and says in line
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_closes_the_capture_and_the_exchange_cleanly(tmp_path, sig):
    p = subprocess.Popen(
        collect_cmd("kraken", "BTC-USD", "--simulate", "--rate", str(RATE), "-o", str(tmp_path)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(
            lambda: sum(f.stat().st_size for f in tmp_path.rglob("*.wslog")) > 20_000,
            20,
            0.05,
            "collect --simulate wrote records",
        )
        p.send_signal(sig)
        _, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == (130 if sig == signal.SIGINT else 0), err.decode()
    summary = stopped(err)
    assert summary["stop_reason"] == f"signal {sig.name}"
    recs = records(tmp_path)  # tail=raise: every file is complete
    assert len(inbound(recs)) == summary["simulated"]["frames_sent"] > 0
    ev = sessions(recs)
    assert ev[-2:] == [{"event": "disconnect", "reason": f"signal {sig.name}"}, {"event": "end"}]


def test_library_run_collect_simulates_in_process(tmp_path):
    from alphapulse_cli.collect import CollectConfig, run_collect
    from alphapulse_cli.collect.simulate import Simulation
    from alphapulse_cli.collect.status import JsonLinesReporter
    from alphapulse_cli.exchange import Faults

    cfg = CollectConfig(
        "coinbase",
        ["ETH-USD"],
        output=str(tmp_path),
        max_messages=300,
        simulate=Simulation(rate=RATE, faults=Faults(malformed_after=(100,))),
    )
    summary = run_collect(cfg, reporter=JsonLinesReporter(io.StringIO()))
    assert cfg.url is None  # the caller's settings are left as they were
    assert summary["stop_reason"] == "max-messages reached"
    assert summary["frames_in"] == 300 and summary["malformed"] == 1
    assert summary["simulated"]["frames_sent"] >= 300
    assert len(inbound(records(tmp_path))) == 300
