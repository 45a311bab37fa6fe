"""`python -m peer`: the parser explains every flag; the drag path covers the columns."""

from __future__ import annotations

import subprocess
import sys

import pytest

from peer.cli import build_parser
from peer.commands_drag import drag_path
from peer.commands_watch import describe_event
from signaling.protocol import STATUSES
from tests.servers import ROOT


def test_help_explains_every_flag() -> None:
    out = subprocess.run([sys.executable, "-m", "peer", "--help"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    for flag in ("--api", "--realtime", "--username", "--password", "--token", "--sprint",
                 "--no-webrtc", "--mesh-limit", "--verbose", "watch", "drag", "swarm"):
        assert flag in out
    for action in build_parser()._actions:
        assert action.help, action.dest


def test_subcommand_flags() -> None:
    args = build_parser().parse_args(["--sprint", "3", "--no-webrtc", "drag", "--task", "9"])
    assert (args.sprint, args.no_webrtc, args.command, args.task, args.seconds) == (
        3, True, "drag", 9, 3.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["drag"])  # --task is required


def test_drag_path_crosses_every_column_within_the_board() -> None:
    points = [drag_path(i, 60) for i in range(61)]
    assert points[0][0] == STATUSES[0] and points[-1][0] == STATUSES[-1]
    assert {p[0] for p in points} == set(STATUSES)
    assert all(0 <= x <= 1 and 0 <= y <= 1 for _, x, y in points)


def test_tail_takes_the_sprint_and_where_to_start() -> None:
    args = build_parser().parse_args(["tail", "7", "--since", "40", "--count", "3"])
    assert (args.command, args.sprint, args.since, args.count, args.seconds) == (
        "tail", 7, 40, 3, None)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tail"])  # the sprint is required


def test_watch_lines_name_who_made_the_change() -> None:
    frame = {"type": "event", "seq": 4, "action": "updated", "model": "task", "id": 12,
             "data": {"name": "Write the docs"}, "actor": {"id": 3, "username": "ana"}}
    assert describe_event(frame) == "event 4 updated task 12 'Write the docs' by ana"
    assert describe_event({**frame, "actor": None}) == "event 4 updated task 12 'Write the docs'"
