"""``python -m peer move``: one move request through the REST API (no realtime
connection); prints where the task is now, or exits with `EXIT_CONFLICT` if the task
changed since ``--if-match``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from peer.api import KEEP, Conflict, Keep
from peer.session import Session

__all__ = ["EXIT_CONFLICT", "move_task"]

#: Exit status of ``move`` when the task changed since ``--if-match`` (nothing moved).
EXIT_CONFLICT = 3


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
