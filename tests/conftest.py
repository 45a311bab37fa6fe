"""Suite-wide hooks."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.processes import ROOT, ProcessError
from tests.redis_cluster import LocalRedisCluster
from tests.redis_util import delete_prefix, new_prefix, require_redis
from tests.servers import RealtimeServer


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser suite last (after pytest-django's own reordering).

    Playwright's sync API leaves an event loop running in the main thread for the rest of
    the session, which the asyncio suites cannot share; `make test` also runs it apart.
    """
    items.sort(key=lambda item: "tests/web/" in str(item.path))


@pytest.fixture(scope="module")
def server() -> Iterator[RealtimeServer]:
    """A realtime server (memory broker) shared by the tests of a module."""
    with RealtimeServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def sprints() -> Iterator[int]:
    return itertools.count(1000)


@pytest.fixture
def sprint(sprints: Iterator[int]) -> int:
    """A sprint id of its own per test, so tests sharing a server don't see each other."""
    return next(sprints)


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, deleted afterwards (a missing Redis fails)."""
    client = require_redis()
    value = new_prefix()
    yield value
    delete_prefix(client, value)
    client.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """A three-master Redis Cluster of the session's own on loopback ports (started the
    first time a test asks for it); a missing redis-server fails the test, never skips it.

    Tests share it through their own key prefixes; a test that breaks a cluster makes its
    own (``LocalRedisCluster`` directly).
    """
    cluster = LocalRedisCluster(log_dir=ROOT / "test-artifacts")
    try:
        cluster.start()
    except ProcessError as exc:
        cluster.stop()
        pytest.fail(f"a local Redis Cluster is required: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    """Each test starts with empty API throttle counts (the cache is per process and the
    live server runs in this one); tests/api/test_throttling.py tests the limits.

    Only the in-memory cache is cleared: with CACHE_URL=redis://… in the environment,
    clearing would flush that whole Redis database.
    """
    from django.conf import settings
    from django.core.cache import cache

    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        cache.clear()
