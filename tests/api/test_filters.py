"""List filters: sprints by end date; tasks by sprint, backlog, status, assignee, due; search."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from api.board.models import Sprint, Task
from tests.api.conftest import days, make_task


def _ids(client: APIClient, url: str) -> list[int]:
    response = client.get(url)
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def test_sprints_by_end_range(client: APIClient, sprint: Sprint, other_sprint: Sprint,
                              ended_sprint: Sprint) -> None:
    assert _ids(client, f"/api/sprints/?end_min={days(0)}") == [sprint.pk, other_sprint.pk]
    assert _ids(client, f"/api/sprints/?end_max={days(7)}") == [ended_sprint.pk, sprint.pk]
    assert _ids(client, f"/api/sprints/?end_min={days(1)}&end_max={days(10)}") == [sprint.pk]


def test_bad_filter_value_is_400(client: APIClient) -> None:
    response = client.get("/api/sprints/?end_min=someday")
    assert response.status_code == 400
    assert "end_min" in response.json()["fields"]


@pytest.fixture
def board(sprint: Sprint, other_sprint: Sprint, user: User, other_user: User) -> dict[str, Task]:
    return {
        # Each is the first of its column (rank a0): lists sort them by id.
        "a": make_task(name="Alpha login", sprint=sprint, assigned=user, due=days(1)),
        "b": make_task(name="Beta", description="login page", sprint=sprint,
                       status="testing", started=days(0), assigned=other_user, due=days(5)),
        "c": make_task(name="Gamma", sprint=other_sprint, status="testing", started=days(0)),
        "d": make_task(name="Delta", due=days(9)),  # backlog
    }


def test_tasks_by_sprint(client: APIClient, board: dict[str, Task], sprint: Sprint) -> None:
    assert _ids(client, f"/api/tasks/?sprint={sprint.pk}") == [board["a"].pk, board["b"].pk]


def test_tasks_by_unknown_sprint_is_400(client: APIClient, board: dict[str, Task]) -> None:
    response = client.get("/api/tasks/?sprint=999")
    assert response.status_code == 400
    assert "sprint" in response.json()["fields"]


def test_tasks_in_backlog(client: APIClient, board: dict[str, Task]) -> None:
    assert _ids(client, "/api/tasks/?backlog=true") == [board["d"].pk]
    assert len(_ids(client, "/api/tasks/?backlog=false")) == 3


@pytest.mark.parametrize("value", ["maybe", "1", "yes", ""])
def test_backlog_other_than_true_or_false_is_400(client: APIClient, board: dict[str, Task],
                                                 value: str) -> None:
    response = client.get("/api/tasks/", {"backlog": value})
    if value == "":  # an empty value is no filter, as for every other parameter
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["backlog"]


def test_tasks_by_status(client: APIClient, board: dict[str, Task]) -> None:
    assert _ids(client, "/api/tasks/?status=testing") == [board["b"].pk, board["c"].pk]
    assert client.get("/api/tasks/?status=blocked").status_code == 400


def test_tasks_by_assignee_username(client: APIClient, board: dict[str, Task]) -> None:
    assert _ids(client, "/api/tasks/?assigned=ben") == [board["b"].pk]
    assert _ids(client, "/api/tasks/?assigned=nobody") == []


def test_tasks_by_due_range(client: APIClient, board: dict[str, Task]) -> None:
    assert _ids(client, f"/api/tasks/?due_min={days(2)}") == [board["b"].pk, board["d"].pk]
    assert _ids(client, f"/api/tasks/?due_max={days(5)}") == [board["a"].pk, board["b"].pk]


def test_search_name_and_description(client: APIClient, board: dict[str, Task]) -> None:
    assert sorted(_ids(client, "/api/tasks/?search=login")) == [board["a"].pk, board["b"].pk]


def test_ordering(client: APIClient, board: dict[str, Task]) -> None:
    names = [t["name"] for t in client.get("/api/tasks/?ordering=-name").json()["results"]]
    assert names == ["Gamma", "Delta", "Beta", "Alpha login"]


def test_sprint_search(client: APIClient, sprint: Sprint, other_sprint: Sprint) -> None:
    assert _ids(client, "/api/sprints/?search=Sprint 2") == [other_sprint.pk]
