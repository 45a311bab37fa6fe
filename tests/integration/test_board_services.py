"""Board changes from every client reach subscribers: a REST move is one event, and the
admin's edits (made through the same services) arrive like any other change.

Live Django + a real watercooler.py + real websocket clients.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.integration.conftest import Board
from tests.servers import RealtimeServer

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_move_reaches_subscribers_as_one_event(
    realtime: RealtimeServer, board: Board, subscribe: Any
) -> None:
    sprint = board.sprint("A")["id"]
    cards = [board.task(sprint, f"card {n}") for n in range(5)]
    sub = await subscribe(sprint)
    await sub.send({"type": "resume", "since": 0})
    await sub.wait_events(6)  # the sprint and its cards, caught up

    response = await asyncio.to_thread(
        board.http.post, f"/api/tasks/{cards[4]['id']}/move/",
        json={"status": "testing", "after": None}, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    moved = response.json()
    (event,) = (await sub.wait_events(7))[6:]
    assert (event["action"], event["id"], event["data"]) == ("updated", moved["id"], moved)
    # Nothing else follows: the next write is the very next event.
    await asyncio.to_thread(board.patch, f"/api/tasks/{cards[0]['id']}/", {"name": "next"})
    events = await sub.wait_events(8)
    assert events[7]["seq"] == event["seq"] + 1 and events[7]["id"] == cards[0]["id"]


async def test_admin_edits_reach_subscribers(
    realtime: RealtimeServer, board: Board, subscribe: Any, django_user_model: Any
) -> None:
    sprint = board.sprint("A")["id"]
    task = board.task(sprint, "Edited in the admin")
    sub = await subscribe(sprint)
    await sub.send({"type": "resume", "since": 0})
    await sub.wait_events(2)

    def admin_marks_done() -> int:
        try:
            django_user_model.objects.create_superuser("root", password="root-pass")
            browser = Client()
            assert browser.login(username="root", password="root-pass")
            form = {"name": "Edited in the admin", "description": "", "sprint": sprint,
                    "status": "done", "assigned": "", "started": "", "due": "",
                    "completed": ""}
            return browser.post(f"/admin/board/task/{task['id']}/change/", form).status_code
        finally:
            connection.close()  # this worker thread's own connection

    assert await asyncio.to_thread(admin_marks_done) == 302
    (event,) = (await sub.wait_events(3))[2:]
    assert (event["action"], event["id"], event["data"]["status"]) == (
        "updated", task["id"], "done")
    assert event["data"]["version"] == 2 and event["data"]["completed"] is not None
    rest = (await asyncio.to_thread(board.http.get, f"/api/tasks/{task['id']}/")).json()
    # Links name the host of the request that made the change (here the admin's).
    assert {**rest, "links": None} == {**event["data"], "links": None}
