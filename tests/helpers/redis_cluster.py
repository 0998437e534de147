"""A real Redis Cluster on loopback: six `redis-server --cluster-enabled yes` (three masters,
three replicas) joined by `redis-cli --cluster create`, ready only when every node sees all
six, the state is ok and every replica has synced with its master (a replica that never
synced never fails over)."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import redis

from tests.helpers.redis_streams import REDIS_SERVER
from tests.helpers.wait import wait_until

NODES = 6


def _free(host: str, port: int) -> bool:
    try:
        with socket.socket() as s:
            s.bind((host, port))
        return True
    except OSError:
        return False


def free_ports(host: str = "127.0.0.1", n: int = NODES) -> list[int]:
    """n ports whose cluster bus ports (port + 10000) are free too, all at or below 55535."""
    with socket.socket() as s:
        s.bind((host, 0))
        start = 20000 + int(s.getsockname()[1]) % 25000
    ports: list[int] = []
    p = start
    while len(ports) < n:
        if _free(host, p) and _free(host, p + 10000):
            ports.append(p)
        p += 1
    return ports


class RedisCluster:
    """Three masters with one replica each on `host`. `prefix` runs every process under a
    command prefix (`ip netns exec NS`); `password` sets requirepass and masterauth."""

    def __init__(
        self,
        dir: Path,
        host: str = "127.0.0.1",
        *,
        prefix: Sequence[str] = (),
        password: str | None = None,
    ) -> None:
        self.dir = dir
        self.host = host
        self.prefix = list(prefix)
        self.password = password
        self.ports = free_ports(host) if not prefix else list(range(30001, 30001 + NODES))
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis+cluster://{auth}{self.host}:{self.ports[0]},{self.host}:{self.ports[1]}"

    def start_node(self, port: int) -> None:
        d = self.dir / str(port)
        d.mkdir(exist_ok=True)
        args = [REDIS_SERVER, "--port", str(port), "--bind", self.host, "--dir", str(d)]
        args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        args += ["--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        if self.host != "127.0.0.1":
            args += ["--protected-mode", "no"]  # else only loopback clients are let in
        self.procs[port] = subprocess.Popen(
            [*self.prefix, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def start(self) -> RedisCluster:
        for port in self.ports:
            self.start_node(port)
        for port in self.ports:
            wait_until(lambda p=port: self._answers(p), 10, what=f"redis node {port} answers")
        create = [*self.prefix, "redis-cli"]
        if self.password:
            create += ["-a", self.password, "--no-auth-warning"]
        create += ["--cluster", "create", *[f"{self.host}:{p}" for p in self.ports]]
        create += ["--cluster-replicas", "1", "--cluster-yes"]
        subprocess.run(create, check=True, capture_output=True, timeout=60)
        self.wait_ready()
        return self

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host=self.host, port=port, password=self.password, decode_responses=True)

    def _answers(self, port: int) -> bool:
        try:
            with self.client(port) as r:
                return bool(r.ping())
        except redis.RedisError:
            return False

    def _ready(self) -> bool:
        try:
            for port in self.live_ports():
                with self.client(port) as r:
                    if r.execute_command("CLUSTER", "INFO").find("cluster_state:ok") < 0:
                        return False
                    nodes = r.execute_command("CLUSTER", "NODES")
                    text = nodes if isinstance(nodes, str) else str(nodes)
                    lines = [x for x in text.splitlines() if x.strip()]
                    if len(lines) != len(self.procs) or any(
                        f in x for x in lines for f in ("fail", "handshake", "noaddr")
                    ):
                        return False
                    info = r.info("replication")
                    if info["role"] == "slave" and info.get("master_link_status") != "up":
                        return False
            return len(self.masters()) == 3
        except redis.RedisError:
            return False

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(self._ready, timeout, interval=0.1, what="cluster ready")

    def live_ports(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def masters(self) -> list[int]:
        out = []
        for port in self.live_ports():
            with self.client(port) as r:
                if r.info("replication")["role"] == "master":
                    out.append(port)
        return sorted(out)

    def owner(self, key: str) -> int:
        """The port of the master serving key's slot."""
        from alphapulse_cli.redis_streams.cluster import key_slot

        slot = key_slot(key)
        with self.client(self.masters()[0]) as r:
            for lo, hi, master, *_ in r.execute_command("CLUSTER", "SLOTS"):
                if lo <= slot <= hi:
                    return int(master[1])
        raise AssertionError(f"no master serves {key}")

    def kill(self, port: int) -> None:
        proc = self.procs[port]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def restart(self, port: int) -> None:
        """Start a killed node again: with its nodes.conf it rejoins, as a replica."""
        self.start_node(port)
        self.wait_ready()

    def flush(self) -> None:
        for port in self.masters():
            with self.client(port) as r:
                r.flushall()

    def streams(self) -> dict[str, list[dict[str, str]]]:
        """Every stream on every master: key -> the entries' fields in order."""
        out: dict[str, list[dict[str, str]]] = {}
        for port in self.masters():
            with self.client(port) as r:
                for key in r.scan_iter(count=1000):
                    assert key not in out, f"{key} on two masters"
                    out[key] = [f for _i, f in r.xrange(key)]
        return out

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
