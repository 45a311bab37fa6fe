"""Load generator mode ``drops`` (issue 11): drops of a card into a column of about 20, each
made twice against the same live Django and realtime node, with 100 subscribers watching.

* **before**, the old board's way, replayed: ``web/board-model.js`` (until issue 11) sent
  one PATCH for the dragged card, then one PATCH per card of the target column whose
  ``order`` it renumbered (`OldOrders` below is that algorithm, ported line for line).
  ``order`` no longer exists, so the replay PATCHes each card's ``description`` instead:
  the same number of requests, transactions and events, which is what the old drop cost
  the server and every subscriber. The card itself does not move in this phase.
* **after**: one ``POST /api/tasks/<id>/move/`` with ``after`` and ``If-Match``.

For each, the events the drop produced (the sprint's ``seq`` before and after) and the time
from the first request sent until every subscriber has the drop's last event.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from bench.loadgen import EventBook, close_all, connect_many, log, mark, now, stats_ms
from bench.wire import HttpClient

__all__ = ["OldOrders", "drops"]

#: Connections a browser opens to one host (HTTP/1.1): the old client's parallel PATCHes.
BROWSER_CONNECTIONS = 6
#: Seqs watched ahead of a drop: more than 1 + k + a rebalance of a 21-card column.
SEQ_WINDOW = 64


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
        log(f"seqs {first + 1}..{last}: {missing} frames missing after 30 s")
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


async def drops(spec: dict[str, Any]) -> dict[str, Any]:
    """``drops`` drops, alternately from one column into the other (both start with 20)."""
    subs = spec["subscribers"]
    book = EventBook(subs)
    clients, _, failed = await connect_many(
        spec, subs, lambda i: f"/{spec['sprint']}/?token={spec['ws_token']}", book.on_message)
    if failed:
        raise SystemExit(f"{failed} subscribers could not connect")
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
