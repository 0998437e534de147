"""Fixtures for the Redis tests: one real `redis-server` for the session, a redis-py client on
an emptied database, and a log of real local-exchange traffic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.helpers.redis_cluster import RedisCluster
from tests.helpers.redis_streams import RedisServer, record_local_exchange


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server shared by every test using it."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rds(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A redis-py client on an emptied database."""
    r = redis_server.client()
    r.flushall()
    yield r
    r.close()


@pytest.fixture(scope="session")
def recorded_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real traffic from the local exchange: Coinbase and Kraken v2, trades and books."""
    return record_local_exchange(tmp_path_factory.mktemp("rec") / "local.wslog")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """One three-master, three-replica cluster shared by every test using it."""
    cluster = RedisCluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def cluster(redis_cluster: RedisCluster) -> RedisCluster:
    """The shared cluster, emptied and ready."""
    redis_cluster.wait_ready()
    redis_cluster.flush()
    return redis_cluster
