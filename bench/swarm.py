"""A reconnect storm's clients and its Django: thousands of lean sprint clients that reconnect
as Watercooler's clients do, and a poster of authoritative events that retries as the outbox.

Shared by the storm test (``tests/integration/test_storm.py``) and the storm workload
(``bench/workloads/storm.py``). Each ``Member`` is one websocket client of one sprint that
keeps what a real client keeps: the last event ``seq`` it applied. It applies an event once,
in order: a duplicate (a seq it has) is counted and ignored, an event ahead of a gap waits
until the gap is filled and the client asks for what it missed (``resume``), and a
``resync`` stands for the REST refetch (the events up to its ``seq`` count as fetched). So
"every event delivered exactly once in effect" reads: every member's applied plus fetched
events are exactly 1 to the sprint's last seq.

Reconnects follow the clients' rule (docs/protocol.md §5): full jitter over 0.5 s doubling to
30 s, reset after a connection stayed up 10 s. Half the members read a 503's ``Retry-After``
and wait at least that long, as ``peer/`` does; the other half cannot see it, as a browser
cannot, and back off by the ordinary rule.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt
import orjson

from bench.wire import HandshakeRefused, HttpClient, WsClient
from signaling.backoff import backoff_delay, retry_after_delay

__all__ = ["EventPoster", "Member", "Swarm", "ticket"]

#: A connection that stayed up this long resets the backoff (the clients' rule).
STABLE_AFTER = 10.0
#: A member asks again for what it misses at most this often.
RESUME_EVERY = 1.0


def ticket(secret: str, sprint: int, user: int) -> str:
    """A realtime ticket as Django issues it (docs/protocol.md §1), valid for an hour."""
    now = int(time.time())
    return jwt.encode({"sub": str(user), "username": f"storm{user}", "sprint": sprint,
                       "aud": "watercooler", "iat": now, "exp": now + 3600}, secret,
                      algorithm="HS256")


@dataclass(slots=True)
class Member:
    """One client of one sprint, and what it has applied."""

    sprint: int
    path: str
    honours_retry_after: bool
    local_host: str | None = None
    ws: WsClient | None = None
    live: bool = False
    welcomed: bool = False
    last: int = 0  # the last seq applied (in order)
    ahead: set[int] = field(default_factory=set)  # seqs received past a gap
    applied: int = 0
    fetched: int = 0  # events taken from a resync's refetch
    duplicates: int = 0
    resumes: int = 0
    resyncs: int = 0
    connects: int = 0
    shed: int = 0
    failed: int = 0
    live_at: float = 0.0
    resumed_at: float = -RESUME_EVERY

    # frames ---------------------------------------------------------------------------------
    def on_frame(self, payload: bytes, now: float) -> None:
        kind = _type_of(payload)
        if kind == b"event":
            self._event(orjson.loads(payload)["seq"], now)
        elif kind == b"welcome":
            self._welcome(orjson.loads(payload).get("seq"), now)
        elif kind == b"resync":
            self._resync(orjson.loads(payload).get("seq"))

    def _welcome(self, latest: int | None, now: float) -> None:
        self.live, self.welcomed, self.live_at = True, True, now
        if latest is not None and latest > self.last:
            self._resume(now, force=True)

    def _event(self, seq: int, now: float) -> None:
        if seq <= self.last or seq in self.ahead:
            self.duplicates += 1
            return
        if seq != self.last + 1:
            self.ahead.add(seq)
            self._resume(now)
            return
        self.last = seq
        self.applied += 1
        self._drain()

    def _drain(self) -> None:
        while self.last + 1 in self.ahead:
            self.ahead.discard(self.last + 1)
            self.last += 1
            self.applied += 1

    def _resync(self, latest: int | None) -> None:
        """The REST refetch: the sprint as of ``latest`` (the events up to it, once)."""
        self.resyncs += 1
        if latest is not None and latest > self.last:
            self.fetched += latest - self.last - len([s for s in self.ahead if s <= latest])
            self.ahead = {s for s in self.ahead if s > latest}
            self.last = latest
            self._drain()

    def _resume(self, now: float, *, force: bool = False) -> None:
        if self.ws is None or (not force and now - self.resumed_at < RESUME_EVERY):
            return
        self.resumed_at = now
        self.resumes += 1
        self.ws.send(b'{"type":"resume","since":%d}' % self.last)

    def complete(self, final: int) -> bool:
        """Every event 1..``final`` applied or fetched, once (and nothing past it pending)."""
        return self.last >= final and self.applied + self.fetched == self.last


def _type_of(payload: bytes) -> bytes:
    """The ``type`` of a compact frame without decoding it (frames start with it)."""
    if payload.startswith(b'{"type":"'):
        end = payload.find(b'"', 9)
        return payload[9:end]
    return orjson.loads(payload).get("type", "").encode()


class Swarm:
    """``members`` clients of ``sprints`` on one node, reconnecting by the clients' rule."""

    def __init__(self, host: str, port: int, secret: str, sprints: list[int], per_sprint: int,
                 *, local_hosts: list[str] | None = None, first_user: int = 1) -> None:
        self.host, self.port = host, port
        self.members: list[Member] = []
        hosts = local_hosts or [None]  # type: ignore[list-item]
        n = 0
        for sprint in sprints:
            for _ in range(per_sprint):
                token = ticket(secret, sprint, first_user + n)
                self.members.append(Member(sprint, f"/{sprint}/?token={token}&protocol=2",
                                           honours_retry_after=n % 2 == 0,
                                           local_host=hosts[n % len(hosts)]))
                n += 1
        self.running = True
        self._tasks: list[asyncio.Task[None]] = []
        self.loop = asyncio.get_running_loop()

    def start(self, connecting: int = 200) -> None:
        """Start every member's connection loop, ``connecting`` handshakes at a time at first."""
        gate = asyncio.Semaphore(connecting)
        self._tasks = [asyncio.create_task(self._run(m, gate)) for m in self.members]

    def live(self) -> int:
        return sum(1 for m in self.members if m.live)

    async def until(self, cond: Callable[[], bool], timeout: float) -> bool:
        deadline = self.loop.time() + timeout
        while not cond():
            if self.loop.time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _run(self, m: Member, first: asyncio.Semaphore | None) -> None:
        attempt = 0
        while self.running:
            try:
                if first is not None:
                    async with first:
                        ws = await self._connect(m)
                else:
                    ws = await self._connect(m)
            except HandshakeRefused as exc:
                m.shed += exc.status == 503
                m.failed += 1
                if m.honours_retry_after and exc.retry_after is not None:
                    delay = retry_after_delay(exc.retry_after, attempt)
                else:
                    delay = backoff_delay(attempt)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            except (OSError, TimeoutError):
                m.failed += 1
                await asyncio.sleep(backoff_delay(attempt))
                attempt += 1
                continue
            first = None
            opened = self.loop.time()
            await ws.closed
            m.live, m.ws = False, None
            if not self.running:
                return
            if self.loop.time() - opened >= STABLE_AFTER and m.welcomed:
                attempt = 0
            m.welcomed = False
            await asyncio.sleep(backoff_delay(attempt))
            attempt += 1

    async def _connect(self, m: Member) -> WsClient:
        loop = self.loop

        def on_message(ws: WsClient, payload: bytes) -> None:
            m.on_frame(payload, loop.time())

        ws = await WsClient.connect(self.host, self.port, m.path, on_message, timeout=30.0,
                                    local_host=m.local_host)
        m.ws = ws
        m.connects += 1
        return ws

    async def stop(self) -> None:
        self.running = False
        for m in self.members:
            if m.ws is not None:
                m.ws.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class EventPoster:
    """Django's side: numbered events per sprint, each retried until the node has it.

    One event at a time, round robin over the sprints, at most ``rate`` a second; a POST
    that fails (node down) or is refused for a gap is retried after ``retry`` seconds, as
    the outbox does. ``last[sprint]`` is the sprint's latest seq the node accepted.
    """

    def __init__(self, host: str, port: int, secret: str, sprints: list[int]) -> None:
        self.host, self.port, self.secret = host, port, secret
        self.sprints = sprints
        self.last = dict.fromkeys(sprints, 0)
        self.failures = 0
        self.http = HttpClient(host, port)

    async def post_one(self, sprint: int, retry: float = 0.05) -> None:
        seq = self.last[sprint] + 1
        event = {"sprint": sprint, "seq": seq, "action": "updated", "model": "task", "id": seq,
                 "data": {"id": seq, "name": f"task {seq}", "sprint": sprint}}
        while True:  # each attempt signed anew, with a fresh nonce (a restart forgets them)
            body = json.dumps({"nonce": secrets.token_urlsafe(16), "events": [event]}).encode()
            ts = str(int(time.time()))
            digest = hmac.new(self.secret.encode(), ts.encode() + b"." + body,
                              hashlib.sha256).hexdigest()
            headers = {"Content-Type": "application/json", "X-Watercooler-Timestamp": ts,
                       "X-Watercooler-Signature": f"v1={digest}"}
            try:
                status, answer = await asyncio.wait_for(
                    self.http.request("POST", "/events/", body, headers), 5)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                await self.http.close()
                status, answer = 0, b""
            if status == 200:
                result = json.loads(answer)["results"][0]["status"]
                if result in ("accepted", "reset", "duplicate"):
                    self.last[sprint] = seq
                    return
            self.failures += 1
            await asyncio.sleep(retry)

    async def post(self, rate: float, until: Callable[[], bool]) -> int:
        """Post round robin at ``rate`` events/s until ``until()``; how many were posted."""
        posted = 0
        while not until():
            for sprint in self.sprints:
                if until():
                    break
                await self.post_one(sprint)
                posted += 1
                await asyncio.sleep(1.0 / rate)
        return posted

    async def close(self) -> None:
        await self.http.close()
