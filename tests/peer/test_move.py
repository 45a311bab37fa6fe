"""`peer`'s moves against the live API: `ApiClient.move`, ``python -m peer move`` and the
swarm's concurrent drag-and-drops, with Django's live server and a real realtime server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from peer import KEEP, ApiClient, ApiError, Conflict, board_order
from peer.cli import build_parser
from peer.commands_drag import swarm
from peer.commands_move import EXIT_CONFLICT
from peer.session import Session
from tests.integration.conftest import Board
from tests.servers import ROOT, RealtimeServer

pytestmark = pytest.mark.django_db(transaction=True)


async def _sprint_of(board: Board, n: int, status: str = "not_started") -> tuple[int, list[int]]:
    sprint = await asyncio.to_thread(board.sprint, "Moves")
    ids = [(await asyncio.to_thread(board.task, sprint["id"], f"Card {i}", status=status))["id"]
           for i in range(n)]
    return sprint["id"], ids


async def _column(api: ApiClient, sprint: int, status: str) -> list[int]:
    tasks = await api.tasks(sprint)
    return [t["id"] for t in sorted((t for t in tasks if t["status"] == status),
                                    key=board_order)]


@pytest.fixture
async def api(board: Board) -> Any:
    async with ApiClient(board.base_url, token=board.token) as client:
        yield client


async def test_move_lands_below_after_and_the_server_sets_the_dates(
        board: Board, api: ApiClient, realtime: RealtimeServer) -> None:
    sprint, (a, b, c) = await _sprint_of(board, 3)
    moved = await api.move(a, status="in_progress", after=None)
    assert (moved["status"], moved["sprint"], moved["version"]) == ("in_progress", sprint, 2)
    assert moved["started"], "the server applies the date rule for every client"
    await api.move({"id": b}, status="in_progress", after=a)
    await api.move(c, status="in_progress", after=None)
    assert await _column(api, sprint, "in_progress") == [c, a, b]
    await api.move(c, after=b)  # status and sprint left as they are
    assert await _column(api, sprint, "in_progress") == [a, b, c]
    backlog = await api.move(b, sprint=None, after=None)
    assert backlog["sprint"] is None
    assert await _column(api, sprint, "in_progress") == [a, c]


async def test_a_stale_if_match_raises_conflict_with_the_current_task(
        board: Board, api: ApiClient, realtime: RealtimeServer) -> None:
    _sprint, (a, b) = await _sprint_of(board, 2)
    seen = await api.task(a)
    won = await api.move(seen, status="testing", if_match=seen["version"])
    with pytest.raises(Conflict) as info:
        await api.move(seen, status="done", after=b, if_match=seen["version"])
    assert info.value.status == 412
    assert info.value.current["version"] == won["version"]
    assert info.value.current["status"] == "testing"
    assert (await api.task(a))["status"] == "testing", "the stale move changed nothing"
    assert await api.move(a, status="done", if_match=won["version"]), "retry on the new version"


@pytest.mark.parametrize("bad, field", [
    ({"after": "self"}, "after"),
    ({"after": 10**9}, "after"),
    ({"status": "shipped"}, "status"),
    ({"sprint": 10**9}, "sprint"),
])
async def test_a_bad_move_names_the_field_and_changes_nothing(
        board: Board, api: ApiClient, realtime: RealtimeServer, bad: dict[str, Any],
        field: str) -> None:
    _sprint, (a, _b) = await _sprint_of(board, 2)
    before = await api.task(a)
    kwargs: dict[str, Any] = {"status": KEEP, "sprint": KEEP, "after": KEEP, **bad}
    if kwargs["after"] == "self":
        kwargs["after"] = a
    with pytest.raises(ApiError) as info:
        await api.move(a, **kwargs)
    assert info.value.status == 400
    assert field in info.value.fields, info.value.fields
    assert await api.task(a) == before


async def test_after_in_another_column_is_refused(
        board: Board, api: ApiClient, realtime: RealtimeServer) -> None:
    _sprint, (a, b) = await _sprint_of(board, 2)
    await api.move(b, status="testing")
    with pytest.raises(ApiError) as info:
        await api.move(a, status="in_progress", after=b)
    assert info.value.status == 400 and "after" in info.value.fields


def _cli(board: Board, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "peer", "--api", board.base_url, "--token",
                           board.token, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


async def test_cli_move_prints_where_the_task_is_and_exits_3_on_conflict(
        board: Board, api: ApiClient, realtime: RealtimeServer) -> None:
    sprint, (a, _b) = await _sprint_of(board, 2)
    run = await asyncio.to_thread(_cli, board, "move", str(a), "--status", "testing", "--top",
                                  "--if-match", "1")
    assert run.returncode == 0, run.stderr
    assert f"task {a} 'Card 0' is in testing of sprint {sprint}" in run.stdout
    stale = await asyncio.to_thread(_cli, board, "move", str(a), "--backlog", "--if-match", "1")
    assert stale.returncode == EXIT_CONFLICT, stale.stderr
    assert "has changed since version 1; nothing moved. It is now version 2" in stale.stderr
    bad = await asyncio.to_thread(_cli, board, "move", str(a), "--after", str(a))
    assert bad.returncode == 1
    assert "after:" in bad.stderr
    assert (await api.task(a))["status"] == "testing"


def test_cli_move_flags() -> None:
    args = build_parser().parse_args(["move", "7", "--sprint", "3", "--after", "12",
                                      "--if-match", "4"])
    assert (args.task, args.to_sprint, args.after, args.if_match, args.backlog, args.top) == (
        7, 3, 12, 4, False, False)
    for clash in (["--sprint", "3", "--backlog"], ["--after", "1", "--top"],
                  ["--status", "shipped"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["move", "7", *clash])


async def test_swarm_of_concurrent_drops_ends_with_every_board_equal_to_the_server(
        board: Board, api: ApiClient, realtime: RealtimeServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    sprint, ids = await _sprint_of(board, 6)
    args = build_parser().parse_args(["--api", board.base_url, "--token", board.token,
                                      "--sprint", str(sprint), "--no-webrtc", "swarm", "--n",
                                      "3", "--seconds", "0", "--rate", "30", "--moves", "6"])
    session = Session(args)
    try:
        outcome = await swarm(session, args.n, args.seconds, args.rate, moves=args.moves,
                              column=args.column, seed=11)
    finally:
        await session.aclose()
    assert outcome.tally.drops == 18 and outcome.tally.refused == 0, outcome.tally
    assert outcome.tally.moved >= 1
    assert outcome.check is not None and outcome.check.consistent, outcome.check
    assert sorted(outcome.check.server) == sorted(ids), "every card present once"
    assert outcome.check.server == await _column(api, sprint, "not_started")
    assert ": consistent" in capsys.readouterr().out
