"""Django admin pages for sprints and tasks load, and admin writes record events."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent
from tests.api.conftest import make_task


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
