"""Authoritative updates end to end: outbox → POST /events/ → every subscriber, nothing lost.

Live Django (pytest-django's live server) + a real watercooler.py + real websocket clients.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.db import connection, transaction

from tests.integration.conftest import Board, Subscriber, _point_django_at
from tests.servers import RealtimeServer

pytestmark = pytest.mark.django_db(transaction=True)


def _seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


async def _latest_seq(board: Board, sprint: int) -> int:
    resp = await asyncio.to_thread(board.http.get, f"/api/sprints/{sprint}/")
    return resp.json()["seq"]


async def _delivered(server: RealtimeServer, sprint: int, seq: int, board: Board) -> None:
    """Wait until the realtime server knows `seq` for `sprint` (its welcome says so)."""
    async with asyncio.timeout(20):
        while True:
            ticket = await asyncio.to_thread(board.ticket, sprint)
            url = f"{ticket['url']}?token={ticket['token']}&protocol=2"
            probe = await Subscriber(url).connect()
            await probe.close()
            if probe.welcome["seq"] == seq:
                return
            await asyncio.sleep(0.1)


async def test_patch_reaches_every_subscriber_of_the_sprint_once(
    realtime: RealtimeServer, board: Board, subscribe: Any
) -> None:
    sprint_a = board.sprint("A")["id"]
    sprint_b = board.sprint("B")["id"]
    task = board.task(sprint_a, "Write the docs")
    other = board.task(sprint_b, "Elsewhere")
    last = await _latest_seq(board, sprint_a)
    await _delivered(realtime, sprint_a, last, board)

    first, second = await subscribe(sprint_a), await subscribe(sprint_a)
    outsider = await subscribe(sprint_b)
    changed = await asyncio.to_thread(board.patch, f"/api/tasks/{task['id']}/",
                                      {"status": "in_progress"})

    ana = (await asyncio.to_thread(board.http.get, "/api/users/ana/")).json()
    for sub in (first, second):
        (event,) = await sub.wait_events(1)
        assert event == {"type": "event", "sprint": sprint_a, "seq": last + 1,
                         "action": "updated", "model": "task", "id": task["id"],
                         "data": changed, "actor": {"id": ana["id"], "username": "ana"}}
    # A write in B is the barrier: when B's subscriber has it, A's event would have come first.
    await asyncio.to_thread(board.patch, f"/api/tasks/{other['id']}/", {"name": "Still elsewhere"})
    (only,) = await outsider.wait_events(1)
    assert only["sprint"] == sprint_b and only["id"] == other["id"]
    assert len(first.events()) == len(second.events()) == 1


async def test_rolled_back_change_sends_nothing(
    realtime: RealtimeServer, board: Board, subscribe: Any
) -> None:
    from api.board import services

    sprint = board.sprint("A")["id"]
    task = board.task(sprint, "Draft")
    last = await _latest_seq(board, sprint)
    await _delivered(realtime, sprint, last, board)
    sub = await subscribe(sprint)

    def rolled_back_write() -> None:
        try:
            with transaction.atomic():
                services.task_update(task=task["id"], actor=None, expected_version=None,
                                     changes={"name": "never committed"})
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        finally:
            connection.close()

    await asyncio.to_thread(rolled_back_write)
    committed = await asyncio.to_thread(board.patch, f"/api/tasks/{task['id']}/",
                                        {"name": "committed"})
    (event,) = await sub.wait_events(1)
    assert event["seq"] == last + 1  # the rolled-back write used no seq and sent nothing
    assert event["data"] == committed


async def test_writes_while_realtime_is_down_are_all_delivered_after_restart(
    realtime: RealtimeServer, board: Board, subscribe: Any
) -> None:
    sprint = board.sprint("A")["id"]
    task = board.task(sprint, "Flaky network")
    last = await _latest_seq(board, sprint)
    await _delivered(realtime, sprint, last, board)
    realtime.stop()

    written = []
    for i in range(50):
        written.append(await asyncio.to_thread(board.patch, f"/api/tasks/{task['id']}/",
                                               {"name": f"write {i}"}))

    restarted = RealtimeServer(port=realtime.port).start()
    try:
        await _delivered(restarted, sprint, last + 50, board)
        clients = [await subscribe(sprint), await subscribe(sprint)]
        for sub in clients:
            assert sub.welcome["seq"] == last + 50
            await sub.send({"type": "resume", "since": last})
            events = await sub.wait_events(50)
            assert _seqs(events) == list(range(last + 1, last + 51))
            assert [e["data"] for e in events] == written
    finally:
        restarted.stop()


async def test_reconnecting_client_resumes_exactly_what_it_missed(
    realtime: RealtimeServer, board: Board, subscribe: Any
) -> None:
    sprint = board.sprint("A")["id"]
    task = board.task(sprint, "Resume me")
    sub = await subscribe(sprint)
    last = sub.welcome["seq"] or 0
    await sub.close()

    for i in range(20):
        await asyncio.to_thread(board.patch, f"/api/tasks/{task['id']}/", {"name": f"v{i}"})
    await _delivered(realtime, sprint, last + 20, board)

    again = await subscribe(sprint)
    assert again.welcome["seq"] == last + 20
    await again.send({"type": "resume", "since": last})
    events = await again.wait_events(20)
    assert _seqs(events) == list(range(last + 1, last + 21))
    assert [e["data"]["name"] for e in events] == [f"v{i}" for i in range(20)]
    # Nothing beyond the 20 follows: a write after them is the very next event.
    await asyncio.to_thread(board.patch, f"/api/tasks/{task['id']}/", {"name": "v99"})
    events = await again.wait_events(21)
    assert _seqs(events)[-1] == last + 21 and len(events) == 21


async def test_resume_older_than_history_answers_resync(
    settings: Any, board: Board, subscribe: Any
) -> None:
    with RealtimeServer("--history-size=5") as server:
        _point_django_at(settings, server)
        sprint = board.sprint("A")["id"]
        task = board.task(sprint, "Long gone")
        for i in range(20):
            await asyncio.to_thread(board.patch, f"/api/tasks/{task['id']}/", {"name": f"v{i}"})
        latest = await _latest_seq(board, sprint)
        await _delivered(server, sprint, latest, board)

        sub = await subscribe(sprint)
        await sub.send({"type": "resume", "since": 1})
        frames = await sub.wait_for(lambda fs: any(f["type"] == "resync" for f in fs))
        assert {"type": "resync", "latest": latest} in frames
        assert sub.events() == []


@pytest.mark.postgres
async def test_concurrent_writers_get_one_gap_free_order_for_every_client(
    realtime: RealtimeServer, board: Board, subscribe: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (make test runs this suite on it)")
    sprint = board.sprint("A")["id"]
    tasks = [board.task(sprint, f"task {i}") for i in range(4)]
    start = await _latest_seq(board, sprint)
    await _delivered(realtime, sprint, start, board)
    subs = [await subscribe(sprint), await subscribe(sprint)]

    writes_per_thread = 10
    errors: list[BaseException] = []

    def writer(task_id: int) -> None:
        with Board(board.base_url) as client:
            client.http.headers["Authorization"] = f"Token {board.token}"
            try:
                for i in range(writes_per_thread):
                    client.patch(f"/api/tasks/{task_id}/", {"name": f"v{i}"})
            except BaseException as exc:  # surfaced below
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t["id"],)) for t in tasks]
    for t in threads:
        t.start()
    await asyncio.to_thread(lambda: [t.join() for t in threads])
    assert not errors

    total = len(tasks) * writes_per_thread
    orders = []
    for sub in subs:
        events = await sub.wait_events(total, timeout=30)
        assert _seqs(events) == list(range(start + 1, start + total + 1))
        orders.append([(e["id"], e["data"]["name"]) for e in events])
    assert orders[0] == orders[1]
