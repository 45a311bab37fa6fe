"""How big each workload is: the ``smoke``, ``quick`` and ``full`` profiles.

``smoke`` is what `tests/bench` runs (seconds), ``quick`` is `make bench` (a few minutes),
``full`` is `make bench-full` (10 to 20 minutes, the committed report).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PROFILES", "Profile"]


@dataclass(frozen=True)
class Profile:
    """How big each workload is. ``quick`` fits in a few minutes, ``full`` in about 20."""

    name: str
    connections: tuple[int, ...]
    connections_peers: tuple[int, ...]  # N for naive and Channels
    idle_s: float
    fanout_sizes: tuple[int, ...]
    fanout_events: int
    fanout_frame_budget: int  # per subject and S: events = min(events, budget / S)
    rate_subscribers: int  # S of the sustained-rate phases
    rates: tuple[int, ...]
    channels_rates: tuple[int, ...]
    rate_seconds: float
    relay_samples: int
    relay_pairs: int
    relay_seconds: float
    e2e_patches: int
    p2p_seconds: float
    scaleout_nodes: tuple[int, ...]
    scaleout_events: int
    scaleout_rates: tuple[int, ...]
    subjects: tuple[str, ...] = ("watercooler", "naive", "channels")
    log_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "bench-logs")
    #: Where profiles go (set by the command line to the results directory).
    results: Path | None = None
    drops: int = 0  # issue 11 (bench/workloads/drops.py): drops into a column of 20, each twice
    rebalance_moves: int = 0  # moves per pattern of the rebalance workload
    joins: tuple[int, ...] = ()  # issue 16 (bench/workloads/joins.py): one sprint of N
    storm: tuple[int, ...] = ()  # issue 16 (bench/workloads/storm.py): N in a node restart


PROFILES = {
    "smoke": Profile("smoke", connections=(50,), connections_peers=(), idle_s=0.5,
                     fanout_sizes=(10,), fanout_events=5, fanout_frame_budget=1000,
                     rate_subscribers=10, rates=(),
                     channels_rates=(), rate_seconds=0.5, relay_samples=20, relay_pairs=2,
                     relay_seconds=0.5, e2e_patches=0, p2p_seconds=0, scaleout_nodes=(),
                     scaleout_events=0, scaleout_rates=(), subjects=("watercooler", "naive"),
                     drops=2, rebalance_moves=20),
    "quick": Profile("quick", connections=(1000,), connections_peers=(1000,), idle_s=3,
                     fanout_sizes=(1, 100, 500), fanout_events=40, fanout_frame_budget=20_000,
                     rate_subscribers=500, rates=(25, 50, 100), channels_rates=(),
                     rate_seconds=1.5,
                     relay_samples=300, relay_pairs=10, relay_seconds=2, e2e_patches=20,
                     p2p_seconds=3, scaleout_nodes=(1, 2), scaleout_events=20,
                     scaleout_rates=(), drops=20, rebalance_moves=500, joins=(1000,),
                     storm=(2000,)),
    "full": Profile("full", connections=(1000, 5000, 10_000, 19_500),
                    connections_peers=(1000, 5000),
                    idle_s=6, fanout_sizes=(1, 100, 500, 1000, 5000), fanout_events=200,
                    fanout_frame_budget=200_000, rate_subscribers=1000,
                    rates=(10, 25, 40, 55, 70, 100),
                    channels_rates=(1, 2, 4), rate_seconds=3, relay_samples=2000,
                    relay_pairs=20, relay_seconds=5, e2e_patches=200, p2p_seconds=10,
                    scaleout_nodes=(1, 2, 3), scaleout_events=100, scaleout_rates=(10, 25, 40),
                    drops=100, rebalance_moves=3000, joins=(1000, 5000), storm=(10_000,)),
}
