"""`alphapulse pin` and the global --cpus option, on real processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alphapulse_cli.pin.affinity import format_cpu_list, parse_cpu_list
from tests.helpers.cli import run_cli

ALLOWED = sorted(os.sched_getaffinity(0))
two_cpus = pytest.mark.skipif(len(ALLOWED) < 2, reason="needs two CPUs")
ISOLATED = Path("/sys/devices/system/cpu/isolated")

pytestmark = pytest.mark.slow  # every test runs the CLI or a child process

CHILD = """
import sys, threading
threading.Thread(target=sys.stdin.readline, daemon=True).start()
print("ready", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def child() -> Iterator[subprocess.Popen]:
    """A real process with two threads, waiting on stdin."""
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None and p.stdout.readline() == "ready\n"
    yield p
    p.kill()
    p.wait()


def thread_affinities(pid: int) -> list[set[int]]:
    return [os.sched_getaffinity(int(t)) for t in os.listdir(f"/proc/{pid}/task")]


def expect_isolation_warning(cpus: set[int]) -> bool:
    if not ISOLATED.exists():
        return False
    text = ISOLATED.read_text().strip()
    return not cpus <= (parse_cpu_list(text) if text else set())


def test_pin_runs_a_command_on_the_cpus():
    cpu = ALLOWED[-1]
    r = run_cli(
        "pin",
        str(cpu),
        "--",
        sys.executable,
        "-c",
        "import os; print(sorted(os.sched_getaffinity(0)))",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"[{cpu}]\n".encode()
    # Whether a CPU is isolated is said only when asked (-v), once.
    assert b"not isolated" not in r.stderr
    v = run_cli("pin", "-v", str(cpu), "--", sys.executable, "-c", "pass")
    assert v.returncode == 0, v.stderr
    assert v.stderr.count(b"not isolated") == int(expect_isolation_warning({cpu}))


@two_cpus
def test_pin_pid_pins_every_thread_of_a_running_process(child):
    target = ALLOWED[1]
    assert len(thread_affinities(child.pid)) == 2
    r = run_cli("pin", "--pid", str(child.pid), str(target))
    assert r.returncode == 0, r.stderr
    assert thread_affinities(child.pid) == [{target}, {target}]
    assert f"pid {child.pid}: CPU {format_cpu_list(ALLOWED)} -> {target}".encode() in r.stderr
    shown = run_cli("pin", "--show", str(child.pid))
    info = json.loads(shown.stdout)
    assert (info["pid"], info["cpus"], info["policy"]) == (child.pid, str(target), "other")
    assert set(info["threads"].values()) == {str(target)}
    assert json.loads(run_cli("pin", "--show", "--pid", str(child.pid)).stdout)["cpus"] == str(
        target
    )


def test_missing_cpus_warn_and_the_rest_apply(child):
    r = run_cli("pin", "--pid", str(child.pid), f"{ALLOWED[0]},4000")
    assert r.returncode == 0, r.stderr
    assert b"CPU 4000 does not exist" in r.stderr
    assert thread_affinities(child.pid) == [{ALLOWED[0]}, {ALLOWED[0]}]


def test_nice_on_a_running_process(child):
    r = run_cli("pin", "--pid", str(child.pid), "--nice", "7")
    assert r.returncode == 0, r.stderr
    for tid in os.listdir(f"/proc/{child.pid}/task"):
        assert os.getpriority(os.PRIO_PROCESS, int(tid)) == 7
    assert json.loads(run_cli("pin", "--show", str(child.pid)).stdout)["nice"] == 7


def test_realtime_is_set_or_refused_clearly(child):
    r = run_cli("pin", "--pid", str(child.pid), "--realtime", "5")
    if r.returncode == 0:
        assert os.sched_getscheduler(child.pid) == os.SCHED_FIFO
        assert os.sched_getparam(child.pid).sched_priority == 5
        info = json.loads(run_cli("pin", "--show", str(child.pid)).stdout)
        assert (info["policy"], info["priority"]) == ("fifo", 5)
    else:
        assert r.returncode == 1
        err = r.stderr.decode()
        assert err.count("\n") == 1 and "--realtime 5: permission denied" in err
        assert os.sched_getscheduler(child.pid) == os.SCHED_OTHER


def test_nice_and_realtime_apply_to_the_command():
    code = (
        "import os; print(os.getpriority(os.PRIO_PROCESS, 0), "
        "os.sched_getscheduler(0) == os.SCHED_FIFO)"
    )
    r = run_cli("pin", str(ALLOWED[0]), "--nice", "3", "--", sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"3 False\n"


def test_global_cpus_option_pins_any_command():
    cpu = ALLOWED[-1]
    r = run_cli("--cpus", str(cpu), "pin", "--show")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["cpus"] == str(cpu) and info["pid"] != os.getpid()
    assert b"not isolated" not in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--cpus", "1-0", "pin", "--show"),
        ("--cpus", "", "pin", "--show"),
        ("pin", "x", "--", "true"),
        ("pin", "0-", "--", "true"),
        ("pin", "4000-4001", "--", "true"),
        ("pin", "0"),
        ("pin", "--pid", "1"),
        ("pin", "--show", "abc"),
        ("pin", "0", "--nice", "40", "--", "true"),
        ("pin", "0", "--realtime", "0", "--", "true"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args):
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert r.stdout == b"" and b"Traceback" not in r.stderr


def test_command_not_found_and_dead_pid_exit_1():
    r = run_cli("pin", str(ALLOWED[0]), "--", "no-such-command-xyz")
    assert r.returncode == 1 and r.stderr.endswith(
        b"alphapulse: no-such-command-xyz: command not found\n"
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    r = run_cli("pin", "--show", str(dead.pid))
    assert (
        r.returncode == 1 and r.stderr == f"alphapulse: pid {dead.pid}: no such process\n".encode()
    )


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop CAP_SYS_NICE"
)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--realtime", "5"), b"--realtime 5: permission denied"),
        (("--nice", "-5"), b"--nice -5: permission denied"),
    ],
)
def test_priority_refused_without_the_capability_and_nothing_runs(tmp_path, args, message):
    marker = tmp_path / "ran"
    drop = ("setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice", "--")
    pin = (sys.executable, "-m", "alphapulse_cli", "pin", str(ALLOWED[0]), *args)
    r = subprocess.run(
        [*drop, *pin, "--", "touch", str(marker)],
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    last = r.stderr.splitlines()[-1]  # after any isolation warning: the one-line error
    assert last.startswith(b"alphapulse: " + message) and b"CAP_SYS_NICE" in last
    assert not marker.exists()
