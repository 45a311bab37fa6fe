"""The load generator: ``python -m bench.loadgen <mode> '<json spec>'``, one process per run,
and what its modes share (connecting many clients, counting event frames, posting events).

Each mode lives with its workload (``generate`` in ``bench/workloads/<name>.py``): ``hold``
(connections), ``fanout``, ``relay``, ``e2e``, ``p2p``, ``drops``, ``sse``. A mode prints
``MARK <name>`` and waits for ``OK`` where the coordinator samples the servers, and the
process ends with ``RESULT <json>``. Times are ``time.monotonic()`` inside this process;
every latency is measured here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.wire import HttpClient, WsClient, seq_of
from tests.servers import make_token, sign

__all__ = ["MODES", "EventBook", "close_all", "connect_many",
           "connect_subscribers", "log", "main", "mark", "now",
           "post_event", "quiet", "stats_ms", "token_path", "wait_quiet"]

now = time.monotonic

#: A task as the REST API represents it: the ``data`` of every benchmark event (~400 bytes).
TASK_DATA = {
    "id": 12, "name": "Write the deployment docs", "description": "Operations guide: "
    "nodes, Redis, TURN, nginx, and what to watch on the metrics page.", "sprint": 7,
    "status": "in_progress", "rank": "a2", "version": 4, "assigned": 3, "started": "2026-11-20",
    "due": "2026-11-27", "completed": None, "links": {
        "self": "http://127.0.0.1:8000/api/tasks/12/",
        "sprint": "http://127.0.0.1:8000/api/sprints/7/",
        "assigned": "http://127.0.0.1:8000/api/users/ana/"}}


async def mark(name: str) -> None:
    """Tell the coordinator where we are and wait until it has sampled the servers."""
    print(f"MARK {name}", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip() != "OK":
        raise SystemExit(f"coordinator said {line!r} at {name}")


def log(msg: str) -> None:
    print(msg, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def stats_ms(values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50": pct(ms, 50), "p90": pct(ms, 90), "p99": pct(ms, 99),
            "max": max(ms) if ms else None}


async def connect_many(spec: dict[str, Any], count: int, path_of: Callable[[int], str],
                       on_message: Callable[[WsClient, bytes], None] | None,
                       concurrency: int = 100) -> tuple[list[WsClient], float, int]:
    """Open ``count`` websockets, ``concurrency`` handshakes at a time; (clients, s, failed)."""
    host, port = spec.get("host", "127.0.0.1"), spec["port"]
    clients: list[WsClient] = []
    failed = 0
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        nonlocal failed
        async with sem:
            for attempt in range(3):
                try:
                    clients.append(await WsClient.connect(host, port, path_of(i), on_message))
                    return
                except (OSError, TimeoutError) as exc:
                    if attempt == 2:
                        failed += 1
                        log(f"connect {i} failed: {exc!r}")
                    await asyncio.sleep(0.2)

    start = now()
    await asyncio.gather(*(one(i) for i in range(count)))
    return clients, now() - start, failed


async def connect_subscribers(spec: dict[str, Any], count: int,
                              on_message: Callable[[WsClient, bytes], None]) -> list[WsClient]:
    """``count`` subscribers of ``spec["sprint"]`` on the ticket ``spec["ws_token"]``
    (one that Django issued); exits if any cannot connect."""
    clients, _, failed = await connect_many(
        spec, count, lambda i: f"/{spec['sprint']}/?token={spec['ws_token']}&protocol=2",
        on_message)
    if failed:
        raise SystemExit(f"{failed} subscribers could not connect")
    return clients


def token_path(spec: dict[str, Any], sprint: int, user: int) -> str:
    token = spec.get("token") or make_token(user_id=user, username=f"u{user}", sprint=sprint,
                                            secret=spec["secret"], ttl=7200)
    return f"/{sprint}/?token={token}&protocol=2"


class EventBook:
    """Arrivals of event frames by seq: when posted, how many subscribers have it, when."""

    def __init__(self, subscribers: int) -> None:
        self.subscribers = subscribers
        self.posted: dict[int, float] = {}
        self.count: dict[int, int] = {}
        self.last: dict[int, float] = {}
        self.first: dict[int, float] = {}
        self.per_client: dict[int, int] = {}
        self.complete: dict[int, asyncio.Future[None]] = {}

    def on_message(self, client: WsClient, payload: bytes) -> None:
        if not payload.startswith(b'{"type":"event"'):
            return
        seq = seq_of(payload)
        t = now()
        n = self.count.get(seq, 0) + 1
        self.count[seq] = n
        self.last[seq] = t
        if n == 1:
            self.first[seq] = t
        key = id(client)
        self.per_client[key] = self.per_client.get(key, 0) + 1
        if n == self.subscribers:
            done = self.complete.get(seq)
            if done is not None and not done.done():
                done.set_result(None)

    def latencies(self, seqs: list[int]) -> tuple[list[float], list[float], int]:
        """(to last subscriber, to first subscriber, frames missing) over ``seqs``."""
        last = [self.last[s] - self.posted[s] for s in seqs
                if self.count.get(s, 0) == self.subscribers]
        first = [self.first[s] - self.posted[s] for s in seqs if s in self.first]
        missing = sum(self.subscribers - self.count.get(s, 0) for s in seqs)
        return last, first, missing


def event_body(sprint: int, seq: int) -> bytes:
    event = {"sprint": sprint, "seq": seq, "action": "updated", "model": "task", "id": 12,
             "data": TASK_DATA}
    # A nonce per request (docs/protocol.md §7), as Django's publisher sends it.
    return json.dumps({"nonce": secrets.token_urlsafe(18), "events": [event]},
                      separators=(",", ":")).encode()


async def post_event(http: HttpClient, spec: dict[str, Any], sprint: int, seq: int) -> None:
    body = event_body(sprint, seq)
    status, answer = await http.request("POST", "/events/", body,
                                        sign(body, secret=spec["secret"]))
    if status != 200:
        log(f"POST /events/ seq {seq}: {status} {answer[:200]!r}")


async def wait_quiet(book: EventBook, seqs: list[int], timeout: float) -> None:
    """Until every subscriber has every seq, or nothing has arrived for ``timeout`` s."""
    total = len(seqs) * book.subscribers
    seen, since = -1, now()
    while True:
        have = sum(book.count.get(s, 0) for s in seqs)
        if have >= total:
            return
        if have != seen:
            seen, since = have, now()
        elif now() - since > timeout:
            return
        await asyncio.sleep(0.01)


async def quiet(clients: list[WsClient], still: float = 0.5, limit: float = 600.0) -> None:
    """Until no frame has arrived for ``still`` seconds (or ``limit`` passed)."""
    seen, since, start = -1, now(), now()
    while now() - start < limit:
        total = sum(c.frames for c in clients)
        if total != seen:
            seen, since = total, now()
        elif now() - since >= still:
            return
        await asyncio.sleep(0.05)


async def close_all(clients: list[WsClient]) -> None:
    for c in clients:
        c.abort()
    await asyncio.sleep(0.2)


#: Load generator mode -> the workload module whose ``generate`` it runs.
MODES = {"hold": "connections", "fanout": "fanout", "relay": "relay", "e2e": "e2e",
         "p2p": "p2p", "drops": "drops", "sse": "sse", "storm": "storm"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    mode, spec = args[0], json.loads(args[1])
    # Imported here: the workload modules import this one for the helpers above.
    module = importlib.import_module(f"bench.workloads.{MODES[mode]}")
    generate: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] = module.generate
    try:  # the load generator must cost far less per frame than the servers it measures
        import uvloop
        runner: Callable[..., Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(generate(spec))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
