"""The date rules (started/completed follow the status), applied for moves and PATCHes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.board.models import Task
from api.board.rules import TaskDates, apply_status_dates, task_errors
from tests.api.conftest import TODAY, days

EARLIER = days(-5)


@pytest.mark.parametrize("old, new, started, completed, expected", [
    ("not_started", "in_progress", None, None, (TODAY, None)),
    ("not_started", "testing", None, None, (TODAY, None)),
    ("not_started", "done", None, None, (TODAY, TODAY)),
    ("in_progress", "done", EARLIER, None, (EARLIER, TODAY)),
    ("done", "testing", EARLIER, EARLIER, (EARLIER, None)),
    ("done", "not_started", EARLIER, EARLIER, (None, None)),
    ("testing", "not_started", EARLIER, None, (None, None)),
    ("testing", "testing", None, None, (None, None)),  # no change of status: no rule
    (None, "done", None, None, (TODAY, TODAY)),  # a new task
])
def test_dates_follow_the_status(old: str | None, new: str, started, completed,
                                 expected: tuple) -> None:
    dates = apply_status_dates(old_status=old, today=TODAY,
                               new=TaskDates(status=new, started=started, completed=completed))
    assert (dates.started, dates.completed) == expected
    assert task_errors(dates) == {}


def test_an_explicit_date_is_not_cleared_but_judged() -> None:
    dates = apply_status_dates(old_status="in_progress", today=TODAY, explicit={"started"},
                               new=TaskDates(status="not_started", started=EARLIER,
                                             completed=None))
    assert dates.started == EARLIER
    assert set(task_errors(dates)) == {"started"}


def _move(client: APIClient, task: Task, status: str) -> dict:
    response = client.post(f"/api/tasks/{task.pk}/move/", {"status": status}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_dates_through_moves(client: APIClient, task: Task) -> None:
    assert (_move(client, task, "in_progress")["started"], task.completed) == (str(TODAY), None)
    done = _move(client, task, "done")
    assert (done["started"], done["completed"]) == (str(TODAY), str(TODAY))
    back = _move(client, task, "testing")
    assert (back["started"], back["completed"]) == (str(TODAY), None)
    again = _move(client, task, "not_started")
    assert (again["started"], again["completed"]) == (None, None)
    stored = Task.objects.get(pk=task.pk)
    assert (stored.started, stored.completed) == (None, None)


def test_dates_through_patch(client: APIClient, task: Task) -> None:
    url = f"/api/tasks/{task.pk}/"
    body = client.patch(url, {"status": "done"}, format="json").json()
    assert (body["started"], body["completed"]) == (str(TODAY), str(TODAY))
    body = client.patch(url, {"status": "in_progress"}, format="json").json()
    assert (body["started"], body["completed"]) == (str(TODAY), None)
    # Dates sent with the status are kept, then judged as before.
    body = client.patch(url, {"status": "done", "started": str(EARLIER)}, format="json").json()
    assert (body["started"], body["completed"]) == (str(EARLIER), str(TODAY))


def test_patch_dates_are_still_validated_after_the_rules(client: APIClient, task: Task) -> None:
    url = f"/api/tasks/{task.pk}/"
    response = client.patch(url, {"status": "done", "started": str(days(3))}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"completed"}  # today's completion < started
    response = client.patch(url, {"status": "not_started", "started": str(TODAY)},
                            format="json")
    assert set(response.json()["fields"]) == {"started"}
    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.started, stored.completed, stored.version) == (
        "not_started", None, None, 1)


def test_create_applies_the_rules(client: APIClient) -> None:
    body = client.post("/api/tasks/", {"name": "Shipped", "status": "done"},
                       format="json").json()
    assert (body["started"], body["completed"]) == (str(TODAY), str(TODAY))
