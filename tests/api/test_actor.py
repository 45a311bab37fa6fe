"""Every event names who made the change: the requesting user (API, admin, services), or
null for the system (seed_demo, management commands). Recorded with the change."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from api.board import services
from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent
from tests.api.conftest import days, make_task

pytestmark = pytest.mark.django_db


def _actors(sprint_id: int, since: int = 0) -> list[tuple[str, dict[str, object] | None]]:
    events = OutboxEvent.objects.filter(sprint_id=sprint_id, seq__gt=since).order_by("seq")
    return [(e.action, e.actor) for e in events]


def _last_seq(sprint_id: int) -> int:
    return OutboxEvent.objects.filter(sprint_id=sprint_id).latest("seq").seq


def test_api_changes_name_the_requesting_user(client: APIClient, user: User) -> None:
    ana = {"id": user.pk, "username": "ana"}
    sprint = client.post("/api/sprints/", {"name": "S", "end": days(9)}, format="json").json()
    task = client.post("/api/tasks/", {"name": "t", "sprint": sprint["id"]}, format="json").json()
    client.patch(f"/api/tasks/{task['id']}/", {"name": "renamed"}, format="json")
    client.post(f"/api/tasks/{task['id']}/move/", {"status": "done"}, format="json")
    client.patch(f"/api/sprints/{sprint['id']}/", {"name": "S2"}, format="json")
    assert client.delete(f"/api/tasks/{task['id']}/").status_code == 204
    assert _actors(sprint["id"]) == [("created", ana)] * 2 + [("updated", ana)] * 3 + [
        ("deleted", ana)]


def test_a_move_across_sprints_names_the_user_in_both_streams(
        client: APIClient, user: User, sprint: Sprint, other_sprint: Sprint) -> None:
    task = make_task("t", sprint=sprint)
    before = (_last_seq(sprint.pk), _last_seq(other_sprint.pk))
    response = client.post(f"/api/tasks/{task.pk}/move/", {"sprint": other_sprint.pk},
                           format="json")
    assert response.status_code == 200, response.content
    ana = {"id": user.pk, "username": "ana"}
    assert _actors(sprint.pk, before[0]) == [("removed", ana)]
    assert _actors(other_sprint.pk, before[1]) == [("added", ana)]


def test_another_users_change_names_them(client: APIClient, other_user: User,
                                         sprint: Sprint) -> None:
    task = make_task("t", sprint=sprint)
    ben = APIClient()
    ben.force_authenticate(other_user)
    ben.patch(f"/api/tasks/{task.pk}/", {"name": "ben's"}, format="json")
    assert _actors(sprint.pk)[-1] == ("updated", {"id": other_user.pk, "username": "ben"})


def test_admin_changes_name_the_staff_user(sprint: Sprint) -> None:
    root = User.objects.create_superuser("root", password="root-password")
    browser = Client()
    assert browser.login(username="root", password="root-password")
    task = make_task("t", sprint=sprint)
    form = {"name": "from the admin", "description": "", "sprint": sprint.pk,
            "status": task.status, "assigned": "", "started": "", "due": "", "completed": ""}
    assert browser.post(f"/admin/board/task/{task.pk}/change/", form).status_code == 302
    assert browser.post(f"/admin/board/task/{task.pk}/delete/", {"post": "yes"}).status_code == 302
    root_actor = {"id": root.pk, "username": "root"}
    assert _actors(sprint.pk)[-2:] == [("updated", root_actor), ("deleted", root_actor)]


def test_service_calls_name_the_user_they_are_given(user: User, sprint: Sprint) -> None:
    task = services.task_create(actor=user, name="t", sprint=sprint)
    services.task_move(task=task, actor=None, expected_version=None, status="testing")
    assert _actors(sprint.pk)[-2:] == [("created", {"id": user.pk, "username": "ana"}),
                                       ("updated", None)]


def test_an_actor_keeps_the_name_it_had_when_the_user_is_renamed_or_deleted(
        user: User, sprint: Sprint) -> None:
    services.task_create(actor=user, name="t", sprint=sprint)
    user_id = user.pk
    user.username = "ana-renamed"
    user.save()
    user.delete()
    assert _actors(sprint.pk)[-1] == ("created", {"id": user_id, "username": "ana"})


def test_seed_demo_records_system_changes() -> None:
    call_command("seed_demo", stdout=StringIO())
    sprint = Sprint.objects.get()
    actors = _actors(sprint.pk)
    assert len(actors) == 1 + Task.objects.count()
    assert {actor for _, actor in actors} == {None}


def test_the_wire_event_carries_the_actor(user: User, sprint: Sprint) -> None:
    services.task_create(actor=user, name="t", sprint=sprint)
    event = OutboxEvent.objects.filter(sprint_id=sprint.pk).latest("seq")
    assert event.to_wire()["actor"] == {"id": user.pk, "username": "ana"}
    system = OutboxEvent.objects.get(sprint_id=sprint.pk, seq=1)  # made with actor=None
    assert "actor" in system.to_wire() and system.to_wire()["actor"] is None
