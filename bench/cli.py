"""Command line: pick a profile and workloads, run them, write the report.

    python -m bench --quick            # a few minutes; results/quick/ (git-ignored)
    python -m bench --full             # about 20 minutes; results/ (committed)
    python -m bench --smoke            # seconds, for the test suite
    python -m bench --quick --only fanout,relay
    python -m bench --render bench/results    # the report again from results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.procs import ROOT, raise_nofile
from bench.profiles import PROFILES, Profile
from bench.report import write_report
from bench.workloads import (
    connections,
    drops,
    e2e,
    fanout,
    joins,
    p2p,
    rebalance,
    relay,
    scaleout,
    sse,
    storm,
)

__all__ = ["machine", "main"]

log = logging.getLogger("bench")
#: Every workload, in the order a run measures them.
WORKLOADS: dict[str, Callable[[Profile], dict[str, Any]]] = {
    "connections": connections.run, "fanout": fanout.run, "relay": relay.run, "e2e": e2e.run,
    "p2p": p2p.run, "scaleout": scaleout.run, "drops": drops.run, "rebalance": rebalance.run,
    "sse": sse.run, "joins": joins.run, "storm": storm.run}
#: What ``--smoke`` (tests/bench) runs: seconds each.
SMOKE = ("fanout", "relay", "connections", "drops", "rebalance")
RESULTS = ROOT / "bench" / "results"
PACKAGES = ("tornado", "websockets", "Django", "djangorestframework", "gunicorn", "channels",
            "daphne", "channels-redis", "Twisted", "aiortc", "redis", "matplotlib")


def machine() -> dict[str, Any]:
    """Where and with what the numbers were measured."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    redis = None
    try:
        out = subprocess.run(["redis-cli", "INFO", "server"], capture_output=True, text=True,
                             timeout=5).stdout
        redis = next((ln.split(":", 1)[1].strip() for ln in out.splitlines()
                      if ln.startswith("redis_version:")), None)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "kernel": platform.release(),
            "load_before": os.getloadavg(), "redis": redis, "git_commit": commit,
            "nofile": raise_nofile(), "versions": versions}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="profile", action="store_const", const="quick")
    mode.add_argument("--full", dest="profile", action="store_const", const="full")
    mode.add_argument("--smoke", dest="profile", action="store_const", const="smoke")
    parser.add_argument("--only", default="", help=f"comma list of {', '.join(WORKLOADS)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="results directory (default: results/ for --full, "
                             "results/<profile>/ otherwise)")
    parser.add_argument("--render", type=Path, default=None, metavar="DIR",
                        help="only rewrite DIR/REPORT.md and the plots from DIR/results.json")
    parser.add_argument("--note", action="append", default=[],
                        help="with --render: add a note to the report (kept in results.json)")
    return parser


def render(directory: Path, notes: list[str]) -> Path:
    """REPORT.md again from ``directory``/results.json, with ``notes`` added to it."""
    path = directory / "results.json"
    saved: dict[str, Any] = json.loads(path.read_text())
    if notes:
        saved["notes"] = [*saved.get("notes", []), *notes]
        path.write_text(json.dumps(saved, indent=1))
    return write_report(saved, directory)


def measure_all(profile: Profile, names: list[str]) -> dict[str, Any]:
    """Run the workloads ``names`` in order; a failing one is recorded, the others go on."""
    data: dict[str, Any] = {"profile": profile.name, "machine": machine(), "workloads": {}}
    started = time.monotonic()
    for name in names:
        log.info("workload %s (%s)", name, profile.name)
        t0 = time.monotonic()
        try:
            data["workloads"][name] = WORKLOADS[name](profile)
        except Exception as exc:
            log.error("workload %s failed: %s", name, exc)
            data["workloads"][name] = {"error": f"{type(exc).__name__}: {exc}",
                                       "traceback": traceback.format_exc()[-3000:]}
        data["workloads"][name]["duration_s"] = round(time.monotonic() - t0, 1)
    data["duration_s"] = round(time.monotonic() - started, 1)
    data["machine"]["load_after"] = os.getloadavg()
    return data


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.render is not None:
        print(render(args.render, args.note))
        return 0
    profile = PROFILES[args.profile or "quick"]
    names = [n for n in args.only.split(",") if n] or list(WORKLOADS)
    unknown = set(names) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    if profile.name == "smoke":
        names = [n for n in names if n in SMOKE]
    out = args.out or (RESULTS if profile.name == "full" else RESULTS / profile.name)
    profile = dataclasses.replace(profile, results=out)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bench: %(message)s")
    raise_nofile()
    data = measure_all(profile, names)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(data, indent=1))
    report = write_report(data, out)
    log.info("report: %s (%.0f s)", report, data["duration_s"])
    failed = [n for n, w in data["workloads"].items() if "error" in w]
    return 1 if failed else 0
