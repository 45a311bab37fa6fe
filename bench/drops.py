"""Issue 11's workloads: what one drop costs the server and every subscriber, before and
after moves became one server operation, and how often the server rebalances ranks.

* ``drops``: live Django (gunicorn, SQLite) and a realtime node, 100 subscribers, a sprint
  with two columns of 20 cards; `bench.dropgen` makes each drop twice, the old client's
  1 + k PATCHes (replayed) and one move request, and times both until every subscriber
  has the drop's last event.
* ``rebalance``: `bench.rebalance` in its own process moves cards of a 20-card column at
  random through the services, and again always to the same place (the worst case for
  rank keys), and reads the board's rebalance counter (`api.board.ranks`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.procs import ROOT, LoadGen
from bench.subjects import start_subject
from bench.workloads import Django, Profile, _run

__all__ = ["DROP_WORKLOADS", "drops", "rebalance"]

log = logging.getLogger("bench")

#: The two columns the drops go between (both allow a started task; no date rule refuses).
COLUMNS = ("in_progress", "testing")
COLUMN_SIZE = 20
SUBSCRIBERS = 100


def _seed(django: Django, api: Any, board: dict[str, Any]) -> dict[str, Any]:
    """Two columns of ``COLUMN_SIZE`` cards in the board's sprint: ids in board order,
    and every card's version."""
    token, sprint = board["api_token"], board["sprint"]
    for status in COLUMNS:
        for n in range(COLUMN_SIZE):
            django.call(api, "POST", "/api/tasks/", {"name": f"{status} card {n}",
                                                     "sprint": sprint, "status": status},
                        token)
    tasks: list[dict[str, Any]] = []
    url: str | None = f"/api/tasks/?sprint={sprint}"
    while url:
        parts = urlsplit(url)  # `next` is absolute: keep its path and query
        page = django.call(api, "GET", f"{parts.path}?{parts.query}", None, token)
        tasks += page["results"]
        url = page["next"]
    columns = {s: [t["id"] for t in sorted((t for t in tasks if t["status"] == s),
                                            key=lambda t: (t["rank"], t["id"]))]
               for s in COLUMNS}
    return {"columns": columns, "versions": {t["id"]: t["version"] for t in tasks}}


def drops(p: Profile) -> dict[str, Any]:
    """A drop into a column of 20, the old way (replayed) and as one move, 100 subscribers."""
    if not p.drops:
        return {"skipped": "no drops in this profile"}
    with tempfile.TemporaryDirectory(prefix="bench-drops-") as tmp, ExitStack() as stack:
        django = Django(Path(tmp), p.log_dir)
        django.migrate()
        node = stack.enter_context(start_subject("watercooler", log_dir=p.log_dir))
        api = stack.enter_context(django.start(node.port))
        board = django.board(api)
        spec = {"port": node.port, "django_port": api.port, "subscribers": SUBSCRIBERS,
                "drops": p.drops, "seed": 11, **board, **_seed(django, api, board)}
        (result,), s = _run([node], [LoadGen("drops", spec)], timeout=900)
        result.update({"columns": list(COLUMNS), "column_size": COLUMN_SIZE,
                       "node_cpu_s": s.cost("drops_start", "drops_end")["server_cpu_s"]})
        for name, row in result["variants"].items():
            log.info("drops %s: %.1f requests, %.1f events per drop, settled p50 %.1f ms "
                     "p99 %.1f ms", name, row["requests_mean"], row["events_mean"],
                     row["settled"]["p50"] or -1, row["settled"]["p99"] or -1)
    result["django"] = "gunicorn 1 worker gthread x4, SQLite, outbox delivery thread"
    return result


def rebalance(p: Profile) -> dict[str, Any]:
    """Rank rebalances per move: random moves in a 20-card column, then the worst case."""
    if not p.rebalance_moves:
        return {"skipped": "no moves in this profile"}
    with tempfile.TemporaryDirectory(prefix="bench-rebalance-") as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'db.sqlite3'}",
               "SECRET_KEY": "bench-only", "DEBUG": "false",
               "DJANGO_SETTINGS_MODULE": "api.settings", "REALTIME_DELIVERY_THREAD": "false"}
        spec = {"moves": p.rebalance_moves, "column": COLUMN_SIZE, "seed": 11}
        run = subprocess.run([sys.executable, "-m", "bench.rebalance", json.dumps(spec)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if run.returncode != 0:
        raise RuntimeError(f"bench.rebalance failed: {run.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    for row in result["patterns"]:
        log.info("rebalance %s: %d moves, %d rebalances, %.2f events/move, longest rank %d",
                 row["pattern"], row["moves"], row["rebalances"], row["events_per_move"],
                 row["longest_rank"])
    return result


DROP_WORKLOADS = {"drops": drops, "rebalance": rebalance}
