"""Real Redis for tests: the machine's at 127.0.0.1:6379 (a missing one fails, never skips),
a private key prefix per test that is deleted afterwards, and a throw-away redis-server."""

from __future__ import annotations

import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
import redis

from tests.processes import ROOT, ChildProcess, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis(url: str = REDIS_URL) -> redis.Redis:
    """A client of the test Redis; fails the test (not skips) if Redis is not there."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required at {url} for the scale-out tests: {exc} "
                    "(apt-get install redis-server, or start it)")
    return client


def new_prefix() -> str:
    return f"wctest:{uuid.uuid4().hex[:12]}:"


def delete_prefix(client: redis.Redis | redis.RedisCluster, prefix: str) -> None:
    """Delete every key under ``prefix`` (of every shard, on a cluster)."""
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


class RedisServer:
    """A redis-server of our own on a free port (no persistence), to stop and restart."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._child: ChildProcess | None = None
        self.log_path = ROOT / "test-artifacts" / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=2)

    def start(self, timeout: float = 10) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            pytest.fail("redis-server is required for the scale-out tests")
        # SIGKILL: stopping it is how the tests make Redis vanish.
        self._child = ChildProcess(
            "redis-server", [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save",
                             "", "--appendonly", "no", "--daemonize", "no"],
            log_path=self.log_path, stop_signal=signal.SIGKILL)
        self.proc = self._child.start().proc
        self._child.wait_ready(self._answers, timeout=timeout, what="answering PING")
        return self

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
