"""Task CRUD over REST and each of the board's validation rules (400 naming the field)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from api.board.models import Sprint, Task
from tests.api.conftest import TODAY, days, make_task


def test_create_task(client: APIClient, sprint: Sprint, user: User) -> None:
    response = client.post("/api/tasks/", {"name": "Plan", "sprint": sprint.pk,
                                           "assigned": "ana", "due": str(days(3))}, format="json")
    assert response.status_code == 201, response.json()
    task = Task.objects.get(pk=response.json()["id"])
    assert (task.name, task.sprint, task.assigned, task.status, task.due) == (
        "Plan", sprint, user, "not_started", days(3))


def test_create_task_in_backlog(client: APIClient) -> None:
    response = client.post("/api/tasks/", {"name": "Someday"}, format="json")
    assert response.status_code == 201
    assert response.json()["sprint"] is None


def test_retrieve_update_delete_task(client: APIClient, task: Task) -> None:
    assert client.get(f"/api/tasks/{task.pk}/").json()["name"] == "Write tests"
    response = client.patch(f"/api/tasks/{task.pk}/",
                            {"status": "in_progress", "started": str(TODAY)}, format="json")
    assert response.status_code == 200, response.json()
    task.refresh_from_db()
    assert (task.status, task.started) == ("in_progress", TODAY)
    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204
    assert not Task.objects.filter(pk=task.pk).exists()


def test_statuses_and_labels() -> None:
    assert Task.Status.choices == [("not_started", "Not Started"), ("in_progress", "In Progress"),
                                   ("testing", "Testing"), ("done", "Done")]


def _refused(client: APIClient, method: str, url: str, data: Any, field: str) -> dict:
    response = getattr(client, method)(url, data, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["error"] == "invalid"
    assert field in body["fields"], body
    assert body["message"].startswith(f"{field}: ") or field in body["message"]
    return body


def test_cannot_add_task_to_ended_sprint(client: APIClient, ended_sprint: Sprint) -> None:
    _refused(client, "post", "/api/tasks/", {"name": "Late", "sprint": ended_sprint.pk},
             "sprint")
    assert not Task.objects.exists()


def test_cannot_move_task_into_ended_sprint(client: APIClient, task: Task,
                                            ended_sprint: Sprint) -> None:
    _refused(client, "patch", f"/api/tasks/{task.pk}/", {"sprint": ended_sprint.pk}, "sprint")
    task.refresh_from_db()
    assert task.sprint_id != ended_sprint.pk


def test_task_already_in_ended_sprint_can_still_change(client: APIClient,
                                                       ended_sprint: Sprint) -> None:
    # Made before the sprint ended (straight into the table: the service would refuse now).
    task = Task.objects.create(name="Old", sprint=ended_sprint, rank="a0")
    response = client.patch(f"/api/tasks/{task.pk}/", {"name": "Old, renamed"}, format="json")
    assert response.status_code == 200


def test_not_started_task_cannot_have_started_date(client: APIClient, task: Task) -> None:
    _refused(client, "patch", f"/api/tasks/{task.pk}/", {"started": str(TODAY)}, "started")
    task.refresh_from_db()
    assert task.started is None


def test_completed_date_needs_status_done(client: APIClient, task: Task) -> None:
    _refused(client, "patch", f"/api/tasks/{task.pk}/",
             {"status": "testing", "started": str(TODAY), "completed": str(TODAY)}, "completed")
    task.refresh_from_db()
    assert (task.status, task.completed) == ("not_started", None)


def test_started_must_not_be_after_completed(client: APIClient, task: Task) -> None:
    _refused(client, "patch", f"/api/tasks/{task.pk}/",
             {"status": "done", "started": str(days(2)), "completed": str(TODAY)}, "completed")
    task.refresh_from_db()
    assert task.status == "not_started"


def test_done_with_dates_in_order_is_accepted(client: APIClient, task: Task) -> None:
    response = client.patch(f"/api/tasks/{task.pk}/", {
        "status": "done", "started": str(TODAY), "completed": str(days(1))}, format="json")
    assert response.status_code == 200, response.json()


def test_unknown_status_is_refused(client: APIClient, task: Task) -> None:
    _refused(client, "patch", f"/api/tasks/{task.pk}/", {"status": "blocked"}, "status")
    task.refresh_from_db()
    assert task.status == "not_started"


@pytest.mark.parametrize("field, value", [("sprint", 999), ("assigned", "nobody")])
def test_nonexistent_foreign_key_is_refused(client: APIClient, task: Task, field: str,
                                            value: Any) -> None:
    _refused(client, "patch", f"/api/tasks/{task.pk}/", {field: value}, field)
    task.refresh_from_db()
    assert (task.sprint_id, task.assigned.username) == (task.sprint_id, "ana")


def test_nonexistent_sprint_on_create_writes_nothing(client: APIClient) -> None:
    _refused(client, "post", "/api/tasks/", {"name": "x", "sprint": 999}, "sprint")
    assert not Task.objects.exists()


def test_order_is_gone_and_refused(client: APIClient, task: Task) -> None:
    body = _refused(client, "patch", f"/api/tasks/{task.pk}/", {"order": 1}, "order")
    assert body["fields"]["order"] == ["Unknown field."]
    fetched = client.get(f"/api/tasks/{task.pk}/").json()
    assert "order" not in fetched and (fetched["rank"], fetched["version"]) == ("a0", 1)
    # The rank is read-only: sent back (as in a PUT of what was fetched) it is ignored.
    response = client.patch(f"/api/tasks/{task.pk}/", {"rank": "zzz"}, format="json")
    assert response.status_code == 200 and response.json()["rank"] == "a0"


def test_lists_sort_by_rank_and_accept_ordering_rank(client: APIClient, sprint: Sprint) -> None:
    tasks = [make_task(f"t{n}", sprint=sprint) for n in range(3)]
    client.post(f"/api/tasks/{tasks[2].pk}/move/", {"after": None}, format="json")
    listed = [t["name"] for t in client.get("/api/tasks/").json()["results"]]
    assert listed == ["t2", "t0", "t1"]
    desc = client.get("/api/tasks/?ordering=-rank").json()["results"]
    assert [t["name"] for t in desc] == ["t1", "t0", "t2"]
