"""ETag / If-Match / 412 on tasks and sprints (docs/api.md), and two writers racing."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent
from tests.api.conftest import make_task


def _state() -> tuple[list, list, int]:
    return (list(Task.objects.values().order_by("pk")),
            list(Sprint.objects.values().order_by("pk")), OutboxEvent.objects.count())


WRITES = {
    "patch": ("patch", "/api/tasks/{task}/", {"name": "mine"}),
    "put": ("put", "/api/tasks/{task}/", {"name": "mine", "status": "testing"}),
    "delete": ("delete", "/api/tasks/{task}/", None),
    "move": ("post", "/api/tasks/{task}/move/", {"status": "done"}),
    "sprint patch": ("patch", "/api/sprints/{sprint}/", {"name": "mine"}),
    "sprint put": ("put", "/api/sprints/{sprint}/", {"name": "mine", "end": "2099-01-01"}),
    "sprint delete": ("delete", "/api/sprints/{sprint}/", None),
}


def _write(client: APIClient, case: str, task: Task, if_match: str | None) -> Any:
    method, path, body = WRITES[case]
    headers = {} if if_match is None else {"HTTP_IF_MATCH": if_match}
    url = path.format(task=task.pk, sprint=task.sprint_id)
    return getattr(client, method)(url, body, format="json", **headers)


def test_get_sends_a_strong_etag_of_the_version(client: APIClient, task: Task) -> None:
    assert client.get(f"/api/tasks/{task.pk}/")["ETag"] == '"1"'
    assert client.get(f"/api/sprints/{task.sprint_id}/")["ETag"] == '"1"'
    response = client.patch(f"/api/tasks/{task.pk}/", {"name": "v2"}, format="json")
    assert (response["ETag"], response.json()["version"]) == ('"2"', 2)
    assert client.get(f"/api/tasks/{task.pk}/")["ETag"] == '"2"'
    created = client.post("/api/tasks/", {"name": "new"}, format="json")
    assert (created.status_code, created["ETag"]) == (201, '"1"')


@pytest.mark.parametrize("case", WRITES)
def test_stale_if_match_is_412_with_the_current_state(client: APIClient, task: Task,
                                                      case: str) -> None:
    client.patch(f"/api/tasks/{task.pk}/", {"description": "someone else"}, format="json")
    client.patch(f"/api/sprints/{task.sprint_id}/", {"description": "someone"}, format="json")
    before = _state()
    response = _write(client, case, task, '"1"')
    assert response.status_code == 412, response.content
    body = response.json()
    model = "sprint" if case.startswith("sprint") else "task"
    assert body["error"] == "conflict"
    assert body["message"] == f"The {model} changed since version 1 (now 2)."
    current = client.get(f"/api/{model}s/{task.pk if model == 'task' else task.sprint_id}/")
    assert body["current"] == current.json() and response["ETag"] == '"2"'
    assert _state() == before


MATCHING = [(case, '"1"') for case in WRITES] + [
    ("patch", "*"), ("move", "*"), ("sprint delete", "*"), ("patch", '"7", "1"'),
    ("move", ' "7" ,"1" '), ("patch", 'W/"9", "1"'), ("patch", None), ("move", None)]


@pytest.mark.parametrize("case, if_match", MATCHING)
def test_matching_if_match_or_none_writes(client: APIClient, task: Task, case: str,
                                          if_match: str | None) -> None:
    response = _write(client, case, task, if_match)
    assert response.status_code in (200, 204), response.content


@pytest.mark.parametrize("if_match", ['W/"1"', '"abc"', '"01"'])
def test_weak_or_foreign_tags_never_match(client: APIClient, task: Task, if_match: str) -> None:
    before = _state()
    assert _write(client, "patch", task, if_match).status_code == 412
    assert _state() == before


MALFORMED = [(case, "1") for case in WRITES] + [
    ("patch", value) for value in ["", ",", '"1', "W/1", '"1" "2"', '"' + "9" * 2000 + '"',
                                   ", ".join(['"1"'] * 40)]]


@pytest.mark.parametrize("case, if_match", MALFORMED)
def test_malformed_if_match_is_400_naming_it(client: APIClient, task: Task, case: str,
                                             if_match: str) -> None:
    before = _state()
    response = _write(client, case, task, if_match)
    assert response.status_code == 400, response.content
    body = response.json()
    assert "If-Match" in body["fields"] and body["message"].startswith("If-Match: ")
    assert _state() == before


def test_without_if_match_the_last_write_wins(client: APIClient, task: Task) -> None:
    first = client.patch(f"/api/tasks/{task.pk}/", {"name": "first"}, format="json").json()
    second = client.patch(f"/api/tasks/{task.pk}/", {"name": "second"}, format="json").json()
    assert (first["version"], second["version"]) == (2, 3)
    assert Task.objects.get(pk=task.pk).name == "second"


def test_a_write_that_changes_nothing_keeps_the_version(client: APIClient, task: Task) -> None:
    count = OutboxEvent.objects.count()
    response = client.patch(f"/api/tasks/{task.pk}/", {"name": task.name}, format="json")
    assert (response.status_code, response["ETag"]) == (200, '"1"')
    assert OutboxEvent.objects.count() == count


def test_deleted_object_is_404_even_with_if_match(client: APIClient, task: Task) -> None:
    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204
    for method, path, body in [("patch", "/api/tasks/{}/", {"name": "x"}),
                               ("post", "/api/tasks/{}/move/", {"after": None}),
                               ("delete", "/api/tasks/{}/", None)]:
        response = getattr(client, method)(path.format(task.pk), body, format="json",
                                           HTTP_IF_MATCH='"1"')
        assert response.status_code == 404


# --- two clients at once -------------------------------------------------------------------

RACES = {"patch": ("PATCH", "/api/tasks/{}/", [{"name": "ana's"}, {"name": "ben's"}]),
         "move": ("POST", "/api/tasks/{}/move/", [{"status": "testing"}, {"status": "done"}])}


@pytest.mark.parametrize("race", RACES)
@pytest.mark.django_db(transaction=True)
def test_two_clients_with_the_same_if_match_one_wins(live_server: Any, race: str) -> None:
    """Both send If-Match "1" at the same moment: one 200, one 412 holding the winner's state."""
    users = [User.objects.create_user(n, password="pw") for n in ("ana", "ben")]
    tokens = [Token.objects.create(user=u).key for u in users]
    task = make_task("contested", sprint=None)
    method, path, bodies = RACES[race]
    start = threading.Barrier(2)
    answers: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * 2

    def write(n: int) -> None:
        headers = {"Authorization": f"Token {tokens[n]}", "If-Match": '"1"'}
        with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as http:
            start.wait()
            try:
                answers[n] = http.request(method, path.format(task.pk), json=bodies[n])
            except BaseException as exc:  # reported below
                answers[n] = exc

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    codes = sorted(a.status_code for a in answers if isinstance(a, httpx.Response))
    assert codes == [200, 412], answers
    winner = next(a for a in answers if isinstance(a, httpx.Response) and a.status_code == 200)
    loser = next(a for a in answers if isinstance(a, httpx.Response) and a.status_code == 412)
    assert loser.json()["current"] == winner.json()
    assert winner.json()["version"] == 2 == Task.objects.get(pk=task.pk).version
