"""Issue 11's ``drops`` workload: what one drop costs the server and every subscriber, before
and after moves became one server operation.

Live Django (gunicorn, SQLite, `bench.api_server`) and one realtime node, 100 subscribers, a
sprint with two columns of 20 cards. Each drop is made twice against them:

* **before**, the old board's way, replayed: ``web/board-model.js`` (until issue 11) sent
  one PATCH for the dragged card, then one PATCH per card of the target column whose
  ``order`` it renumbered (`OldOrders` below is that algorithm, ported line for line).
  ``order`` no longer exists, so the replay PATCHes each card's ``description`` instead:
  the same number of requests, transactions and events, which is what the old drop cost
  the server and every subscriber. The card itself does not move in this phase.
* **after**: one ``POST /api/tasks/<id>/move/`` with ``after`` and ``If-Match``.

For each, the events the drop produced (the sprint's ``seq`` before and after) and the time
from the first request sent until every subscriber has the drop's last event. Load generator
mode ``drops``; the first part of the report's section 8 (`bench.workloads.rebalance` is the
second).
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.api_server import Django
from bench.harness import log, measure
from bench.loadgen import EventBook, close_all, connect_subscribers, mark, now, stats_ms
from bench.loadgen import log as say
from bench.procs import LoadGen, Server
from bench.profiles import Profile
from bench.subjects import start_subject
from bench.tables import DASH, X, fmt, table
from bench.wire import HttpClient

__all__ = ["OldOrders", "generate", "run", "section"]

#: The two columns the drops go between (both allow a started task; no date rule refuses).
COLUMNS = ("in_progress", "testing")
COLUMN_SIZE = 20
SUBSCRIBERS = 100
#: Connections a browser opens to one host (HTTP/1.1): the old client's parallel PATCHes.
BROWSER_CONNECTIONS = 6
#: Seqs watched ahead of a drop: more than 1 + k + a rebalance of a 21-card column.
SEQ_WINDOW = 64


# --- coordinator ------------------------------------------------------------------------


def _seed(django: Django, api: Server, board: dict[str, Any]) -> dict[str, Any]:
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


def run(p: Profile) -> dict[str, Any]:
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
        (result,), s = measure([node], [LoadGen("drops", spec)], timeout=900)
        result.update({"columns": list(COLUMNS), "column_size": COLUMN_SIZE,
                       "node_cpu_s": s.cost("drops_start", "drops_end")["server_cpu_s"]})
        for name, row in result["variants"].items():
            log.info("drops %s: %.1f requests, %.1f events per drop, settled p50 %.1f ms "
                     "p99 %.1f ms", name, row["requests_mean"], row["events_mean"],
                     row["settled"]["p50"] or -1, row["settled"]["p99"] or -1)
    result["django"] = "gunicorn 1 worker gthread x4, SQLite, outbox delivery thread"
    return result


# --- load generator (mode ``drops``) -------------------------------------------------------


class OldOrders:
    """The ``order`` bookkeeping of the board before issue 11 (``renumber`` in
    ``web/board-model.js``): after a drop at ``index``, every other card of the target
    column whose ``order`` differs from its new position is PATCHed to it."""

    def __init__(self, columns: dict[str, list[int]]) -> None:
        self.order = {task: pos for column in columns.values() for pos, task in enumerate(column)}

    def drop(self, column: list[int], task: int, index: int) -> list[int]:
        """The cards the old client PATCHed besides ``task`` (``column`` in board order)."""
        ids = [t for t in column if t != task]
        ids.insert(min(max(index, 0), len(ids)), task)
        changed = [t for pos, t in enumerate(ids) if t != task and self.order[t] != pos]
        for pos, t in enumerate(ids):
            self.order[t] = pos
        return changed


class Board:
    """The REST calls of one drop, over a browser's worth of keep-alive connections."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.pool = [HttpClient("127.0.0.1", spec["django_port"])
                     for _ in range(BROWSER_CONNECTIONS)]
        # A connection carries one request at a time: a request waits for a free one.
        self.free: asyncio.Queue[HttpClient] = asyncio.Queue()
        for client in self.pool:
            self.free.put_nowait(client)
        self.headers = {"Authorization": f"Token {spec['api_token']}",
                        "Content-Type": "application/json"}
        self.versions = {int(task): v for task, v in spec["versions"].items()}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                   if_match: int | None = None) -> dict[str, Any]:
        headers = dict(self.headers)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        data = json.dumps(body).encode() if body is not None else b""
        client = await self.free.get()
        try:
            status, answer = await client.request(method, path, data, headers)
        finally:
            self.free.put_nowait(client)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")
        result: dict[str, Any] = json.loads(answer)
        if isinstance(result.get("version"), int) and isinstance(result.get("id"), int):
            self.versions[result["id"]] = result["version"]
        return result

    async def seq(self) -> int:
        return int((await self.call("GET", f"/api/sprints/{self.spec['sprint']}/"))["seq"])

    async def close(self) -> None:
        for client in self.pool:
            await client.close()


