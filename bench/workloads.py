"""The workloads of issue 8, each a function of a ``Profile`` returning plain JSON data.

The coordinator (this module) starts the servers, runs load generators in their own
processes and samples every server's CPU and memory at the load generators' marks, so a
phase's server cost is the difference between two samples.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import ROOT, LoadGen, Server, Usage, free_port, run_loadgens
from bench.profiling import Profiler
from bench.subjects import BENCH_SECRET, start_subject

__all__ = ["PROFILES", "WORKLOADS", "Profile"]

log = logging.getLogger("bench")


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
    drops: int = 0  # issue 11 (bench/drops.py): drops into a column of 20, each made twice
    rebalance_moves: int = 0  # moves per pattern of the rebalance workload


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
                     scaleout_rates=(), drops=20, rebalance_moves=500),
    "full": Profile("full", connections=(1000, 5000, 10_000), connections_peers=(1000, 5000),
                    idle_s=6, fanout_sizes=(1, 100, 500, 1000, 5000), fanout_events=200,
                    fanout_frame_budget=200_000, rate_subscribers=1000,
                    rates=(10, 25, 40, 55, 70, 100),
                    channels_rates=(1, 2, 4), rate_seconds=3, relay_samples=2000,
                    relay_pairs=20, relay_seconds=5, e2e_patches=200, p2p_seconds=10,
                    scaleout_nodes=(1, 2, 3), scaleout_events=100, scaleout_rates=(10, 25, 40),
                    drops=100, rebalance_moves=3000),
}


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
            gens.append(_usage_of(gen.proc.pid))
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


def _usage_of(pid: int) -> Usage:
    from bench.procs import usage
    return usage(pid)


def _run(servers: Sequence[Server], gens: list[LoadGen], timeout: float,
         on_mark: Callable[[str], None] | None = None) -> tuple[list[dict[str, Any]], Sampler]:
    sampler = Sampler(servers, gens, on_mark)
    results = run_loadgens(gens, sampler, timeout)
    return results, sampler


def _metric(server: Server, name: str) -> float:
    total = 0.0
    for line in server.get("/metrics").decode().splitlines():
        if line.startswith(name) and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            if key == name or key.startswith(name + "{"):
                total += float(value)
    return total


# 1. connections held ---------------------------------------------------------------------
def connections(p: Profile) -> dict[str, Any]:
    """N idle authenticated connections (10 per sprint): RSS per connection, connect rate."""
    rows = []
    plan = [("watercooler", n) for n in p.connections]
    # Channels accepts ~150 connections/s: beyond 1,000 it would eat the time budget.
    plan += [(s, n) for s in p.subjects if s != "watercooler" for n in p.connections_peers
             if s != "channels" or n <= 1000]
    for subject, n in plan:
        extra = ("--ping-interval=5",) if subject == "watercooler" else ()
        with start_subject(subject, log_dir=p.log_dir, extra=extra) as server:
            time.sleep(0.5)
            before = server.usage()
            procs = max(1, -(-n // 5000))
            share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
            offsets = [sum(share[:i]) for i in range(procs)]
            base = fresh_sprint()
            gens = [LoadGen("hold", {"port": server.port, "count": c, "offset": o,
                                     "sprint_size": 10, "sprint_base": base,
                                     "secret": BENCH_SECRET, "concurrency": 50,
                                     "welcome": subject == "watercooler"})
                    for c, o in zip(share, offsets, strict=True)]

            def idle(name: str, idle_s: float = p.idle_s) -> None:
                if name == "connected":
                    time.sleep(idle_s)

            results, s = _run([server], gens, timeout=600, on_mark=idle)
            connected = sum(r["connected"] for r in results)
            at = s.marks["connected"][0][0]
            idle_cost = s.cost("connected", "idle_end")
            connect_s = max(r["connect_s"] for r in results)
            rows.append({
                "subject": subject, "n": n, "connected": connected,
                "failed": sum(r["failed"] for r in results),
                "alive_after_idle": sum(r["alive_after_idle"] for r in results),
                "connect_s": connect_s, "connects_per_s": connected / connect_s,
                "connect_cpu_us": (at.cpu - before.cpu) / max(connected, 1) * 1e6,
                "rss_base": before.rss, "rss_held": at.rss,
                "rss_per_conn_kib": (at.rss - before.rss) / max(connected, 1) / 1024,
                "idle_cpu_pct": 100 * idle_cost["server_cpu_s"] / idle_cost["wall_s"],
                "idle_s": idle_cost["wall_s"],
                "ping_interval_s": 5 if subject == "watercooler" else None,
            })
            log.info("connections %s N=%d: %.1f KiB/conn, %.0f conn/s", subject, n,
                     rows[-1]["rss_per_conn_kib"], rows[-1]["connects_per_s"])
    heap: dict[str, Any] = {}
    if p.name != "smoke":
        run = subprocess.run([sys.executable, "-m", "bench.memory", "1000"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        heap = (json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0
                else {"error": run.stderr[-500:]})
    return {"rows": rows, "heap": heap}


# 2. fan-out ---------------------------------------------------------------------------------
def _fanout_once(p: Profile, subject: str, servers: list[Server], subs: int, events: int,
                 rates: Sequence[int], profile: Path | None = None) -> dict[str, Any]:
    spec = {"ports": [s.port for s in servers], "port": servers[0].port,
            "sprint": fresh_sprint(), "subscribers": subs, "events": events,
            "rates": list(rates), "rate_seconds": p.rate_seconds, "secret": BENCH_SECRET,
            "event_timeout": 5.0 if subject != "channels" else 10.0}
    frames_before = _frames_out(subject, servers)
    profiler = Profiler(servers[0].pid, profile) if profile is not None else None
    if profiler is not None:
        spec["profile_events"] = events
    profiled: dict[str, Any] = {}

    def on_mark(name: str) -> None:
        if profiler is not None and name == "profile_start":
            profiler.start()
        if profiler is not None and name == "profile_end":
            profiled.update(profiler.stop())

    (result,), s = _run(servers, [LoadGen("fanout", spec)], timeout=900, on_mark=on_mark)
    if profiled:
        result["profile"] = profiled
    join = s.cost("connect_start", "closed_start")
    result["join"] = {"server_cpu_s": join["server_cpu_s"], "wall_s": join["wall_s"]}
    closed = s.cost("closed_start", "closed_end")
    frames = result["closed"]["events"] * subs - result["closed"]["missing"]
    result["closed"].update(closed)
    result["closed"]["frames"] = frames
    result["closed"]["cpu_us_per_frame"] = closed["server_cpu_s"] / max(frames, 1) * 1e6
    result["closed"]["user_us_per_frame"] = closed["server_user_s"] / max(frames, 1) * 1e6
    result["closed"]["sys_us_per_frame"] = closed["server_sys_s"] / max(frames, 1) * 1e6
    result["closed"]["loadgen_us_per_frame"] = closed["loadgen_cpu_s"] / max(frames, 1) * 1e6
    for row in result["rates"]:
        cost = s.cost(f"rate_{row['offered']}_start", f"rate_{row['offered']}_end")
        row.update(cost)
        delivered = row["events"] * subs - row["missing"]
        row["cpu_us_per_frame"] = cost["server_cpu_s"] / max(delivered, 1) * 1e6
        row["sys_us_per_frame"] = cost["server_sys_s"] / max(delivered, 1) * 1e6
        row["server_cpu_pct"] = 100 * cost["server_cpu_s"] / cost["wall_s"]
    frames_after = _frames_out(subject, servers)
    if frames_before is not None and frames_after is not None:
        result["server_frames_out"] = frames_after - frames_before
    result["subject"] = subject
    return result


def _frames_out(subject: str, servers: list[Server]) -> float | None:
    if subject != "watercooler":
        return None
    return sum(_metric(s, "watercooler_frames_out_total") for s in servers)


def fanout(p: Profile) -> dict[str, Any]:
    """One event to S subscribers: latency to the last one, CPU per frame, sustained rate."""
    rows = []
    subjects = (*p.subjects, "floor") if "naive" in p.subjects else p.subjects
    for subject in subjects:
        with start_subject(subject, log_dir=p.log_dir) as server:
            for subs in p.fanout_sizes:
                if subject == "floor" and subs not in (100, p.rate_subscribers):
                    continue  # the floor is a reference: where the targets are read
                events = max(5, min(p.fanout_events, p.fanout_frame_budget // subs))
                if subject == "channels":  # ~1 ms per frame: a smaller budget
                    events = max(2, min(events, 10_000 // subs))
                rates: Sequence[int] = ()
                if subs == p.rate_subscribers:
                    rates = p.channels_rates if subject == "channels" else p.rates
                profile = (p.results / f"profile-fanout-{subject}.txt"
                           if rates and p.results is not None and subject != "channels" else None)
                row = _fanout_once(p, subject, [server], subs, events, rates, profile)
                row["rss_after"] = server.usage().rss
                rows.append(row)
                c = row["closed"]
                log.info("fanout %s S=%d: p50 %.2f p99 %.2f ms, %.2f us/frame, lost %d",
                         subject, subs, c["last"]["p50"] or -1, c["last"]["p99"] or -1,
                         c["cpu_us_per_frame"], row["lost_frames"])
    return {"rows": rows}


# 3. relay -------------------------------------------------------------------------------------
def relay(p: Profile) -> dict[str, Any]:
    """Drag moves A -> B: latency p50/p99 (one pair, in turn), then frames/s (all pairs)."""
    rows = []
    for subject in p.subjects:
        # The per-connection relay limit (60/s by default) is the product working as
        # designed; here it is lifted to measure the relay path itself.
        extra = ("--relay-rate=1000000",) if subject == "watercooler" else ()
        with start_subject(subject, log_dir=p.log_dir, extra=extra) as server:
            spec = {"port": server.port, "pairs": p.relay_pairs, "samples": p.relay_samples,
                    "seconds": p.relay_seconds, "window": 20, "secret": BENCH_SECRET,
                    "sprint_base": fresh_sprint()}
            profiler = (Profiler(server.pid, p.results / f"profile-relay-{subject}.txt")
                        if p.results is not None and p.name != "smoke"
                        and subject != "channels" else None)
            if profiler is not None:  # a window of its own: py-spy needs a core too
                spec["profile_seconds"] = min(3.0, p.relay_seconds)
            profiled: dict[str, Any] = {}

            def on_mark(name: str, profiler: Profiler | None = profiler,
                        profiled: dict[str, Any] = profiled) -> None:
                if profiler is not None and name == "profile_start":
                    profiler.start()
                if profiler is not None and name == "profile_end":
                    profiled.update(profiler.stop())

            (result,), s = _run([server], [LoadGen("relay", spec)], timeout=300,
                                on_mark=on_mark)
            if profiled:
                result["profile"] = profiled
            lat = s.cost("latency_start", "latency_end")
            tp = s.cost("throughput_start", "throughput_end")
            samples = result["latency"]["n"]
            result.update({
                "subject": subject,
                "latency_cpu_us_per_frame": lat["server_cpu_s"] / max(samples, 1) * 1e6,
                "throughput_server_cpu_pct": 100 * tp["server_cpu_s"] / tp["wall_s"],
                "throughput_loadgen_cpu_pct": 100 * tp["loadgen_cpu_s"] / tp["wall_s"],
                "throughput_cpu_us_per_frame":
                    tp["server_cpu_s"] / max(result["delivered_in_window"], 1) * 1e6,
            })
            rows.append(result)
            log.info("relay %s: p50 %.3f ms p99 %.3f ms, %.0f frames/s", subject,
                     result["latency"]["p50"] or -1, result["latency"]["p99"] or -1,
                     result["frames_s"])
    return {"rows": rows, "relay_rate_note": "watercooler ran with --relay-rate=1000000"}


# 4. end to end --------------------------------------------------------------------------------
class Django:
    """The board API under gunicorn on a temporary SQLite database, publishing to ``realtime``."""

    def __init__(self, workdir: Path, log_dir: Path) -> None:
        self.workdir = workdir
        self.log_dir = log_dir
        self.env = {"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
                    "SECRET_KEY": "bench-only", "DEBUG": "false",
                    "REALTIME_SECRET": BENCH_SECRET, "DJANGO_SETTINGS_MODULE": "api.settings"}
        self._sprints = 0

    def migrate(self) -> None:
        env = {**os.environ, **self.env}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT,
                       env=env, check=True, capture_output=True)
        subprocess.run([sys.executable, "manage.py", "shell", "-c",
                        "from django.contrib.auth import get_user_model;"
                        "get_user_model().objects.create_user('bench', password='bench-pass-9')"],
                       cwd=ROOT, env=env, check=True, capture_output=True)

    def start(self, realtime_port: int, *, shared_httpx: bool = False) -> Server:
        port = free_port()
        env = {**self.env, "REALTIME_URL": f"http://127.0.0.1:{realtime_port}",
               "REALTIME_PUBLIC_URL": f"ws://127.0.0.1:{realtime_port}"}
        if shared_httpx:  # bench/experiments/shared_httpx: one httpx.Client per process
            env["PYTHONPATH"] = os.pathsep.join(
                [str(ROOT / "bench" / "experiments" / "shared_httpx"), str(ROOT)])
        argv = [str(Path(sys.executable).parent / "gunicorn"), "api.wsgi:application",
                "-b", f"127.0.0.1:{port}", "-w", "1", "-k", "gthread", "--threads", "4",
                "--log-level", "warning"]
        return Server("django", argv, port, health="/admin/login/", env=env,
                      log_dir=self.log_dir).start()

    def call(self, server: Server, method: str, path: str, body: dict[str, Any] | None,
             token: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
            return answer

    def board(self, server: Server) -> dict[str, Any]:
        """A fresh sprint and task; the API token and a realtime ticket for the sprint."""
        token = self.call(server, "POST", "/api/token/",
                          {"username": "bench", "password": "bench-pass-9"})["token"]
        self._sprints += 1
        end = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400 * (30 + self._sprints)))
        sprint = self.call(server, "POST", "/api/sprints/",
                           {"name": "bench", "description": "", "end": end}, token)
        task = self.call(server, "POST", "/api/tasks/",
                         {"name": "bench task", "sprint": sprint["id"]}, token)
        ticket = self.call(server, "POST", f"/api/sprints/{sprint['id']}/realtime/", None, token)
        return {"api_token": token, "sprint": sprint["id"], "task": task["id"],
                "ws_token": ticket["token"]}


def e2e(p: Profile) -> dict[str, Any]:
    """REST PATCH -> Django commits, its outbox posts -> every one of 100 subscribers has it."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-django-") as tmp:
        django = Django(Path(tmp), p.log_dir)
        django.migrate()
        plan = [(s, False) for s in p.subjects] + [("watercooler", True)]
        for subject, shared in plan:
            with ExitStack() as stack:
                node = stack.enter_context(start_subject(subject, log_dir=p.log_dir))
                api = stack.enter_context(django.start(node.port, shared_httpx=shared))
                board = django.board(api)
                spec = {"port": node.port, "django_port": api.port, "subscribers": 100,
                        "patches": p.e2e_patches, **board}
                profiler = None
                if subject == "watercooler" and not shared and p.results is not None:
                    profiler = Profiler(api.pid, p.results / "profile-e2e-django.txt",
                                        subprocesses=True)

                def on_mark(name: str, profiler: Profiler | None = profiler) -> None:
                    if profiler is not None and name == "patch_start":
                        profiler.start()

                # CPU: the realtime node's only (Django's worker is gunicorn's child).
                (result,), s = _run([node], [LoadGen("e2e", spec)], timeout=600,
                                    on_mark=on_mark)
                if profiler is not None:
                    result["profile"] = profiler.stop()
                cost = s.cost("patch_start", "patch_end")
                result.update({"subject": subject, "shared_httpx": shared, **cost})
                rows.append(result)
                log.info("e2e %s: p50 %.2f ms p99 %.2f ms, lost %d", subject,
                         result["last"]["p50"] or -1, result["last"]["p99"] or -1,
                         result["lost_frames"])
    return {"rows": rows, "httpx_client_ms": _httpx_client_ms(),
            "django": "gunicorn 1 worker gthread x4, SQLite, outbox delivery thread (the "
                      "default)"}


