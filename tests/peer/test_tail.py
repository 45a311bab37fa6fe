"""``python -m peer tail``: a sprint's events as JSON lines, the log first, then live.

The real command line against Django's live server and a real realtime server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from peer.tail import EXIT_GONE
from tests.integration.conftest import Board
from tests.servers import ROOT, RealtimeServer

pytestmark = pytest.mark.django_db(transaction=True)


def _tail(board: Board, realtime: RealtimeServer, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "peer", "--api", board.base_url, "--token", board.token,
         "--realtime", f"ws://127.0.0.1:{realtime.port}", "tail", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(proc: subprocess.Popen[str], n: int) -> list[dict[str, Any]]:
    assert proc.stdout is not None
    return [json.loads(proc.stdout.readline()) for _ in range(n)]


@pytest.mark.parametrize("transport", [(), ("--sse",)], ids=["websocket", "sse"])
def test_tail_prints_the_log_since_then_the_live_events_each_once(
        board: Board, realtime: RealtimeServer, transport: tuple[str, ...]) -> None:
    sprint = board.sprint("Tailed")["id"]  # seq 1
    task = board.task(sprint, "Write the docs")  # seq 2
    board.task(sprint, "Ship it")  # seq 3
    proc = _tail(board, realtime, str(sprint), "--since", "1", "--count", "5",
                 "--seconds", "60", *transport)
    try:
        logged = _lines(proc, 2)  # from the log, before anything else happens
        for name in ("Write the docs!", "Write the docs!!"):
            board.patch(f"/api/tasks/{task['id']}/", {"name": name})  # seq 4, 5
        board.patch(f"/api/tasks/{task['id']}/", {"status": "testing"})  # seq 6
        live = _lines(proc, 3)
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    events = logged + live
    assert [e["seq"] for e in events] == [2, 3, 4, 5, 6]
    assert {e["type"] for e in events} == {"event"}
    ana = events[0]["actor"]
    assert ana is not None and ana["username"] == "ana"
    assert all(e["actor"] == ana for e in events)
    assert [e["data"]["name"] for e in live] == ["Write the docs!", "Write the docs!!",
                                                 "Write the docs!!"]
    assert live[-1]["data"]["status"] == "testing" and live[-1]["action"] == "updated"
    assert "at" in logged[0]  # read from the log: when it was committed


def test_tail_without_since_starts_from_now(board: Board, realtime: RealtimeServer) -> None:
    sprint = board.sprint("Now")["id"]
    board.task(sprint, "Old news")  # seq 2: before the tail, not printed
    proc = _tail(board, realtime, str(sprint), "--count", "1", "--seconds", "60")
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline() == f"tail: sprint {sprint} live after seq 2\n"
        board.task(sprint, "Fresh")
        (event,) = _lines(proc, 1)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    assert (event["seq"], event["action"], event["data"]["name"]) == (3, "created", "Fresh")


def test_tail_since_a_pruned_seq_says_where_the_log_starts(
        board: Board, realtime: RealtimeServer) -> None:
    from api.realtime.models import OutboxEvent

    sprint = board.sprint("Pruned")["id"]
    for name in "abc":
        board.task(sprint, name)
    OutboxEvent.objects.filter(sprint_id=sprint, seq__lte=2).delete()
    proc = _tail(board, realtime, str(sprint), "--since", "0", "--seconds", "30")
    try:
        assert proc.wait(30) == EXIT_GONE
    finally:
        proc.kill()
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read() == ""
    assert "its oldest is 3 (latest 4). Use --since 2 or later." in proc.stderr.read()