async def _settled(book: EventBook, first: int, last: int, started: float) -> dict[str, Any]:
    """Wait until every subscriber has every seq in (first, last]: ``ms`` since ``started``
    (None if some never arrived within 30 s) and the frames ``missing`` then."""
    seqs = range(first + 1, last + 1)
    try:
        await asyncio.wait_for(asyncio.gather(*(book.complete[s] for s in seqs)), 30.0)
    except TimeoutError:
        missing = sum(book.subscribers - book.count.get(s, 0) for s in seqs)
        say(f"seqs {first + 1}..{last}: {missing} frames missing after 30 s")
        return {"ms": None, "missing": missing}
    return {"ms": (max(book.last[s] for s in seqs) - started) * 1000, "missing": 0}


def _watch(book: EventBook, after: int) -> None:
    loop = asyncio.get_running_loop()
    for s in range(after + 1, after + SEQ_WINDOW + 1):
        if s not in book.complete:
            book.complete[s] = loop.create_future()


async def _old_drop(board: Board, book: EventBook, task: int, others: list[int], n: int
                    ) -> dict[str, Any]:
    """The old client's requests: the dragged card's PATCH, then the others' in parallel."""
    seq0 = await board.seq()
    _watch(book, seq0)
    started = now()
    await board.call("PATCH", f"/api/tasks/{task}/", {"description": f"old drop {n}"})
    await asyncio.gather(*(board.call("PATCH", f"/api/tasks/{t}/",
                                      {"description": f"old drop {n}"}) for t in others))
    answered = now() - started
    seq1 = await board.seq()
    return {"requests": 1 + len(others), "events": seq1 - seq0, "answered": answered,
            **await _settled(book, seq0, seq1, started)}


async def _move(board: Board, book: EventBook, task: int, status: str, after: int | None
                ) -> dict[str, Any]:
    seq0 = await board.seq()
    _watch(book, seq0)
    started = now()
    await board.call("POST", f"/api/tasks/{task}/move/",
                     {"status": status, "sprint": board.spec["sprint"], "after": after},
                     if_match=board.versions[task])
    answered = now() - started
    seq1 = await board.seq()
    return {"requests": 1, "events": seq1 - seq0, "answered": answered,
            **await _settled(book, seq0, seq1, started)}


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """``drops`` drops, alternately from one column into the other (both start with 20)."""
    subs = spec["subscribers"]
    book = EventBook(subs)
    clients = await connect_subscribers(spec, subs, book.on_message)
    board = Board(spec)
    columns = {name: list(ids) for name, ids in spec["columns"].items()}
    names = list(columns)
    old = OldOrders(columns)
    rng = random.Random(spec.get("seed", 11))
    rows: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    await asyncio.sleep(0.5)
    await mark("drops_start")
    for n in range(spec["drops"]):
        source, target = names[n % 2], names[1 - n % 2]
        task = rng.choice(columns[source])
        index = rng.randrange(len(columns[target]) + 1)
        rows["before"].append(await _old_drop(board, book, task,
                                              old.drop(columns[target], task, index), n))
        after = columns[target][index - 1] if index else None
        rows["after"].append(await _move(board, book, task, target, after))
        columns[source].remove(task)
        columns[target].insert(index, task)
        rows["after"][-1]["column"] = len(columns[target])
    await mark("drops_end")
    await board.close()
    await close_all(clients)
    return {"subscribers": subs, "drops": spec["drops"],
            "variants": {name: _summary(r) for name, r in rows.items()},
            "column_sizes": sorted({r["column"] for r in rows["after"]})}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    events = [r["events"] for r in rows]
    return {"requests_mean": sum(r["requests"] for r in rows) / max(len(rows), 1),
            "events_mean": sum(events) / max(len(events), 1), "events_max": max(events, default=0),
            "events_min": min(events, default=0), "lost_frames": sum(r["missing"] for r in rows),
            "settled": stats_ms([r["ms"] / 1000 for r in rows if r["ms"] is not None]),
            "answered": stats_ms([r["answered"] for r in rows])}


