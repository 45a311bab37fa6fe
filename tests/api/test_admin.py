"""Django admin pages for sprints and tasks load, and admin writes record events."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent
from tests.api.conftest import TODAY, make_task


@pytest.fixture
def admin_browser(db) -> Client:
    User.objects.create_superuser("root", password="root-password")
    browser = Client()
    assert browser.login(username="root", password="root-password")
    return browser


@pytest.mark.parametrize("path", ["/admin/", "/admin/board/sprint/", "/admin/board/task/",
                                  "/admin/board/sprint/add/", "/admin/board/task/add/"])
def test_admin_pages_load(admin_browser: Client, task: Task, path: str) -> None:
    assert admin_browser.get(path).status_code == 200


def test_admin_change_pages_load(admin_browser: Client, task: Task) -> None:
    assert admin_browser.get(f"/admin/board/task/{task.pk}/change/").status_code == 200
    assert admin_browser.get(f"/admin/board/sprint/{task.sprint_id}/change/").status_code == 200


def test_admin_bulk_delete_records_events(admin_browser: Client, sprint: Sprint) -> None:
    tasks = [make_task(name=f"t{i}", sprint=sprint) for i in range(2)]
    response = admin_browser.post("/admin/board/task/", {
        "action": "delete_selected", "_selected_action": [t.pk for t in tasks], "post": "yes"})
    assert response.status_code == 302
    assert not Task.objects.exists()
    deleted = OutboxEvent.objects.filter(action="deleted", model="task")
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(t.pk for t in tasks)


def _task_form(task: Task, **changes: object) -> dict[str, object]:
    form = {"name": task.name, "description": task.description, "sprint": task.sprint_id or "",
            "status": task.status, "assigned": task.assigned_id or "",
            "started": task.started or "", "due": task.due or "",
            "completed": task.completed or ""}
    return {**form, **changes}


def _last_event(sprint: Sprint) -> OutboxEvent:
    return OutboxEvent.objects.filter(sprint_id=sprint.pk).latest("seq")


def test_admin_change_form_goes_through_the_service(admin_browser: Client, task: Task) -> None:
    response = admin_browser.post(f"/admin/board/task/{task.pk}/change/",
                                  _task_form(task, status="done"))
    assert response.status_code == 302, response.content
    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.started, stored.completed, stored.version) == (
        "done", TODAY, TODAY, 2)  # the date rules ran, the version moved
    event = _last_event(task.sprint)
    assert (event.action, event.object_id, event.data["status"]) == ("updated", task.pk, "done")
    assert event.data["version"] == 2


def test_admin_change_form_shows_broken_date_rules(admin_browser: Client, task: Task) -> None:
    count = OutboxEvent.objects.count()
    response = admin_browser.post(f"/admin/board/task/{task.pk}/change/",
                                  _task_form(task, started=TODAY))
    assert response.status_code == 200  # the form again, with the error
    assert "cannot have a started date" in response.content.decode()
    assert OutboxEvent.objects.count() == count and Task.objects.get(pk=task.pk).version == 1


def test_admin_add_and_delete_record_events(admin_browser: Client, sprint: Sprint) -> None:
    make_task("first", sprint=sprint, status="in_progress")
    response = admin_browser.post("/admin/board/task/add/", {
        "name": "From the admin", "description": "", "sprint": sprint.pk,
        "status": "in_progress", "assigned": "", "started": "", "due": "", "completed": ""})
    assert response.status_code == 302, response.content
    task = Task.objects.get(name="From the admin")
    assert task.rank > Task.objects.get(name="first").rank and task.started == TODAY
    assert (_last_event(sprint).action, _last_event(sprint).object_id) == ("created", task.pk)
    response = admin_browser.post(f"/admin/board/task/{task.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert (_last_event(sprint).action, _last_event(sprint).object_id) == ("deleted", task.pk)


def test_admin_sprint_change_records_an_event(admin_browser: Client, sprint: Sprint) -> None:
    response = admin_browser.post(f"/admin/board/sprint/{sprint.pk}/change/", {
        "name": "Renamed in the admin", "description": "", "end": sprint.end})
    assert response.status_code == 302, response.content
    event = _last_event(sprint)
    assert (event.action, event.model, event.data["name"], event.data["version"]) == (
        "updated", "sprint", "Renamed in the admin", 2)


def test_admin_refuses_a_description_over_the_limit_on_the_form(admin_browser: Client,
                                                                  task: Task) -> None:
    """The admin's form knows the API's bound: an error on the page, not a 500 from the
    outbox's event size guard, and nothing saved."""
    from api.limits import DESCRIPTION_MAX_LENGTH

    too_long = "x" * (DESCRIPTION_MAX_LENGTH + 1)
    response = admin_browser.post(f"/admin/board/task/{task.pk}/change/",
                                  _task_form(task, description=too_long))
    assert response.status_code == 200
    assert b"Ensure this value has at most 10000 characters" in response.content
    assert Task.objects.get(pk=task.pk).description == task.description