def _httpx_client_ms(rounds: int = 5) -> float:
    """What building one ``httpx.Client`` costs here (``httpx.post`` builds one per call)."""
    import httpx

    start = time.perf_counter()
    for _ in range(rounds):
        httpx.Client().close()
    return (time.perf_counter() - start) / rounds * 1000


# 5. peer-to-peer offload ------------------------------------------------------------------
def p2p(p: Profile) -> dict[str, Any]:
    """10 aiortc peers dragging at 60 Hz: server frames and CPU, data channels vs websocket."""
    rows = []
    for webrtc in (True, False):
        with start_subject("watercooler", log_dir=p.log_dir) as server:
            spec = {"port": server.port, "sprint": fresh_sprint(), "peers": 10, "hz": 60,
                    "seconds": p.p2p_seconds, "webrtc": webrtc, "secret": BENCH_SECRET,
                    "mesh_limit": 10}
            names = ("watercooler_frames_in_total", "watercooler_frames_out_total",
                     "watercooler_relayed_total", "watercooler_relay_deliveries_total")
            counters: dict[str, dict[str, float]] = {}

            def sample(mark: str, names: tuple[str, ...] = names,
                       counters: dict[str, dict[str, float]] = counters,
                       server: Server = server) -> None:
                counters[mark] = {n: _metric(server, n) for n in names}

            (result,), s = _run([server], [LoadGen("p2p", spec)], timeout=300, on_mark=sample)
            cost = s.cost("drag_start", "drag_end")
            frames = {n.removeprefix("watercooler_").removesuffix("_total"):
                      counters["drag_end"][n] - counters["drag_start"][n] for n in names}
            result.update({**cost, "server_frames": frames,
                           "server_frames_per_move": (frames["frames_in"] + frames["frames_out"])
                           / max(result["moves_sent"], 1)})
            rows.append(result)
            log.info("p2p webrtc=%s: %d/%d pairs open, frames in %d out %d, cpu %.2f s",
                     webrtc, result["pairs_open"], result["pairs_total"], frames["frames_in"],
                     frames["frames_out"], cost["server_cpu_s"])
    return {"rows": rows, "note": "mesh_limit=10 so that every pair of the 10 peers may open "
                                  "a channel (the default mesh limit is 8)"}


