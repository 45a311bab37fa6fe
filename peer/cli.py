"""The ``python -m peer`` command line: watch a sprint, simulate a drag, move a task, a
swarm of users dragging and moving cards at once, or tail a sprint's events as JSON lines.

One function per role, as aiortc's datachannel-cli, one module per command group:
`peer.commands_watch.watch`, `peer.commands_drag` (`drag_task`, `swarm`),
`peer.commands_move.move_task`, `peer.tail.tail`, sharing a `peer.session.Session`. Here:
the parser, and `main`, which parses the arguments and runs one of them, closing the
session in ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from peer.api import ApiError
from peer.commands_drag import DRAG_RATE, drag_task, swarm
from peer.commands_move import EXIT_CONFLICT, move_task
from peer.commands_watch import watch
from peer.mesh import DEFAULT_MESH_LIMIT
from peer.session import Session
from peer.tail import EXIT_GONE, SOURCES, tail
from peer.websocket import SignalingError
from signaling.protocol import STATUSES

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


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
