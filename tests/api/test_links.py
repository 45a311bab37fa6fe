"""Every resource carries absolute `links`; users are looked up by username."""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from api.board.models import Sprint, Task
from tests.api.conftest import make_task

BASE = "http://testserver/api"


def test_sprint_links(client: APIClient, sprint: Sprint) -> None:
    links = client.get(f"/api/sprints/{sprint.pk}/").json()["links"]
    assert links == {"self": f"{BASE}/sprints/{sprint.pk}/",
                     "tasks": f"{BASE}/tasks/?sprint={sprint.pk}",
                     "realtime": f"{BASE}/sprints/{sprint.pk}/realtime/",
                     "events": f"{BASE}/sprints/{sprint.pk}/events/"}


def test_sprint_links_follow_the_request_host(client: APIClient, sprint: Sprint,
                                              settings) -> None:
    settings.ALLOWED_HOSTS = ["board.example.org"]
    links = client.get(f"/api/sprints/{sprint.pk}/", HTTP_HOST="board.example.org",
                       secure=True).json()["links"]
    assert links["self"] == f"https://board.example.org/api/sprints/{sprint.pk}/"


def test_task_links(client: APIClient, task: Task) -> None:
    links = client.get(f"/api/tasks/{task.pk}/").json()["links"]
    assert links == {"self": f"{BASE}/tasks/{task.pk}/",
                     "sprint": f"{BASE}/sprints/{task.sprint_id}/",
                     "assigned": f"{BASE}/users/ana/"}


def test_backlog_task_links_are_null(client: APIClient) -> None:
    task = make_task(name="Someday")
    links = client.get(f"/api/tasks/{task.pk}/").json()["links"]
    assert (links["sprint"], links["assigned"]) == (None, None)


def test_links_resolve(client: APIClient, task: Task) -> None:
    links = client.get(f"/api/tasks/{task.pk}/").json()["links"]
    for url in links.values():
        assert client.get(url.removeprefix("http://testserver")).status_code == 200


def test_user_lookup_by_username(client: APIClient, user: User, other_user: User) -> None:
    body = client.get("/api/users/ben/").json()
    assert body == {"id": other_user.pk, "username": "ben", "full_name": "",
                    "links": {"self": f"{BASE}/users/ben/", "tasks": f"{BASE}/tasks/?assigned=ben"}}
    assert client.get("/api/users/nobody/").status_code == 404


def test_username_with_dots_and_at(client: APIClient) -> None:
    User.objects.create_user("ana.maria@example.org")
    response = client.get("/api/users/ana.maria@example.org/")
    assert response.status_code == 200


def test_users_list(client: APIClient, user: User, other_user: User) -> None:
    names = [u["username"] for u in client.get("/api/users/").json()["results"]]
    assert names == ["ana", "ben"]


def test_user_tasks_link_filters_by_assignee(client: APIClient, task: Task) -> None:
    url = client.get("/api/users/ana/").json()["links"]["tasks"]
    results = client.get(url.removeprefix("http://testserver")).json()["results"]
    assert [t["id"] for t in results] == [task.pk]
