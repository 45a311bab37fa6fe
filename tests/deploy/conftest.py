"""Fixtures for the deployment suites: docker/cluster.py loaded as a module, nginx found."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import redis

from tests.servers import ROOT

DOCKER = ROOT / "docker"


def load_cluster() -> ModuleType:
    """``docker/cluster.py`` (a script, not a package: docker/ holds no Python package)."""
    name = "watercooler_cluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DOCKER / "cluster.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def cluster_module() -> ModuleType:
    return load_cluster()


@pytest.fixture(scope="session")
def nginx(cluster_module: ModuleType) -> str:
    """Debian's nginx; missing is a failure (`make test` installs it), never a skip."""
    try:
        return str(cluster_module.find_nginx())
    except cluster_module.ClusterError as exc:
        pytest.fail(str(exc))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


SECRET = "cluster-test-realtime-secret-not-for-production"


@dataclass
class Running:
    """A running cluster as its cluster.json describes it."""

    proc: subprocess.Popen[bytes]
    state: dict[str, Any]
    output: Path

    @property
    def url(self) -> str:
        return str(self.state["url"])

    def node_connections(self) -> list[int]:
        counts = []
        for port in self.state["node_ports"]:
            resp = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            counts.append(int(resp.json()["connections"]))
        return counts


#: The Redis databases the cluster tests may take, one per running suite: each run claims an
#: empty one (a claim key set with NX), so two runs on one Redis (parallel worktrees, CI
#: neighbours) never flush each other's data.
CLAIMABLE_DBS = range(15, 7, -1)
CLAIM_KEY = "watercooler-tests:claimed-by"


@contextlib.contextmanager
def claimed_redis_db(base: str = "redis://127.0.0.1:6379") -> Iterator[str]:
    """The URL of a Redis database nobody else's test run holds, released (flushed) after."""
    token = f"{os.getpid()}-{time.time_ns()}"
    for db in CLAIMABLE_DBS:
        url = f"{base}/{db}"
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=2)
            taken = client.set(CLAIM_KEY, token, nx=True, ex=1800)
            client.close()
        except redis.RedisError as exc:
            pytest.fail(f"Redis at {url} is required for the cluster tests: {exc}")
        if taken:
            break
    else:
        pytest.fail(f"every Redis database in {list(CLAIMABLE_DBS)} is claimed by a test run")
    try:
        yield url
    finally:
        flush(url, keep_claim=False)


def flush(url: str, *, keep_claim: bool = True) -> None:
    """Empty the database (all but the run's claim on it, unless `keep_claim` is false)."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        keys = [k for k in client.scan_iter(count=1000) if keep_claim is False
                or k != CLAIM_KEY.encode()]
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start:start + 1000])
        client.close()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} is required for the cluster tests: {exc}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def launch_cluster(run_dir: Path, redis_url: str, *, ws_logged: bool = True
                   ) -> Iterator[Running]:
    """``docker/cluster.py`` on free ports (SQLite in run_dir, ``redis_url`` flushed before
    and after); on exit, Ctrl-C must stop every process and keep tickets out of the logs."""
    load_cluster().find_nginx()  # a clear failure when nginx is missing
    flush(redis_url)
    output = run_dir / "launcher.log"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # SQLite in run_dir
    env["REALTIME_SECRET"] = SECRET
    with output.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(DOCKER / "cluster.py"), "--port=0",
                                 f"--run-dir={run_dir}", f"--redis-url={redis_url}"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    state_file = run_dir / "cluster.json"
    deadline = time.monotonic() + 90
    while not state_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the cluster did not start:\n{output.read_text()[-3000:]}")
        time.sleep(0.1)
    running = Running(proc, json.loads(state_file.read_text()), output)
    try:
        yield running
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        flush(redis_url)
    printed = output.read_text()
    assert code == 0, printed[-3000:]
    assert "stopping the cluster" in printed
    left = [name for name, pid in running.state["pids"].items() if _alive(pid)]
    assert not left, f"still running after Ctrl-C: {left}"
    access = (run_dir / "logs" / "nginx.log").read_text()
    # nginx logs a websocket when it ends: with ws_logged the caller's sockets have ended.
    assert "GET /ws/" in access or not ws_logged
    assert "token=" not in access  # tickets stay out of nginx's log
