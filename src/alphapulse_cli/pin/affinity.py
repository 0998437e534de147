"""CPU lists (taskset style), CPU affinity and scheduling priority of processes.

A CPU list is comma-separated CPU numbers and ranges, a range optionally with a stride:
`2-3,5`, `0-7:2`. Functions here return warnings instead of printing them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alphapulse_cli.errors import AlphapulseError, UsageError

SYSFS_CPU = Path("/sys/devices/system/cpu")
_ITEM = re.compile(r"(\d+)(?:-(\d+)(?::(\d+))?)?")
MAX_CPU = 1 << 16


def parse_cpu_list(text: str, what: str = "CPU list") -> set[int]:
    """`2-3,5` -> {2, 3, 5}; UsageError (exit 2) for anything malformed."""
    cpus: set[int] = set()
    hint = "expected CPU numbers and ranges like 2-3,5 or 0-7:2"
    if not text or text != text.strip():
        raise UsageError(f"{what} {text!r}: {hint}")
    for item in text.split(","):
        m = _ITEM.fullmatch(item)
        if not m:
            raise UsageError(f"{what} {text!r}: bad item {item!r}; {hint}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        step = int(m.group(3)) if m.group(3) is not None else 1
        if hi < lo or step < 1 or hi >= MAX_CPU:
            raise UsageError(f"{what} {text!r}: bad range {item!r}; {hint}")
        cpus.update(range(lo, hi + 1, step))
    return cpus


def format_cpu_list(cpus: Iterable[int]) -> str:
    """{0, 1, 2, 5} -> `0-2,5` (the kernel's own format)."""
    out: list[str] = []
    run: list[int] = []
    for c in sorted(set(cpus)):
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [c]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def _sysfs_list(name: str) -> set[int] | None:
    try:
        text = (SYSFS_CPU / name).read_text().strip()
    except OSError:
        return None
    return parse_cpu_list(text, f"{SYSFS_CPU / name}") if text else set()


def online_cpus() -> set[int]:
    cpus = _sysfs_list("online")
    if cpus:
        return cpus
    return set(range(os.cpu_count() or 1))


def isolated_cpus() -> set[int] | None:
    """CPUs isolated from the scheduler (isolcpus=); None where the kernel does not say."""
    return _sysfs_list("isolated")


def check_cpus(cpus: set[int], isolation: bool = False) -> tuple[set[int], list[str]]:
    """(the CPUs that exist, warnings). UsageError when none of them exists. CPUs the
    kernel has not isolated are named only with `isolation` (pin -v): on most machines
    no CPU is isolated, and a note on every call would be noise."""
    warnings: list[str] = []
    online = online_cpus()
    missing = cpus - online
    usable = cpus & online
    if not usable:
        raise UsageError(
            f"CPU list {format_cpu_list(cpus)}: no such CPU on this machine (online: "
            f"{format_cpu_list(online)})"
        )
    if missing:
        warnings.append(
            f"CPU {format_cpu_list(missing)} does not exist (online: {format_cpu_list(online)}); "
            f"using {format_cpu_list(usable)}"
        )
    isolated = isolated_cpus() if isolation else None
    if isolated is not None:
        shared = usable - isolated
        if shared:
            note = (
                "no CPU is isolated" if not isolated else f"isolated: {format_cpu_list(isolated)}"
            )
            warnings.append(
                f"CPU {format_cpu_list(shared)} not isolated ({note}; see isolcpus= in "
                f"{SYSFS_CPU / 'isolated'}): other tasks may run there"
            )
    return usable, warnings


def threads_of(pid: int) -> list[int]:
    """Thread ids of a process (just pid where /proc is missing)."""
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise AlphapulseError(f"pid {pid}: no such process") from None
    except OSError:
        return [pid]


def _no_process(pid: int) -> AlphapulseError:
    return AlphapulseError(f"pid {pid}: no such process")


def get_affinity(pid: int = 0) -> set[int]:
    try:
        return set(os.sched_getaffinity(pid))
    except ProcessLookupError:
        raise _no_process(pid) from None


def set_affinity(pid: int, cpus: set[int]) -> None:
    """Pin every thread of pid (0: this process) to cpus."""
    target = pid or os.getpid()
    for tid in threads_of(target):
        try:
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:
            if tid == target:
                raise _no_process(target) from None
            # a thread that ended meanwhile
        except PermissionError:
            raise AlphapulseError(
                f"pid {target}: permission denied setting CPU affinity; run as its owner or root"
            ) from None
        except OSError as exc:
            allowed = format_cpu_list(os.sched_getaffinity(0))
            raise AlphapulseError(
                f"pid {target}: cannot pin to CPU {format_cpu_list(cpus)} ({exc.strerror}); "
                f"this container or cgroup allows {allowed}"
            ) from None


def set_nice(pid: int, nice: int) -> None:
    if not -20 <= nice <= 19:
        raise UsageError(f"--nice {nice}: expected -20 (highest priority) to 19 (lowest)")
    target = pid or os.getpid()
    for tid in threads_of(target):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except ProcessLookupError:
            if tid == target:
                raise _no_process(target) from None
        except PermissionError:
            raise AlphapulseError(
                f"--nice {nice}: permission denied for pid {target}; a lower nice value needs "
                "root or CAP_SYS_NICE (or an RLIMIT_NICE allowance)"
            ) from None


def set_realtime(pid: int, priority: int) -> None:
    """SCHED_FIFO at priority (1-99) for every thread of pid."""
    lo, hi = os.sched_get_priority_min(os.SCHED_FIFO), os.sched_get_priority_max(os.SCHED_FIFO)
    if not lo <= priority <= hi:
        raise UsageError(f"--realtime {priority}: expected a SCHED_FIFO priority from {lo} to {hi}")
    target = pid or os.getpid()
    for tid in threads_of(target):
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
        except ProcessLookupError:
            if tid == target:
                raise _no_process(target) from None
        except PermissionError:
            raise AlphapulseError(
                f"--realtime {priority}: permission denied for pid {target}; realtime "
                "scheduling needs root or CAP_SYS_NICE (or an RLIMIT_RTPRIO allowance)"
            ) from None


_POLICIES = {
    getattr(os, "SCHED_OTHER", 0): "other",
    getattr(os, "SCHED_FIFO", 1): "fifo",
    getattr(os, "SCHED_RR", 2): "rr",
    getattr(os, "SCHED_BATCH", 3): "batch",
    getattr(os, "SCHED_IDLE", 5): "idle",
}


def describe(pid: int = 0) -> dict[str, Any]:
    """Affinity and scheduling of a process, for `pin --show`."""
    target = pid or os.getpid()
    cpus = get_affinity(target)
    try:
        policy = os.sched_getscheduler(target)
        prio = os.sched_getparam(target).sched_priority
        nice = os.getpriority(os.PRIO_PROCESS, target)
    except ProcessLookupError:
        raise _no_process(target) from None
    threads = {}
    for tid in threads_of(target):
        try:
            threads[str(tid)] = format_cpu_list(os.sched_getaffinity(tid))
        except OSError:
            continue
    isolated = isolated_cpus()
    return {
        "pid": target,
        "cpus": format_cpu_list(cpus),
        "threads": threads,
        "policy": _POLICIES.get(policy, str(policy)),
        "priority": prio,
        "nice": nice,
        "isolated": format_cpu_list(isolated or ()),
        "online": format_cpu_list(online_cpus()),
    }


def pin_current_process(text: str) -> list[str]:
    """The global --cpus option: pin this process; returns warnings to show."""
    cpus, warnings = check_cpus(parse_cpu_list(text, "--cpus"))
    set_affinity(0, cpus)
    return warnings
