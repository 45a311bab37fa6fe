"""The ``python -m peer`` command line: watch a sprint, simulate a drag, move a task, a
swarm of users dragging and moving cards at once, or tail a sprint's events as JSON lines.

One function per role, as aiortc's datachannel-cli: `watch`, `drag_task`, `move_task`,
`swarm`, `peer.tail.tail`; `main` parses the arguments and runs one of them, closing every
peer in ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from peer.api import KEEP, ApiClient, ApiError, Conflict, Keep
from peer.client import Peer, Presence, ReceivedDrag, join
from peer.mesh import DEFAULT_MESH_LIMIT
from peer.moves import ColumnCheck, MoveTally, busiest_column, check_column, drag_and_drop
from peer.tail import EXIT_GONE, SOURCES, tail
from peer.websocket import SignalingError
from signaling.protocol import STATUSES

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)

DRAG_RATE = 60.0  # updates per second, as a pointer at display refresh rate
#: Exit status of ``move`` when the task changed since ``--if-match`` (nothing moved).
EXIT_CONFLICT = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m peer",
        description="A headless Watercooler client: joins a sprint over the realtime server, "
                    "opens WebRTC data channels to the other peers and sends/receives drag "
                    "state (relay through the websocket where no channel is open).")
    parser.add_argument("--api", default="http://127.0.0.1:8000",
                        help="base URL of the Django REST API (default: %(default)s)")
    parser.add_argument("--realtime", metavar="WS_BASE",
                        help="websocket base overriding the host of the ticket's URL, "
                             "e.g. ws://127.0.0.1:8080 (required with --ticket)")
    parser.add_argument("--username", default="demo",
                        help="API user to log in as (default: %(default)s)")
    parser.add_argument("--password", default="demo",
                        help="password of --username (default: %(default)s)")
    parser.add_argument("--token", help="API token to use instead of --username/--password")
    parser.add_argument("--ticket", help="a realtime ticket (JWT) to use as is; skips the REST "
                                         "API entirely (no board state, no refetch)")
    parser.add_argument("--sprint", type=int, default=1,
                        help="sprint id to join (default: %(default)s)")
    parser.add_argument("--no-webrtc", action="store_true",
                        help="websocket only: never open data channels, receive drags by "
                             "relay (what a browser without WebRTC does)")
    parser.add_argument("--mesh-limit", type=int, default=DEFAULT_MESH_LIMIT,
                        help="most data-channel connections to keep (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v: info, -vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do (each has its own --help)")

    watch = sub.add_parser("watch", help="print presence, drags (and their path) and events, "
                                         "one line each")
    watch.add_argument("--seconds", type=float,
                       help="stop after this many seconds (default: until Ctrl-C)")

    drag = sub.add_parser("drag", help="drag one task across the columns at 60 Hz")
    drag.add_argument("--task", type=int, required=True, help="id of the task to drag")
    drag.add_argument("--seconds", type=float, default=3.0,
                      help="how long the drag lasts (default: %(default)s)")
    drag.add_argument("--rate", type=float, default=DRAG_RATE,
                      help="move updates per second (default: %(default)s)")

    move = sub.add_parser(
        "move", help="move a task through the API's move operation (REST only, no realtime "
                     f"connection); exit status {EXIT_CONFLICT} if --if-match is stale")
    move.add_argument("task", type=int, help="id of the task to move")
    move.add_argument("--status", choices=STATUSES,
                      help="target column (default: the task's own)")
    where = move.add_mutually_exclusive_group()
    where.add_argument("--sprint", dest="to_sprint", type=int, metavar="N",
                       help="target sprint (default: the task's own)")
    where.add_argument("--backlog", action="store_true", help="move it to the backlog")
    slot = move.add_mutually_exclusive_group()
    slot.add_argument("--after", type=int, metavar="ID",
                      help="land directly below task ID of the target column (default: the "
                           "same place if the column is unchanged, else the bottom)")
    slot.add_argument("--top", action="store_true", help="land at the top of the column")
    move.add_argument("--if-match", type=int, metavar="V",
                      help="the version the move is decided on: if the task has changed "
                           "since, nothing moves (default: move whatever it is by then)")

    swarm = sub.add_parser("swarm", help="N simulated users dragging tasks and dropping them "
                                         "at random in one column at once, for load, demos "
                                         "and a consistency check")
    swarm.add_argument("--n", type=int, default=4, help="number of peers (default: %(default)s)")
    swarm.add_argument("--seconds", type=float, default=10.0,
                       help="how long to run (default: %(default)s)")
    swarm.add_argument("--rate", type=float, default=DRAG_RATE,
                       help="move updates per second per peer (default: %(default)s)")
    swarm.add_argument("--moves", type=int, default=5,
                       help="drag-and-drops per peer within --column, through the API with "
                            "If-Match; 0 only drags (default: %(default)s)")
    swarm.add_argument("--column", choices=STATUSES,
                       help="column the drops happen in (default: the fullest)")
    _add_tail(sub)
    return parser


def _add_tail(sub: Any) -> None:
    tail = sub.add_parser(
        "tail", help="print the sprint's events as JSON lines: the event log after --since, "
                     "then live (for scripts and jq); exit status "
                     f"{EXIT_GONE} if the log no longer reaches back to --since")
    tail.add_argument("sprint", type=int, metavar="SPRINT", help="sprint id")
    tail.add_argument("--since", type=int, metavar="SEQ",
                      help="print the events after this seq first, from the event log "
                           "(default: only what happens from now on)")
    tail.add_argument("--count", type=int, metavar="N", help="stop after N events")
    tail.add_argument("--seconds", type=float, help="stop after this many seconds "
                                                    "(default: until Ctrl-C)")
    tail.add_argument("--sse", action="store_const", dest="source", const="sse",
                      default="websocket", help="read the live events from the Server-Sent "
                      "Events stream instead of the websocket (read-only, not in presence)")


@dataclass
class Session:
    """What every command needs: a way to make connected peers of the sprint."""

    args: argparse.Namespace
    api: ApiClient | None = None

    async def client(self) -> ApiClient:
        """The REST client, logged in (once) with --token or --username/--password."""
        if self.api is None:
            self.api = ApiClient(self.args.api, token=self.args.token)
            if not self.args.token:
                await self.api.login(self.args.username, self.args.password)
        return self.api

    async def peer(self) -> Peer:
        options: dict[str, Any] = {"webrtc": not self.args.no_webrtc,
                                   "mesh_limit": self.args.mesh_limit}
        if self.args.ticket:
            base = self.args.realtime or "ws://127.0.0.1:8080"
            url = f"{base.rstrip('/')}/{self.args.sprint}/"
            return await Peer.connect(url, self.args.ticket, **options)
        return await join(await self.client(), self.args.sprint, realtime=self.args.realtime,
                          **options)

    async def aclose(self) -> None:
        if self.api is not None:
            await self.api.aclose()


def _stamp() -> str:
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"


def describe_drag(item: ReceivedDrag) -> str:
    d = item.drag
    who = (item.user or {}).get("username", "?")
    where = f" {d.status}[{d.index}]" if d.status is not None else ""
    pos = f" x={d.x:.2f} y={d.y:.2f}" if d.x is not None and d.y is not None else ""
    return f"drag {who} ({item.sender}) task {d.task} {d.phase}{where}{pos} via {item.via}"


def describe_event(frame: dict[str, Any]) -> str:
    if frame.get("type") == "resync":
        return f"resync latest={frame.get('latest')} (refetching)"
    data = frame.get("data") or {}
    name = f" {data.get('name')!r}" if isinstance(data, dict) and "name" in data else ""
    actor = frame.get("actor")
    who = f" by {actor.get('username')}" if isinstance(actor, dict) else ""
    return (f"event {frame.get('seq')} {frame.get('action')} {frame.get('model')} "
            f"{frame.get('id')}{name}{who}")


def describe_presence(item: Presence) -> str:
    return f"presence {item.kind} {item.peer.username} ({item.peer.peer})"


async def watch(session: Session, seconds: float | None) -> None:
    peer = await session.peer()
    try:
        print(f"{_stamp()} joined sprint {peer.sprint} as {peer.peer_id}; peers: "
              + (", ".join(f"{i.username} ({p})" for p, i in peer.peers.items()) or "none"),
              flush=True)
        peer.presence.on(lambda p: print(_stamp(), describe_presence(p), flush=True))
        peer.drags.on(lambda d: print(_stamp(), describe_drag(d), flush=True))
        peer.events.on(lambda e: print(_stamp(), describe_event(e), flush=True))
        last: frozenset[str] = frozenset()
        deadline = None if seconds is None else asyncio.get_running_loop().time() + seconds
        while deadline is None or asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            if peer.channel_peers() != last:
                last = peer.channel_peers()
                print(_stamp(), "channels open to:", ", ".join(sorted(last)) or "none",
                      flush=True)
    finally:
        await peer.close()


def drag_path(step: int, steps: int) -> tuple[str, float, float]:
    """Where a simulated pointer is at ``step`` of ``steps``: column, x, y."""
    x = min(1.0, step / max(1, steps))
    status = STATUSES[min(len(STATUSES) - 1, int(x * len(STATUSES)))]
    y = 0.5 + 0.3 * math.sin(x * math.pi * 2)
    return status, x, y


async def drag_once(peer: Peer, task: int, seconds: float, rate: float) -> int:
    """One start → moves at ``rate`` Hz for ``seconds`` → end. Returns the updates sent."""
    steps = max(1, int(seconds * rate))
    status, x, y = drag_path(0, steps)
    await peer.send_drag(task, "start", status=status, index=0, x=x, y=y)
    for step in range(1, steps + 1):
        await asyncio.sleep(1 / rate)
        status, x, y = drag_path(step, steps)
        await peer.send_drag(task, "move", status=status, index=0, x=x, y=y)
    await peer.send_drag(task, "end", status=status, index=0)
    return steps + 2


async def drag_task(session: Session, task: int, seconds: float, rate: float) -> None:
    peer = await session.peer()
    try:
        await asyncio.sleep(0.5)  # give the data channels a moment to open
        print(f"{_stamp()} {peer.peer_id}: dragging task {task}; channels to "
              f"{len(peer.channel_peers())} of {len(peer.peers)} peers", flush=True)
        sent = await drag_once(peer, task, seconds, rate)
        print(f"{_stamp()} {peer.peer_id}: sent {sent} updates", flush=True)
        await asyncio.sleep(0.2)  # let the last frames leave
    finally:
        await peer.close()


def _where(task: dict[str, Any]) -> str:
    sprint = task.get("sprint")
    place = "the backlog" if sprint is None else f"{task.get('status')} of sprint {sprint}"
    return f"{place} (rank {task.get('rank')}, version {task.get('version')})"


async def move_task(session: Session, args: argparse.Namespace) -> int:
    """``move``: one move request; prints where the task is now. Exit status 3 on 412."""
    api = await session.client()
    sprint: int | Keep | None = None if args.backlog else (
        args.to_sprint if args.to_sprint is not None else KEEP)
    after: int | Keep | None = None if args.top else (
        args.after if args.after is not None else KEEP)
    try:
        task = await api.move(args.task, status=args.status or KEEP, sprint=sprint,
                              after=after, if_match=args.if_match)
    except Conflict as exc:
        now = exc.current
        print(f"conflict: task {args.task} has changed since version {args.if_match}; "
              f"nothing moved. It is now version {now.get('version')}: {_where(now)}",
              file=sys.stderr)
        return EXIT_CONFLICT
    print(f"task {task.get('id')} {task.get('name')!r} is in {_where(task)}", flush=True)
    return 0


@dataclass
class SwarmOutcome:
    """What ``swarm`` saw: drag updates shown, the drops' tally, and the column check
    (None when there were no drops)."""

    shown: int
    tally: MoveTally
    check: ColumnCheck | None = None


async def swarm(session: Session, n: int, seconds: float, rate: float, *, moves: int = 0,
                column: str | None = None, seed: int | None = None) -> SwarmOutcome:
    """``n`` peers drag for ``seconds``; each first makes ``moves`` drag-and-drops at random
    within ``column`` (needs the REST API), then every board is checked against the server."""
    peers: list[Peer] = []
    received = [0]
    tally = MoveTally()
    rng = random.Random(seed)
    try:
        for _ in range(n):
            peer = await session.peer()
            peer.drags.on(lambda _d: received.__setitem__(0, received[0] + 1))
            peers.append(peer)
        tasks = sorted(peers[0].board.tasks) or list(range(1, n + 1))
        api = session.api if moves > 0 and not session.args.ticket else None
        status = column or busiest_column(peers[0].board.tasks)
        await asyncio.sleep(1.0)
        print(f"{_stamp()} swarm of {n}: channels "
              f"{sum(len(p.channel_peers()) for p in peers) // 2} pairs open", flush=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def user(i: int, peer: Peer) -> None:
            drops = 0
            while api is not None and status is not None and drops < moves:
                await drag_and_drop(peer, api, status, tally, rng=rng, rate=rate)
                drops += 1
            while loop.time() < deadline:
                await drag_once(peer, tasks[i % len(tasks)], min(2.0, seconds), rate)

        await asyncio.gather(*(user(i, p) for i, p in enumerate(peers)))
        await asyncio.sleep(0.5)
        print(f"{_stamp()} swarm done: {received[0]} drag updates shown across {n} peers",
              flush=True)
        outcome = SwarmOutcome(shown=received[0], tally=tally)
        if api is not None and status is not None and tally.drops:
            outcome.check = await check_column(peers, api, session.args.sprint, status)
            _print_moves(tally, outcome.check)
        elif moves > 0:
            print(f"{_stamp()} no drops: they need the REST API (not --ticket) and a column "
                  "with two cards or more", flush=True)
        return outcome
    finally:
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)


def _print_moves(tally: MoveTally, check: ColumnCheck) -> None:
    print(f"{_stamp()} drops in {check.status}: {tally.drops} made, {tally.moved} moved, "
          f"{tally.conflicts} conflicts (412: the card had moved since the drag began), "
          f"{tally.refused} refused (400)", flush=True)
    for error in tally.errors:
        print(f"  {error}", flush=True)
    verdict = "consistent" if check.consistent else "NOT consistent"
    print(f"{_stamp()} column {check.status} ({len(check.server)} cards): {check.agreeing}/"
          f"{check.peers} boards show the server's order, ranks "
          f"{'all distinct' if check.distinct_ranks else 'TIED'}: {verdict}", flush=True)


async def run(args: argparse.Namespace) -> int:
    session = Session(args)
    try:
        if args.command == "watch":
            await watch(session, args.seconds)
        elif args.command == "drag":
            await drag_task(session, args.task, args.seconds, args.rate)
        elif args.command == "move":
            return await move_task(session, args)
        elif args.command == "tail":
            if args.ticket:
                raise ApiError(None, "tail reads the event log: it needs the REST API "
                                     "(--token or --username/--password), not --ticket")
            return await tail(await session.client(), args.sprint, since=args.since,
                              realtime=args.realtime, count=args.count,
                              seconds=args.seconds, source=SOURCES[args.source])
        elif args.command == "swarm":
            outcome = await swarm(session, args.n, args.seconds, args.rate, moves=args.moves,
                                  column=args.column)
            return 0 if outcome.check is None or outcome.check.consistent else 1
        return 0
    finally:
        await session.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    except (ApiError, SignalingError, OSError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        for name, messages in getattr(exc, "fields", {}).items():
            print(f"  {name}: {' '.join(messages)}", file=sys.stderr)
        return 1
