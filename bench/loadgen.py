"""The load generator: ``python -m bench.loadgen <mode> '<json spec>'``, one process per run.

Modes: ``hold`` (idle connections), ``fanout`` (events to S subscribers: closed loop for
latency, then open loop at rising rates), ``relay`` (drag moves between websocket clients:
latency, then throughput), ``e2e`` (REST PATCH to Django until every subscriber has the
event), ``p2p`` (aiortc peers of ``peer/`` dragging at 60 Hz), ``drops`` (`bench.dropgen`:
a drop the old way and the new, until every subscriber has it). It prints ``MARK <name>`` and
waits for ``OK`` where the coordinator samples the servers, and ends with ``RESULT <json>``.
Times are ``time.monotonic()`` inside this process; every latency is measured here.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.wire import HttpClient, WsClient, seq_of
from tests.servers import make_token, sign

__all__ = ["main"]

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


def token_path(spec: dict[str, Any], sprint: int, user: int) -> str:
    token = spec.get("token") or make_token(user_id=user, username=f"u{user}", sprint=sprint,
                                            secret=spec["secret"], ttl=7200)
    return f"/{sprint}/?token={token}"


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


async def fanout(spec: dict[str, Any]) -> dict[str, Any]:
    """S subscribers of one sprint; events posted to ``post_port`` (default the same node)."""
    sprint, subs = spec["sprint"], spec["subscribers"]
    book = EventBook(subs)
    ports = spec.get("ports") or [spec["port"]]  # subscribers spread over the nodes
    clients: list[WsClient] = []
    connect_s = 0.0
    await mark("connect_start")
    for k, port in enumerate(ports):
        share = subs // len(ports) + (1 if k < subs % len(ports) else 0)
        got, secs, failed = await connect_many(
            {**spec, "port": port}, share, lambda i: token_path(spec, sprint, 1000 + i),
            book.on_message)
        if failed:
            raise SystemExit(f"{failed} subscribers could not connect")
        clients += got
        connect_s += secs
    await quiet(clients)  # every presence frame of the joins has arrived
    http = HttpClient("127.0.0.1", spec.get("post_port", ports[0]))
    seq = 0
    result: dict[str, Any] = {"subscribers": subs, "connect_s": connect_s}

    async def closed_loop(events: int) -> list[int]:
        """One event at a time, each once every subscriber has the previous one."""
        nonlocal seq
        seqs: list[int] = []
        misses = 0
        for _ in range(events):
            seq += 1
            book.complete[seq] = asyncio.get_running_loop().create_future()
            book.posted[seq] = now()
            await post_event(http, spec, sprint, seq)
            seqs.append(seq)
            try:
                await asyncio.wait_for(book.complete[seq], spec.get("event_timeout", 5.0))
                misses = 0
            except TimeoutError:
                log(f"seq {seq}: {book.count.get(seq, 0)}/{subs} after timeout")
                misses += 1
                if misses == 3:  # bounded in time: three in a row is an answer already
                    break
        return seqs

    await mark("closed_start")
    closed = await closed_loop(spec["events"])
    await mark("closed_end")
    last, first, missing = book.latencies(closed)
    result["closed"] = {"events": len(closed), "last": stats_ms(last), "first": stats_ms(first),
                        "missing": missing}

    result["rates"] = []
    for rate in spec.get("rates", []):
        seqs: list[int] = []
        await mark(f"rate_{rate}_start")
        start = now()
        interval = 1.0 / rate
        n = int(rate * spec["rate_seconds"])
        for i in range(n):
            delay = start + i * interval - now()
            if delay > 0:
                await asyncio.sleep(delay)
            seq += 1
            book.posted[seq] = start + i * interval  # scheduled: no coordinated omission
            await post_event(http, spec, sprint, seq)
            seqs.append(seq)
        sent_s = now() - start
        await wait_quiet(book, seqs, 3.0)
        took = max((book.last.get(s, start) for s in seqs), default=start) - start
        await mark(f"rate_{rate}_end")
        last, first, missing = book.latencies(seqs)
        delivered = sum(book.count.get(s, 0) for s in seqs)
        result["rates"].append({
            "offered": rate, "events": n, "send_s": sent_s, "took_s": took,
            "achieved_events_s": n / took if took > 0 else None,
            "frames_s": delivered / took if took > 0 else None,
            "last": stats_ms(last), "missing": missing})
        await asyncio.sleep(0.3)
    if spec.get("profile_events"):  # a phase of its own: py-spy needs a core too
        await mark("profile_start")
        await closed_loop(spec["profile_events"])
        await mark("profile_end")
    # Late is not lost: wait for every frame still on its way (or a 3 s stall).
    await wait_quiet(book, list(range(1, seq + 1)), 3.0)
    per_client = [book.per_client.get(id(c), 0) for c in clients]
    result["events_posted"] = seq
    result["lost_frames"] = seq * subs - sum(per_client)
    result["closed_clients"] = sum(1 for c in clients if c.closed.done())
    result["close_codes"] = sorted({c.close_code for c in clients if c.closed.done()} - {None})
    await http.close()
    await close_all(clients)
    return result


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


async def hold(spec: dict[str, Any]) -> dict[str, Any]:
    """``count`` idle connections in sprints of ``sprint_size``; held until told."""
    offset, size = spec.get("offset", 0), spec.get("sprint_size", 10)
    base = spec.get("sprint_base", 1)
    tokens: dict[int, str] = {}

    def path(i: int) -> str:
        sprint = base + (offset + i) // size
        if sprint not in tokens:
            tokens[sprint] = token_path(spec, sprint, offset + i)
        return tokens[sprint]

    clients, secs, failed = await connect_many(spec, spec["count"], path, None,
                                               spec.get("concurrency", 100))
    if spec.get("welcome"):  # joined, not just upgraded: every welcome has arrived
        deadline = now() + 120
        while any(c.frames == 0 for c in clients) and now() < deadline:
            await asyncio.sleep(0.05)
    await quiet(clients)  # and the presence frames of the last joins
    await mark("connected")
    await mark("idle_end")
    alive = sum(1 for c in clients if not c.closed.done())
    await close_all(clients)
    return {"count": spec["count"], "connected": len(clients), "failed": failed,
            "connect_s": secs, "alive_after_idle": alive}


async def relay(spec: dict[str, Any]) -> dict[str, Any]:
    """Pairs of clients in their own sprints; A sends drag moves, B receives them."""
    pairs = spec["pairs"]
    base = spec.get("sprint_base", 1)
    arrived: dict[int, dict[int, float]] = {p: {} for p in range(pairs)}
    received = [0] * pairs
    waiting: dict[tuple[int, int], asyncio.Future[None]] = {}

    def on_b(client: WsClient, payload: bytes) -> None:
        if not payload.startswith(b'{"type":"relay"'):
            return
        p = client.tag
        seq = seq_of(payload)
        arrived[p][seq] = now()
        received[p] += 1
        fut = waiting.pop((p, seq), None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    senders: list[WsClient] = []
    receivers: list[WsClient] = []
    for p in range(pairs):
        sprint = base + p
        a = await WsClient.connect("127.0.0.1", spec["port"], token_path(spec, sprint, 1))
        b = await WsClient.connect("127.0.0.1", spec["port"], token_path(spec, sprint, 2), on_b)
        b.tag = p
        senders.append(a)
        receivers.append(b)
    await asyncio.sleep(0.5)

    def move(seq: int) -> bytes:
        return json.dumps({"type": "relay", "data": {
            "type": "drag", "seq": seq, "task": 7, "phase": "move", "status": "testing",
            "index": 2, "x": round(0.41 + seq % 100 / 1000, 3), "y": 0.63}},
            separators=(",", ":")).encode()

    await mark("latency_start")
    sent_at: dict[int, float] = {}
    loop = asyncio.get_running_loop()
    for seq in range(1, spec["samples"] + 1):
        fut = loop.create_future()
        waiting[(0, seq)] = fut
        sent_at[seq] = now()
        senders[0].send(move(seq))
        try:
            await asyncio.wait_for(fut, 2.0)
        except TimeoutError:
            log(f"relay seq {seq} lost")
    await mark("latency_end")
    lat = [arrived[0][s] - sent_at[s] for s in sent_at if s in arrived[0]]
    result: dict[str, Any] = {"latency": stats_ms(lat), "latency_lost": len(sent_at) - len(lat)}

    window = spec.get("window", 20)
    sent = [0] * pairs
    next_seq = [spec["samples"] + 1] * pairs

    async def blast(seconds: float) -> tuple[float, int]:
        """Every sender keeps ``window`` moves in flight for ``seconds``: (elapsed, got)."""
        base = list(received)
        in_flight = [0] * pairs
        start = now()
        while now() - start < seconds:
            for p in range(pairs):
                while in_flight[p] - (received[p] - base[p]) < window:
                    senders[p].send(move(next_seq[p]))
                    next_seq[p] += 1
                    sent[p] += 1
                    in_flight[p] += 1
            await asyncio.sleep(0)
        return now() - start, sum(received) - sum(base)

    await mark("throughput_start")
    elapsed, got = await blast(spec["seconds"])
    await mark("throughput_end")
    if spec.get("profile_seconds"):
        await asyncio.sleep(0.5)
        await mark("profile_start")
        await blast(spec["profile_seconds"])
        await mark("profile_end")
    await asyncio.sleep(1.0)
    result.update({"pairs": pairs, "window": window, "seconds": elapsed,
                   "sent": sum(sent), "delivered_in_window": got, "frames_s": got / elapsed,
                   "delivered_total": sum(received)})
    await close_all(senders + receivers)
    return result


PATCH_MARK = b'"name":"bench patch '
_DIGITS = re.compile(rb"\d+")


async def e2e(spec: dict[str, Any]) -> dict[str, Any]:
    """PATCH a task over REST; time until all subscribers have the event."""
    subs = spec["subscribers"]
    arrivals: dict[int, list[float]] = {}  # PATCH number -> arrival times of its event
    done: dict[int, asyncio.Future[None]] = {}

    def on_event(client: WsClient, payload: bytes) -> None:
        # The event of PATCH k carries the task's new name, "bench patch k": matched by
        # that, not by order, since events of the board's setup may still be arriving.
        at = payload.find(PATCH_MARK) if payload.startswith(b'{"type":"event"') else -1
        if at < 0:
            return
        found = _DIGITS.match(payload, at + len(PATCH_MARK))
        if found is None:
            return
        k = int(found.group())
        times = arrivals.setdefault(k, [])
        times.append(now())
        fut = done.get(k)
        if len(times) == subs and fut is not None and not fut.done():
            fut.set_result(None)

    clients, _, failed = await connect_many(
        spec, subs, lambda i: f"/{spec['sprint']}/?token={spec['ws_token']}", on_event)
    if failed:
        raise SystemExit(f"{failed} subscribers could not connect")
    await asyncio.sleep(0.5)
    api = HttpClient("127.0.0.1", spec["django_port"])
    headers = {"Authorization": f"Token {spec['api_token']}",
               "Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    started: dict[int, float] = {}
    answered: list[float] = []
    await mark("patch_start")
    misses = 0
    for k in range(1, spec["patches"] + 1):
        done[k] = loop.create_future()
        body = json.dumps({"name": f"bench patch {k}"}).encode()
        started[k] = now()
        status, answer = await api.request("PATCH", f"/api/tasks/{spec['task']}/", body, headers)
        answered.append(now() - started[k])
        if status != 200:
            log(f"PATCH {k}: {status} {answer[:200]!r}")
        try:
            await asyncio.wait_for(done[k], 10.0)
            misses = 0
        except TimeoutError:
            log(f"patch {k}: {len(arrivals.get(k, []))}/{subs} subscribers after 10 s")
            misses += 1
            if misses == 3:  # bounded in time: three in a row is an answer already
                break
    await mark("patch_end")
    await asyncio.sleep(0.5)
    last = [max(arrivals[k]) - started[k] for k in started if len(arrivals.get(k, [])) == subs]
    first = [min(arrivals[k]) - started[k] for k in started if arrivals.get(k)]
    lost = sum(subs - len(arrivals.get(k, [])) for k in started)
    await api.close()
    await close_all(clients)
    return {"subscribers": subs, "patches": len(started), "last": stats_ms(last),
            "first": stats_ms(first), "rest_answer": stats_ms(answered), "lost_frames": lost}


async def p2p(spec: dict[str, Any]) -> dict[str, Any]:
    """``peers`` aiortc peers of ``peer/`` in one sprint, each dragging at ``hz``."""
    import logging

    from peer.client import Peer

    logging.getLogger("aioice").setLevel(logging.ERROR)
    n = spec["peers"]
    url = f"ws://127.0.0.1:{spec['port']}/{spec['sprint']}/"
    peers: list[Peer] = []
    for i in range(n):
        token = make_token(user_id=i + 1, username=f"p{i}", sprint=spec["sprint"],
                           secret=spec["secret"], ttl=7200)
        peers.append(await Peer.connect(url, token, webrtc=spec["webrtc"],
                                        mesh_limit=spec.get("mesh_limit", n),
                                        negotiation_timeout=20.0))
    received = {"datachannel": 0, "relay": 0}

    def count(r: Any) -> None:
        received[r.via] += 1

    for p in peers:
        p.drags.on(count)
    mesh_s = 0.0
    if spec["webrtc"]:
        start = now()
        while now() - start < spec.get("mesh_timeout", 60):
            if all(len(p.channel_peers()) == n - 1 for p in peers):
                break
            await asyncio.sleep(0.1)
        mesh_s = now() - start
    pairs_open = sum(len(p.channel_peers()) for p in peers) // 2
    await asyncio.sleep(0.5)
    await mark("drag_start")
    sent = 0
    start = now()
    ticks = int(spec["hz"] * spec["seconds"])

    async def drag(k: int, peer: Peer) -> None:
        nonlocal sent
        task = 100 + k
        await peer.send_drag(task, "start", status="not_started", index=0, x=0.1, y=0.1)
        for i in range(ticks):
            delay = start + (i + 1) / spec["hz"] - now()
            if delay > 0:
                await asyncio.sleep(delay)
            await peer.send_drag(task, "move", status="in_progress", index=1,
                                 x=(i % 100) / 100, y=0.5)
            sent += 1
        await peer.send_drag(task, "end", status="testing", index=2)

    await asyncio.gather(*(drag(k, p) for k, p in enumerate(peers)))
    elapsed = now() - start
    await asyncio.sleep(1.0)
    await mark("drag_end")
    result = {"peers": n, "webrtc": spec["webrtc"], "pairs_open": pairs_open,
              "pairs_total": n * (n - 1) // 2, "mesh_s": mesh_s, "moves_sent": sent,
              "drag_s": elapsed, "received": received}
    await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
    return result


MODES: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "fanout": fanout, "hold": hold, "relay": relay, "e2e": e2e, "p2p": p2p}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    mode, spec = args[0], json.loads(args[1])
    try:  # the load generator must cost far less per frame than the servers it measures
        import uvloop
        runner: Callable[..., Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    if mode == "drops":  # issue 11's drops live in their own module, which imports this one
        from bench.dropgen import drops
        result = runner(drops(spec))
    else:
        result = runner(MODES[mode](spec))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