# 6. scale-out ---------------------------------------------------------------------------------
REDIS_DB = 9


def scaleout(p: Profile) -> dict[str, Any]:
    """The fan-out workload on 1, 2, 3 nodes sharing Redis; subscribers spread evenly."""
    broker = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        start_subject("watercooler", broker=broker, log_dir=p.log_dir).stop()
    except RuntimeError as exc:
        return {"skipped": f"watercooler refused --broker {broker}: "
                           f"{str(exc).strip().splitlines()[-1][:300]}"}
    rows = []
    for subject in ("watercooler", "channels"):
        if subject not in p.subjects:
            continue
        for nodes in p.scaleout_nodes:
            with ExitStack() as stack:
                servers = [stack.enter_context(start_subject(subject, broker=broker,
                                                             log_dir=p.log_dir))
                           for _ in range(nodes)]
                events = p.scaleout_events if subject == "watercooler" else 10
                rates = p.scaleout_rates if subject == "watercooler" else ()
                row = _fanout_once(p, subject, servers, 1000, events, rates)
                row["nodes"] = nodes
                rows.append(row)
                c = row["closed"]
                log.info("scaleout %s nodes=%d: p50 %.2f ms, %.2f us/frame, lost %d", subject,
                         nodes, c["last"]["p50"] or -1, c["cpu_us_per_frame"],
                         row["lost_frames"])
    return {"rows": rows, "broker": broker, "subscribers": 1000}


WORKLOADS: dict[str, Callable[[Profile], dict[str, Any]]] = {
    "connections": connections, "fanout": fanout, "relay": relay, "e2e": e2e, "p2p": p2p,
    "scaleout": scaleout}

