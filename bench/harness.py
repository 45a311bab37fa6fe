"""What every workload's coordinator shares: run load generators in lockstep with the servers'
samples, the cost of a phase between two marks, counters from ``/metrics``, fresh sprints.

A workload's coordinator (``run(profile)`` in ``bench/workloads/<name>.py``) starts the
servers, runs its load generators in their own processes and samples every server's CPU and
memory at the load generators' marks, so a phase's server cost is the difference between
two samples.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

from bench.procs import LoadGen, Server, Usage, run_loadgens, usage

__all__ = ["Sampler", "fresh_sprint", "log", "measure", "metric"]

log = logging.getLogger("bench")


def fresh_sprint() -> int:
    """A sprint id no earlier run used (a shared Redis keeps history between runs)."""
    return random.randint(10**6, 10**9)


class Sampler:
    """Samples servers and load generators at every mark; ``cost(a, b)`` between two marks."""

    def __init__(self, servers: Sequence[Server], gens: Sequence[LoadGen] = (),
                 on_mark: Callable[[str], None] | None = None) -> None:
        self.servers = list(servers)
        self.gens = list(gens)
        self.on_mark = on_mark
        self.marks: dict[str, tuple[list[Usage], list[Usage]]] = {}

    def __call__(self, name: str) -> None:
        gens = []
        for gen in self.gens:
            assert gen.proc is not None
            gens.append(usage(gen.proc.pid))
        self.marks[name] = ([s.usage() for s in self.servers], gens)
        if self.on_mark is not None:
            self.on_mark(name)

    def cost(self, start: str, end: str) -> dict[str, Any]:
        (s0, g0), (s1, g1) = self.marks[start], self.marks[end]
        return {"server_cpu_s": sum(b.cpu - a.cpu for a, b in zip(s0, s1, strict=True)),
                "server_user_s": sum(b.user - a.user for a, b in zip(s0, s1, strict=True)),
                "server_sys_s": sum(b.sys - a.sys for a, b in zip(s0, s1, strict=True)),
                "loadgen_cpu_s": sum(b.cpu - a.cpu for a, b in zip(g0, g1, strict=True)),
                "wall_s": s1[0].at - s0[0].at,
                "server_rss": [u.rss for u in s1]}


def measure(servers: Sequence[Server], gens: list[LoadGen], timeout: float,
            on_mark: Callable[[str], None] | None = None
            ) -> tuple[list[dict[str, Any]], Sampler]:
    """Run ``gens`` to the end, sampling ``servers`` at each mark (then ``on_mark``)."""
    sampler = Sampler(servers, gens, on_mark)
    results = run_loadgens(gens, sampler, timeout)
    return results, sampler


def metric(server: Server, name: str) -> float:
    """The sum of every sample of counter ``name`` on the server's ``/metrics``."""
    total = 0.0
    for line in server.get("/metrics").decode().splitlines():
        if line.startswith(name) and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            if key == name or key.startswith(name + "{"):
                total += float(value)
    return total
