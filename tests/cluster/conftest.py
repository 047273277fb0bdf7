"""The cluster tests start their own Redis (Debian's redis-server, on 127.0.0.1 and a free
port, without persistence) and nginx; ``make test-cluster`` runs them (.ci/run installs
both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.redis_server import RedisServer, redis_binary


@pytest.fixture
def redis_server(tmp_path: Path):
    if redis_binary() is None:
        pytest.fail("the cluster tests need redis-server (apt-get install redis-server)")
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(redis_server):
    """A client of the test's Redis, to look at the shared state."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()
