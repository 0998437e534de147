"""Several hosts: two collectors, each in a network namespace of its own with its own
address and its own local exchange, publish to a Redis Cluster in a third namespace; a
consumer group in the host namespace reads every trade exactly once.

Topology (made by the test, removed by name when it ends)::

    <c1> 10.117.1.2 --veth-- 10.117.1.1 \\
    <c2> 10.117.2.2 --veth-- 10.117.2.1  <rc>  cluster on 10.117.0.1:30001-30006 (lo)
    host 10.117.3.2 --veth-- 10.117.3.1 /

The cluster announces 10.117.0.1, an address of the cluster namespace itself, which every
other namespace routes through its own link: no forwarding anywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.redis_cluster import RedisCluster
from tests.helpers.redis_streams import trades_of

pytestmark = pytest.mark.slow  # namespaces, a cluster, collectors as processes

CLUSTER_IP = "10.117.0.1"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _unavailable() -> str | None:
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"ap{os.getpid()}probe"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"cannot make a network namespace: {exc.stderr.decode().strip()}"
    _ip("netns", "del", probe)
    return None


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Namespaces c1, c2 (collectors) and rc (the cluster), linked as the module says."""
    why = _unavailable()
    if why:
        pytest.skip(why)
    tag = f"ap{os.getpid() % 100000}"
    names = {"c1": f"{tag}c1", "c2": f"{tag}c2", "rc": f"{tag}rc"}
    try:
        for ns in names.values():
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        rc = names["rc"]
        _ip("-n", rc, "addr", "add", f"{CLUSTER_IP}/32", "dev", "lo")
        for n, who in ((1, "c1"), (2, "c2"), (3, None)):
            here, there = f"{tag}v{n}a", f"{tag}v{n}b"
            ns = names[who] if who else None
            near = ["netns", ns] if ns else []
            _ip("link", "add", here, *near, "type", "veth", "peer", "name", there, "netns", rc)
            at = ["-n", ns] if ns else []
            _ip(*at, "addr", "add", f"10.117.{n}.2/24", "dev", here)
            _ip(*at, "link", "set", here, "up")
            _ip("-n", rc, "addr", "add", f"10.117.{n}.1/24", "dev", there)
            _ip("-n", rc, "link", "set", there, "up")
            _ip(*at, "route", "add", f"{CLUSTER_IP}/32", "via", f"10.117.{n}.1")
        yield names
    finally:
        # A namespace lives on while a process is in it: end what the test left there, then
        # delete the namespaces and the host's end of its link (which takes its peer along).
        for ns in names.values():
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", f"{tag}v3a"], capture_output=True, timeout=10)


def test_two_collectors_on_two_hosts_one_cluster_one_group(hosts, tmp_path):
    in_ns = ["ip", "netns", "exec"]
    cluster = RedisCluster(tmp_path / "rc", CLUSTER_IP, prefix=[*in_ns, hosts["rc"]])
    (tmp_path / "rc").mkdir()
    try:
        cluster.start()
        plan = {"c1": ("coinbase", ["BTC-USD", "ETH-USD"]), "c2": ("kraken", ["SOL-USD"])}
        procs = []
        for who, (venue, symbols) in plan.items():
            cmd = [*in_ns, hosts[who], sys.executable, "-m", "alphapulse_cli", "collect"]
            cmd += [venue, *symbols, "--simulate", "--rate", "2000", "-d", "3", "-q"]
            cmd += ["-o", str(tmp_path / who), "--redis", cluster.url]
            procs.append(subprocess.Popen(cmd, stderr=subprocess.PIPE))
        for p in procs:
            _out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        want = {**trades_of(tmp_path / "c1"), **trades_of(tmp_path / "c2")}
        assert sorted(want) == [
            "trades:coinbase:BTC-USD",
            "trades:coinbase:ETH-USD",
            "trades:kraken:SOL-USD",
        ]
        assert cluster.streams() == want  # every trade of both hosts, once
        total = sum(len(v) for v in want.values())
        assert total > 100
        # Two consumers of one group, at once, from the host namespace: counts that add up
        # to the total split it exactly.
        half = total // 2
        readers = []
        for consumer, n in (("a", half), ("b", total - half)):
            cmd = [sys.executable, "-m", "alphapulse_cli", "tail-stream", "trades:*"]
            cmd += ["--group", "g", "--consumer", consumer, "--from", "0", "--count", str(n)]
            readers.append(
                subprocess.Popen(
                    [*cmd, "--redis", cluster.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
            )
        got = []
        for r in readers:
            out, err = r.communicate(timeout=60)
            assert r.returncode == 0, err
            got += [json.loads(x) for x in out.splitlines()]
        assert len(got) == total
        assert len({(g["stream"], g["id"]) for g in got}) == total  # none twice
        printed: dict[str, list[dict[str, str]]] = {}
        for g in sorted(got, key=lambda g: tuple(map(int, g["id"].split("-")))):
            printed.setdefault(g.pop("stream"), []).append(
                {k: v for k, v in g.items() if k != "id"}
            )
        assert printed == want  # none lost, and every field as captured
        for key in want:
            with cluster.client(cluster.owner(key)) as r:
                assert r.xpending(key, "g")["pending"] == 0
    finally:
        cluster.stop()
