"""Redis Cluster: URLs, a recorded capture replayed into a real 3-master/3-replica cluster
(every trade once, spread over the masters), tail-stream over every master, a group with
--count splitting a total exactly, bad clusters and credentials, and a master killed while
`collect` publishes and a group member follows."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from alphapulse_cli.errors import UsageError
from alphapulse_cli.exchange.thread import ExchangeThread
from alphapulse_cli.redis_streams.cluster import key_slot
from alphapulse_cli.redis_streams.url import parse_url
from alphapulse_cli.research.live import read_trades
from tests.helpers.cli import run_cli
from tests.helpers.redis_cluster import free_ports
from tests.helpers.redis_streams import RedisServer, trades_of
from tests.helpers.wait import wait_until


def test_cluster_urls_name_seeds_and_keep_the_password_out():
    t = parse_url("redis+cluster://u:pa55word@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
    assert t.cluster and not t.tls
    assert t.seeds == (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002))
    assert (t.username, t.password) == ("u", "pa55word")
    assert t.display == "redis+cluster://u:***@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002"
    node = t.node("10.0.0.3", 7003)
    assert (node.scheme, node.host, node.port) == ("redis", "10.0.0.3", 7003)
    assert node.password == "pa55word"
    assert node.display == "redis://u:***@10.0.0.3:7003"
    s = parse_url("rediss+cluster://secret@h1,h2:7001?ssl_cert_reqs=none")
    assert s.tls and s.seeds == (("h1", 6379), ("h2", 7001)) and s.password == "secret"
    assert s.node("h2", 7001).scheme == "rediss"
    for bad in ("redis+cluster://", "redis+cluster://h:1/2", "redis+cluster://h:x"):
        with pytest.raises(UsageError):
            parse_url(bad)


def test_key_slots_are_redis_cluster_slots():
    assert key_slot("foo") == 12182
    assert key_slot("{user1000}.following") == key_slot("user1000") == 3443
    assert key_slot("a{}b") == key_slot(b"a{}b")


@pytest.mark.slow
def test_a_replayed_capture_lands_once_across_the_masters(cluster, recorded_log):
    out = run_cli("replay", str(recorded_log), "--redis", cluster.url)
    assert out.returncode == 0, out.stderr
    got = cluster.streams()  # fails if a key is on two masters
    assert got == trades_of(recorded_log)
    holders = {p for p in cluster.masters() if cluster.client(p).dbsize()}
    assert len(holders) >= 2  # the four streams are spread over the masters
    # The research API reads the live side through the same URL.
    live = read_trades(cluster.url, "BTC-USD", None, None, None)
    assert len(live["ts"]) == len(got["trades:coinbase:BTC-USD"]) + len(
        got["trades:kraken:BTC-USD"]
    )


@pytest.mark.slow
def test_tail_stream_finds_streams_on_every_master_and_groups_split_exactly(cluster):
    keys = [f"trades:coinbase:S{k}-USD" for k in range(10)]
    want = set()
    for n, key in enumerate(keys):
        with cluster.client(cluster.owner(key)) as r:
            want |= {(key, r.xadd(key, {"i": str(i)})) for i in range(10 + (n < 7))}
    assert len(want) == 107
    assert len({cluster.owner(k) for k in keys}) == 3
    url = cluster.url
    plain = run_cli("tail-stream", "trades:*", "--from", "0", "--count", "107", "--redis", url)
    assert plain.returncode == 0, plain.stderr
    assert {(g["stream"], g["id"]) for g in map(json.loads, plain.stdout.splitlines())} == want
    got = []
    for consumer, n in (("a", 53), ("b", 54)):
        args = ("--group", "g", "--consumer", consumer, "--from", "0", "--count", str(n))
        out = run_cli("tail-stream", "trades:coinbase:*", *args, "--redis", url)
        assert out.returncode == 0, out.stderr
        printed = [(g["stream"], g["id"]) for g in map(json.loads, out.stdout.splitlines())]
        assert len(printed) == n
        got += printed
    assert len(got) == len(set(got)) and set(got) == want
    for key in keys:
        with cluster.client(cluster.owner(key)) as r:
            assert r.xpending(key, "g")["pending"] == 0


@pytest.mark.slow
def test_uncovered_slots_and_wrong_credentials_exit_4(tmp_path, recorded_log):
    node = RedisServer(tmp_path, extra=("--cluster-enabled", "yes", "--requirepass", "s3cret-pw"))
    node.port = free_ports(n=1)[0]  # its cluster bus listens on port + 10000
    node.start()
    try:
        with node.client(password="s3cret-pw") as r:
            r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 8000)
        good = f"redis+cluster://:s3cret-pw@127.0.0.1:{node.port}"
        bad = f"redis+cluster://default:wrong-pw-123@127.0.0.1:{node.port}"
        for args in (("replay", str(recorded_log)), ("tail-stream", "trades:*")):
            out = run_cli(*args, "--redis", good)
            err = out.stderr.decode()
            assert out.returncode == 4, err
            assert len(err.strip().splitlines()) == 1
            assert "hash slots 8001-16383" in err and "s3cret-pw" not in err
            out = run_cli(*args, "--redis", bad)
            err = out.stderr.decode()
            assert out.returncode == 4, err
            assert "authentication failed" in err and "wrong-pw-123" not in err
        plain = RedisServer(tmp_path).start()
        try:
            url = f"redis+cluster://127.0.0.1:{plain.port}"
            out = run_cli("tail-stream", "trades:*", "--redis", url)
            assert out.returncode == 4 and b"not a cluster" in out.stderr
        finally:
            plain.stop()
    finally:
        node.stop()


@pytest.mark.slow
def test_a_master_killed_mid_publish_fails_over_and_publishing_resumes(cluster, tmp_path):
    """Last in this module: the cluster is whole again only once the old master rejoins."""
    key = "trades:coinbase:BTC-USD"
    victim = cluster.owner(key)
    # A consumer group member follows along through the failover.
    printed = tmp_path / "tail.jsonl"
    tail_cmd = [sys.executable, "-m", "alphapulse_cli", "tail-stream", "trades:*", "--from", "0"]
    tail_cmd += ["--group", "g", "--consumer", "c", "--rescan", "0.2", "--redis", cluster.url]
    with open(printed, "wb") as out:
        tail = subprocess.Popen(tail_cmd, stdout=out, stderr=subprocess.PIPE)
    try:
        with ExchangeThread("coinbase", rate=2500, trade_share=0.5, seed=9) as ex:
            cmd = [sys.executable, "-m", "alphapulse_cli", "collect", "coinbase", "BTC-USD"]
            cmd += ["ETH-USD", "--url", ex.url, "-o", str(tmp_path / "log"), "--redis", cluster.url]
            proc = subprocess.Popen([*cmd, "--duration", "10"], stderr=subprocess.PIPE)
            try:
                wait_until(lambda: cluster.client(victim).xlen(key) > 100, 10)
                cluster.kill(victim)
                _out, err = proc.communicate(timeout=40)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
        assert proc.returncode == 0, err
        lines = [json.loads(x) for x in err.splitlines() if x.startswith(b"{")]
        summary = next(x for x in lines if x.get("event") == "stopped")
        red = summary["sinks"]["redis"]
        want = trades_of(tmp_path / "log")  # the raw capture is whole
        assert red["offered"] == summary["trades"] == sum(len(v) for v in want.values())
        assert red["offered"] == red["published"] + red["dropped"]
        assert red["reconnects"] >= 1 and red["errors"] >= 1
        got = cluster.streams()
        assert sorted(got) == sorted(want)
        for k, entries in got.items():
            ids = [e["trade_id"] for e in entries]
            assert len(ids) == len(set(ids))  # none twice
            it = iter(want[k])
            assert all(e in it for e in entries)  # each one really traded, in order
            assert entries[-1] == want[k][-1]  # publishing went on to the end
        # Writes a master acknowledged but had not yet passed to its replica die with it.
        assert sum(map(len, want.values())) - sum(map(len, got.values())) >= red["dropped"]
        stored = {(k, e["trade_id"]) for k, entries in got.items() for e in entries}

        def seen() -> set[tuple[str, str]]:
            lines = printed.read_bytes().splitlines()
            return {(g["stream"], g["trade_id"]) for g in map(json.loads, lines)}

        # At least once: everything that survived in the cluster is printed by the tail.
        wait_until(lambda: stored <= seen(), 30, what="the tail printed every stored trade")
        tail.send_signal(signal.SIGTERM)
        _out, tail_err = tail.communicate(timeout=20)
        assert b"reconnect" in tail_err
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
        cluster.restart(victim)


@pytest.mark.slow
def test_moved_replies_are_followed_and_nothing_is_lost(cluster):
    from alphapulse_cli.redis_streams.cluster import SyncCluster
    from alphapulse_cli.redis_streams.sync import SyncRedisPublisher
    from tests.helpers.redis_streams import trade

    key = "trades:coinbase:BTC-USD"
    right = cluster.owner(key)
    wrong = ("127.0.0.1", next(p for p in cluster.masters() if p != right))
    # The blocking client: a stale map sends the command to the wrong master first.
    client = SyncCluster(parse_url(cluster.url))
    try:
        client.slots.owner[key_slot(key)] = wrong
        client.slots._key_node.clear()
        assert client.call("XADD", key, "*", "f", "v")
        assert client.node_of(key) == ("127.0.0.1", right)
    finally:
        client.close()
    # The publisher: entries refused with MOVED go back to the queue and are sent again.
    pub = SyncRedisPublisher(cluster.url, block=True)
    pub.publish(trade(0))
    assert pub.flush(10)
    inner = pub._pub
    inner._key_node[("coinbase", "BTC-USD")] = wrong  # type: ignore[attr-defined]
    for i in range(1, 500):
        pub.publish(trade(i))
    stats = pub.close(10)
    assert stats["published"] == stats["offered"] == 500 and stats["dropped"] == 0
    assert stats["reconnects"] >= 1  # the map was read again after MOVED
    with cluster.client(right) as r:
        assert r.xlen(key) == 501
