"""`POST /api/tasks/<id>/move/`: where the card lands, one event per move, bad input refused."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent
from tests.api.conftest import TODAY, days, make_task


def _move(client: APIClient, task: Task | int, body: Any, **headers: str) -> Any:
    task_id = task.pk if isinstance(task, Task) else task
    return client.post(f"/api/tasks/{task_id}/move/", body, format="json", **headers)


def _column(sprint: Sprint | None, status: str = "not_started") -> list[str]:
    tasks = Task.objects.filter(sprint=sprint)
    if sprint is not None:
        tasks = tasks.filter(status=status)
    return [t.name for t in tasks.order_by("rank", "id")]


def _events(sprint: Sprint) -> list[tuple[str, int]]:
    return list(OutboxEvent.objects.filter(sprint_id=sprint.pk, model="task")
                .order_by("seq").values_list("action", "object_id"))


@pytest.fixture
def cards(sprint: Sprint) -> dict[str, Task]:
    """a, b, c, d top to bottom in Not Started; x in Testing."""
    made = {name: make_task(name, sprint=sprint) for name in "abcd"}
    made["x"] = make_task("x", sprint=sprint, status="testing")
    return made


def test_after_null_is_the_top(client: APIClient, sprint: Sprint, cards: dict[str, Task]) -> None:
    response = _move(client, cards["d"], {"after": None})
    assert response.status_code == 200, response.json()
    assert _column(sprint) == ["d", "a", "b", "c"]
    body = response.json()
    assert (body["id"], body["version"], response["ETag"]) == (cards["d"].pk, 2, '"2"')
    assert body["rank"] < Task.objects.get(pk=cards["a"].pk).rank


def test_after_a_task_lands_directly_below_it(client: APIClient, sprint: Sprint,
                                              cards: dict[str, Task]) -> None:
    before = len(_events(sprint))
    assert _move(client, cards["a"], {"after": cards["c"].pk}).status_code == 200
    assert _column(sprint) == ["b", "c", "a", "d"]
    assert _events(sprint)[before:] == [("updated", cards["a"].pk)]  # one row, one event
    assert [t.version for t in Task.objects.exclude(pk=cards["a"].pk)] == [1, 1, 1, 1]


def test_into_another_column_below_a_task(client: APIClient, sprint: Sprint,
                                          cards: dict[str, Task]) -> None:
    response = _move(client, cards["b"], {"status": "testing", "after": cards["x"].pk})
    assert response.status_code == 200
    assert (_column(sprint), _column(sprint, "testing")) == (["a", "c", "d"], ["x", "b"])
    assert response.json()["started"] == str(TODAY)


def test_new_column_without_after_is_the_bottom_same_column_keeps_the_place(
        client: APIClient, sprint: Sprint, cards: dict[str, Task]) -> None:
    _move(client, cards["a"], {"status": "testing"})
    assert _column(sprint, "testing") == ["x", "a"]
    _move(client, cards["x"], {"status": "testing"})  # nothing changes: same place
    assert _column(sprint, "testing") == ["x", "a"]


def test_across_sprints_is_removed_then_added(client: APIClient, sprint: Sprint,
                                              other_sprint: Sprint,
                                              cards: dict[str, Task]) -> None:
    there = make_task("there", sprint=other_sprint)
    response = _move(client, cards["b"], {"sprint": other_sprint.pk, "after": None})
    assert response.status_code == 200
    assert _column(other_sprint) == ["b", "there"] and _column(sprint) == ["a", "c", "d"]
    assert _events(sprint)[-1] == ("removed", cards["b"].pk)
    assert _events(other_sprint)[-2:] == [("created", there.pk), ("added", cards["b"].pk)]
    removed = OutboxEvent.objects.filter(sprint_id=sprint.pk).latest("seq")
    assert removed.data == response.json()


def test_to_and_from_the_backlog(client: APIClient, sprint: Sprint,
                                 cards: dict[str, Task]) -> None:
    old = make_task("old")  # the backlog: one column, whatever the status
    response = _move(client, cards["c"], {"sprint": None, "status": "testing"})
    assert response.status_code == 200
    assert _column(None) == ["old", "c"]
    assert _events(sprint)[-1] == ("removed", cards["c"].pk)
    count = OutboxEvent.objects.count()
    assert _move(client, cards["c"], {"after": None}).status_code == 200  # no stream
    assert _column(None) == ["c", "old"] and OutboxEvent.objects.count() == count
    assert _move(client, old, {"sprint": sprint.pk, "after": cards["a"].pk}).status_code == 200
    assert _column(sprint) == ["a", "old", "b", "d"]
    assert _events(sprint)[-1] == ("added", old.pk)


@pytest.mark.parametrize("body", [{}, {"after": "a"}, {"status": "not_started", "after": "b"},
                                  {"sprint": "same", "after": "a"}])
def test_a_move_to_where_the_task_is_changes_nothing(client: APIClient, sprint: Sprint,
                                                     cards: dict[str, Task], body: dict) -> None:
    body = {k: (sprint.pk if v == "same" else cards[v].pk if v in cards else v)
            for k, v in body.items()}
    target = cards["c"] if "after" in body and body["after"] == cards["b"].pk else cards["b"]
    count = OutboxEvent.objects.count()
    response = _move(client, target, body)
    assert response.status_code == 200
    assert response.json()["version"] == 1 and response["ETag"] == '"1"'
    assert OutboxEvent.objects.count() == count and _column(sprint) == ["a", "b", "c", "d"]


def test_top_of_the_column_moved_to_the_top_changes_nothing(
        client: APIClient, cards: dict[str, Task]) -> None:
    count = OutboxEvent.objects.count()
    assert _move(client, cards["a"], {"after": None}).json()["version"] == 1
    assert OutboxEvent.objects.count() == count


def _snapshot() -> tuple[list, int]:
    return list(Task.objects.values().order_by("pk")), OutboxEvent.objects.count()


BAD_MOVES = {
    "unknown after": ({"after": 99999}, "after"),
    "after is the task itself": ({"after": "self"}, "after"),
    "after in another column": ({"after": "x"}, "after"),
    "after in the target's other column": ({"status": "testing", "after": "b"}, "after"),
    "after in another sprint": ({"sprint": "other", "after": "b"}, "after"),
    "after in the backlog": ({"after": "loose"}, "after"),
    "after not an integer": ({"after": "first"}, "after"),
    "after zero": ({"after": 0}, "after"),
    "after too big": ({"after": 2**70}, "after"),
    "bad status": ({"status": "blocked"}, "status"),
    "status null": ({"status": None}, "status"),
    "unknown sprint": ({"sprint": 99999}, "sprint"),
    "sprint not an id": ({"sprint": "next"}, "sprint"),
    "sprint too big": ({"sprint": 2**70}, "sprint"),
    "ended sprint": ({"sprint": "ended"}, "sprint"),
    "unknown field": ({"order": 3}, "order"),
    "date rules": ({"status": "done"}, "status"),
}


@pytest.mark.parametrize("case", BAD_MOVES, ids=list(BAD_MOVES))
def test_bad_move_is_400_naming_the_field_and_changes_nothing(
        client: APIClient, cards: dict[str, Task], other_sprint: Sprint,
        ended_sprint: Sprint, case: str) -> None:
    body, field = BAD_MOVES[case]
    names = {"self": cards["a"].pk, "other": other_sprint.pk, "ended": ended_sprint.pk,
             "loose": make_task("loose").pk, **{k: t.pk for k, t in cards.items()}}
    body = {k: names.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    if case == "date rules":  # started in the future: done today would end before it
        Task.objects.filter(pk=cards["a"].pk).update(status="in_progress", started=days(3))
    before = _snapshot()
    response = _move(client, cards["a"], body)
    assert response.status_code == 400, response.json()
    error = response.json()
    assert error["error"] == "invalid" and field in error["fields"], error
    assert error["message"].startswith(f"{field}: ")
    assert _snapshot() == before


@pytest.mark.parametrize("body", ["[]", '"x"', "null", '{"after": {"id": 1}}', '{"after":'])
def test_move_body_must_be_a_json_object(client: APIClient, cards: dict[str, Task],
                                         body: str) -> None:
    before = _snapshot()
    response = client.generic("POST", f"/api/tasks/{cards['a'].pk}/move/", body,
                              content_type="application/json")
    assert response.status_code == 400
    assert _snapshot() == before


def test_move_of_a_missing_task_is_404(client: APIClient, cards: dict[str, Task]) -> None:
    assert _move(client, 99999, {"after": None}).status_code == 404


def test_move_needs_a_login(anonymous: APIClient, cards: dict[str, Task]) -> None:
    assert _move(anonymous, cards["a"], {"after": None}).status_code == 401
