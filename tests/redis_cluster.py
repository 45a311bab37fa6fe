"""A local Redis Cluster of our own: three masters on free loopback ports, no persistence.

For the tests (a session fixture, and a fresh one for tests that break it) and the
benchmarks (`bench/workloads/scaleout.py`). No pytest here: a missing ``redis-server`` raises
``ProcessError``, which the fixtures turn into a failure (never a skip).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from tests.processes import ChildProcess, ProcessError, free_port

__all__ = ["LocalRedisCluster"]


def _binary(name: str) -> str:
    found = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(found).exists():
        raise ProcessError(f"{name} is required for the Redis Cluster tests "
                           "(apt-get install redis-server)")
    return found


class LocalRedisCluster:
    """``masters`` redis-servers in cluster mode, joined by ``redis-cli --cluster create``.

    Each node gets a free client port and a free cluster-bus port (the default, port +
    10000, can pass 65535). ``node_timeout`` (ms) is short so a node killed by a test is
    noticed quickly. `url` is the broker URL of the cluster.
    """

    def __init__(self, masters: int = 3, *, node_timeout: int = 2000,
                 log_dir: Path | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wc-redis-cluster-"))
        self.log_dir = log_dir or self.dir
        self.node_timeout = node_timeout
        ports: set[int] = set()
        while len(ports) < 2 * masters:
            ports.add(free_port())
        pairs = sorted(ports)
        self.ports = pairs[:masters]
        self.bus_ports = pairs[masters:]
        self._children: dict[int, ChildProcess] = {}

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self, timeout: float = 20) -> LocalRedisCluster:
        for port in self.ports:
            self.start_node(port)
        subprocess.run([_binary("redis-cli"), "--cluster", "create",
                        *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-replicas", "0",
                        "--cluster-yes"], check=True, capture_output=True, timeout=timeout)
        self.wait_ok(timeout)
        return self

    def start_node(self, port: int, timeout: float = 10) -> None:
        """Start (or restart, empty, with its cluster config) the node on ``port``."""
        bus = self.bus_ports[self.ports.index(port)]
        child = ChildProcess(
            f"redis-cluster-{port}",
            [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes",
             "--cluster-config-file", str(self.dir / f"nodes-{port}.conf"),
             "--cluster-port", str(bus), "--cluster-node-timeout", str(self.node_timeout),
             "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no"],
            log_path=self.log_dir / f"redis-cluster-{port}.log", stop_signal=signal.SIGKILL)
        self._children[port] = child.start()
        child.wait_ready(lambda: self._answers(port), timeout=timeout, what="answering PING")

    def stop_node(self, port: int) -> None:
        """Kill the node on ``port`` (SIGKILL: a crash)."""
        child = self._children.pop(port, None)
        if child is not None:
            child.stop()

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_connect_timeout=2)

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.ports[0], socket_connect_timeout=2)

    def _answers(self, port: int) -> bool:
        try:
            return bool(self.node(port).ping())
        except redis.RedisError:
            return False

    def wait_ok(self, timeout: float = 20) -> None:
        """Until every node says ``cluster_state:ok`` and agrees on who owns each slot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                states = [self.node(p).cluster("info")["cluster_state"] for p in self.ports]
                views = [self._slot_owners(p) for p in self.ports]
            except redis.RedisError:
                states, views = [], []
            if states and set(states) == {"ok"} and all(v == views[0] for v in views):
                return
            time.sleep(0.1)
        raise ProcessError(f"Redis Cluster on {self.ports} not ok within {timeout:g} s")

    def _slot_owners(self, port: int) -> list[tuple[int, int, int]]:
        return sorted((int(r[0]), int(r[1]), int(r[2][1]))
                      for r in self.node(port).execute_command("CLUSTER SLOTS"))

    def owner(self, key: str) -> int:
        """The port of the master that owns ``key``'s slot now."""
        slot = self.node(self.ports[0]).cluster("keyslot", key)
        for start, end, port in self._slot_owners(self.ports[0]):
            if start <= slot <= end:
                return port
        raise LookupError(f"slot {slot} is not covered")

    def move_slot(self, key: str, to: int) -> None:
        """Migrate ``key``'s slot, with its keys, to the master on port ``to``."""
        src, slot = self.owner(key), self.node(self.ports[0]).cluster("keyslot", key)
        s, d = self.node(src), self.node(to)
        src_id, dst_id = s.execute_command("CLUSTER MYID"), d.execute_command("CLUSTER MYID")
        d.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
        s.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
        while keys := s.execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
            s.execute_command("MIGRATE", "127.0.0.1", to, "", 0, 5000, "KEYS", *keys)
        for node in (d, s, *(self.node(p) for p in self.ports if p not in (src, to))):
            node.execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
        self.wait_ok()

    def stop(self) -> None:
        for port in list(self._children):
            self.stop_node(port)
        shutil.rmtree(self.dir, ignore_errors=True)
