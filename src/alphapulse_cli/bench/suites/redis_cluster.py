"""redis-cluster: publishing and tail-stream over a Redis Cluster, against `redis-benchmark`
XADD on one master of the same cluster, with redis-py's cluster client beside ours.

The suite starts its own cluster on loopback: three masters, one replica each
(`redis-server --cluster-enabled yes` x6, `redis-cli --cluster create`), ready once every
replica has synced. Every repeat measures, back to back:

- the reference: `redis-benchmark -c 1 -P 64 XADD` of the six trade fields to a key that
  the first master serves, on that master;
- the publisher: N trades over 12 streams (spread over the masters) through
  SyncRedisPublisher with a `redis+cluster://` URL, timed until every XADD was answered;
- redis-py (with hiredis when installed): the same XADDs through `redis.cluster.RedisCluster`
  pipelines of 64 (what the reference pipelines);
- tail-stream: `alphapulse tail-stream 'trades:bench:*' --from 0 --count N > /dev/null`,
  plain and in a fresh group, with the start-up (the same command with --count 1) taken off;
  and plain against one redis-server holding the same entries (tail-stream's own pace on a
  single server, the figure a cluster should keep up with).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alphapulse_cli.bench.core import BenchContext, Result, scratch_dir
from alphapulse_cli.bench.suites.redis import _publish, _redis_benchmark, _server, _trades
from alphapulse_cli.errors import AlphapulseError, UpstreamError
from alphapulse_cli.redis_streams.cluster import key_slot
from alphapulse_cli.redis_streams.conn import SyncConnection
from alphapulse_cli.redis_streams.entries import trade_fields, trade_key
from alphapulse_cli.redis_streams.url import parse_url

SYMBOLS = tuple(f"S{k}-USD" for k in range(12))


def _free_ports(n: int) -> list[int]:
    import socket

    def free(p: int) -> bool:
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))
            return True
        except OSError:
            return False

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        p = 20000 + int(s.getsockname()[1]) % 25000  # bus ports (+10000) stay below 65536
    out: list[int] = []
    while len(out) < n:
        if free(p) and free(p + 10000):
            out.append(p)
        p += 1
    return out


def _info(port: int, *args: str) -> str:
    conn = SyncConnection(parse_url(f"redis://127.0.0.1:{port}"), timeout=2)
    try:
        return bytes(conn.call(*args)).decode()
    finally:
        conn.close()


def _ready(ports: list[int]) -> bool:
    try:
        for p in ports:
            if "cluster_state:ok" not in _info(p, "CLUSTER", "INFO"):
                return False
            nodes = _info(p, "CLUSTER", "NODES").splitlines()
            if len(nodes) != len(ports) or any("fail" in x or "handshake" in x for x in nodes):
                return False
            repl = _info(p, "INFO", "replication")
            if "role:slave" in repl and "master_link_status:up" not in repl:
                return False
        return True
    except UpstreamError:
        return False


@contextmanager
def _cluster(d: Path) -> Iterator[list[int]]:
    exe = shutil.which("redis-server")
    cli = shutil.which("redis-cli")
    if exe is None or cli is None:
        raise AlphapulseError("bench redis-cluster: redis-server and redis-cli must be on PATH")
    ports = _free_ports(6)
    procs = []
    try:
        for p in ports:
            (d / str(p)).mkdir()
            args = [exe, "--port", str(p), "--bind", "127.0.0.1", "--dir", str(d / str(p))]
            args += ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]
            args += ["--save", "", "--appendonly", "no"]
            procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        for p in ports:
            while True:
                try:
                    _info(p, "PING")
                    break
                except UpstreamError:
                    if time.monotonic() > deadline:
                        raise AlphapulseError("bench redis-cluster: a node did not start") from None
                    time.sleep(0.05)
        create = [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports]]
        subprocess.run(
            [*create, "--cluster-replicas", "1", "--cluster-yes"], capture_output=True, check=True
        )
        deadline = time.monotonic() + 60
        while not _ready(ports):
            if time.monotonic() > deadline:
                raise AlphapulseError("bench redis-cluster: the cluster did not become ready")
            time.sleep(0.1)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def _master_key(port: int) -> str:
    """A key that the master on port serves."""
    slots = SyncConnection(parse_url(f"redis://127.0.0.1:{port}"))
    try:
        ranges = [(int(r[0]), int(r[1])) for r in slots.call("CLUSTER", "SLOTS")
                  if int(r[2][1]) == port]  # fmt: skip
    finally:
        slots.close()
    for i in range(100_000):
        key = f"bench:ref:{i}"
        if any(lo <= key_slot(key) <= hi for lo, hi in ranges):
            return key
    raise AlphapulseError("bench redis-cluster: no key found for the first master")


def _redis_py(port: int, events: list[dict[str, Any]]) -> float | None:
    try:
        from redis.cluster import RedisCluster
    except ImportError:
        return None
    rc = RedisCluster(host="127.0.0.1", port=port)
    try:
        t0 = time.perf_counter()
        for i in range(0, len(events), 64):
            pipe = rc.pipeline(transaction=False)
            for ev in events[i : i + 64]:
                f = trade_fields(ev)
                key = trade_key(ev["exchange"], ev["symbol"])
                pipe.xadd(key, dict(zip(f[::2], f[1::2], strict=True)), maxlen=1_000_000)
            pipe.execute()
        return len(events) / (time.perf_counter() - t0)
    finally:
        rc.close()


def _flush(ports: list[int]) -> None:
    for p in ports:
        try:
            _info(p, "FLUSHALL")
        except UpstreamError:
            pass  # a replica refuses writes: its master's flush reaches it


def _tail_rate(url: str, n: int) -> float:
    return n / max(_tail_seconds(url, n, None) - _tail_seconds(url, 1, None), 1e-9)


def _tail_seconds(url: str, count: int, group: str | None) -> float:
    cmd = [sys.executable, "-m", "alphapulse_cli", "tail-stream", "trades:bench:*"]
    cmd += ["--from", "0", "--count", str(count), "--redis", url]
    if group:
        cmd += ["--group", group, "--consumer", "c"]
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def suite(ctx: BenchContext) -> list[Result]:
    """Cluster publish and tail-stream entries/s vs redis-benchmark XADD on one master."""
    n = ctx.scale(200_000)
    events = _trades(n, SYMBOLS)
    fields = trade_fields(events[0])
    ref: list[float] = []
    pub: list[float] = []
    rpy: list[float] = []
    tail: list[float] = []
    tail_group: list[float] = []
    tail_single: list[float] = []
    try:
        import hiredis  # noqa: F401

        parser = "hiredis"
    except ImportError:
        parser = "pure-Python parser"
    with scratch_dir(ctx, "redis-cluster") as d, _cluster(d) as ports, _server(d) as single:
        single_url = f"redis://127.0.0.1:{single}"
        _publish(single_url, events)
        url = f"redis+cluster://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}"
        key = _master_key(ports[0])
        for i in range(ctx.repeats + 1):
            _flush(ports)
            r = _redis_benchmark(ports[0], n, fields, key)
            _flush(ports)
            p = _redis_py(ports[0], events)
            _flush(ports)
            c = _publish(url, events)
            startup = _tail_seconds(url, 1, None)
            t = n / max(_tail_seconds(url, n, None) - startup, 1e-9)
            g = n / max(_tail_seconds(url, n, f"g{i}") - startup, 1e-9)
            s1 = _tail_rate(single_url, n)
            ctx.log(
                f"redis-cluster: benchmark {r:,.0f}/s publisher {c:,.0f}/s "
                f"redis-py {p or 0:,.0f}/s tail {t:,.0f}/s tail --group {g:,.0f}/s "
                f"tail on one server {s1:,.0f}/s"
            )
            if i:
                ref.append(r)
                pub.append(c)
                if p is not None:
                    rpy.append(p)
                tail.append(t)
                tail_group.append(g)
                tail_single.append(s1)
    reference = Result("redis-benchmark -c 1 -P 64 XADD, one master", "entries/s", ref)
    out = [
        Result(
            "cluster publisher (a pipeline per master)",
            "entries/s",
            pub,
            reference=reference,
            note=f"{n:,} trades over {len(SYMBOLS)} streams, 3 masters + 3 replicas",
        )
    ]
    if rpy:
        out.append(
            Result(
                f"redis-py RedisCluster, pipelines of 64 ({parser})",
                "entries/s",
                rpy,
                reference=reference,
                note="the same XADDs, same cluster",
            )
        )
    single_ref = Result("tail-stream on one redis-server", "entries/s", tail_single)
    out += [
        Result(
            "tail-stream over the cluster",
            "entries/s",
            tail,
            reference=single_ref,
            note=f"{n:,} entries as JSON lines to /dev/null, start-up taken off",
        ),
        Result(
            "tail-stream --group over the cluster (acks)",
            "entries/s",
            tail_group,
            reference=single_ref,
            note="the same, in a fresh consumer group each repeat",
        ),
    ]
    return out