# --- report -----------------------------------------------------------------------------


def section(w: dict[str, Any]) -> list[str]:
    """``### A drop into a column of 20``, from the workload's own results."""
    before, after = w["variants"]["before"], w["variants"]["after"]
    subs = w["subscribers"]
    out = ["### A drop into a column of 20", "",
           f"{w['drops']} drops of a card into a column of {w['column_size']} (alternately "
           f"between {' and '.join(w['columns'])}; the target column held "
           f"{', '.join(map(str, w['column_sizes']))} cards after each drop), {subs} "
           "websocket subscribers of the sprint, live Django (" + w.get("django", "") + ") and "
           "one realtime node. Each drop is made twice in a row, so both rows share the "
           "machine's minute:", "",
           "* **before** replays the old client (`web/board-model.js` until issue 11): one "
           "PATCH for the dragged card, then one PATCH per card whose `order` its `renumber` "
           "changed, k of them, 6 at a time as a browser's connections allow. `order` no "
           "longer exists, so the replay PATCHes `description` instead; k is computed by "
           "the old algorithm (ported in `bench/workloads/drops.py`) on the same drops. The "
           "requests, transactions and events are the old drop's; what each PATCH wrote is "
           "not, and the card does not move in this row.",
           "* **after** is one `POST /api/tasks/<id>/move/` with `after` and `If-Match`.", "",
           "*Until all have it*: from the first request sent until every subscriber has the "
           "drop's last event (the board is the same everywhere). *Answered*: until the "
           "dropping client has the answer to its last request.", ""]
    head = ["drop", "requests / drop", f"events / drop (min{DASH}max)",
            f"frames fanned out / drop ({subs} subscribers)", "answered p50 ms",
            "until all have it p50 ms", "p99 ms", "lost frames"]
    rows = []
    for name, v in (("before (old client, replayed)", before), ("after (one move)", after)):
        rows.append([name, fmt(v["requests_mean"]),
                     f"{fmt(v['events_mean'])} ({v['events_min']}{DASH}{v['events_max']})",
                     fmt(v["events_mean"] * subs, 0), fmt(v["answered"]["p50"]),
                     fmt(v["settled"]["p50"]),
                     fmt(v["settled"]["p99"]), fmt(v["lost_frames"])])
    out += table(head, rows)
    ratio = before["events_mean"] / after["events_mean"] if after["events_mean"] else None
    faster = (before["settled"]["p50"] / after["settled"]["p50"]
              if before["settled"]["p50"] and after["settled"]["p50"] else None)
    out += [f"One drop now fans out {fmt(ratio)}{X} fewer events, and every board shows it "
                f"{fmt(faster)}{X} sooner (p50). An event count above 1 after the change is a "
                "rebalance in that drop (the column's other cards get new ranks, one event "
                "each).", ""]
    return out
