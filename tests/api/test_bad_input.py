"""Bad input gets a clear 4xx and leaves the data as it was."""

from __future__ import annotations

from rest_framework.test import APIClient

from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent


def _snapshot() -> tuple[list, list, int]:
    return (list(Task.objects.values().order_by("pk")),
            list(Sprint.objects.values().order_by("pk")), OutboxEvent.objects.count())


def test_malformed_json(client: APIClient, task: Task) -> None:
    before = _snapshot()
    response = client.generic("PATCH", f"/api/tasks/{task.pk}/", '{"name": "x",',
                               content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "parse_error"
    assert body["message"].startswith("Malformed JSON in the request body")
    assert _snapshot() == before


def test_json_that_is_not_an_object(client: APIClient, task: Task) -> None:
    before = _snapshot()
    response = client.patch(f"/api/tasks/{task.pk}/", ["name", "x"], format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert _snapshot() == before


def test_wrong_types(client: APIClient, task: Task) -> None:
    before = _snapshot()
    response = client.patch(f"/api/tasks/{task.pk}/",
                            {"order": "first", "due": "tomorrow", "name": ["a"]}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"order", "due", "name"}
    assert _snapshot() == before


def test_unknown_fields_are_named(client: APIClient, task: Task) -> None:
    before = _snapshot()
    response = client.patch(f"/api/tasks/{task.pk}/", {"name": "ok", "colour": "red",
                                                       "priority": 1}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["fields"] == {"colour": ["Unknown field."], "priority": ["Unknown field."]}
    assert body["message"] == "colour: Unknown field."
    assert _snapshot() == before


def test_unknown_fields_reported_with_other_errors(client: APIClient, task: Task) -> None:
    response = client.patch(f"/api/tasks/{task.pk}/", {"status": "bogus", "colour": "red"},
                            format="json")
    assert set(response.json()["fields"]) == {"status", "colour"}


def test_unknown_field_on_sprint_create(client: APIClient) -> None:
    response = client.post("/api/sprints/", {"end": "2031-01-01", "goal": "x"}, format="json")
    assert response.status_code == 400
    assert "goal" in response.json()["fields"]
    assert not Sprint.objects.exists()


def test_missing_required_field(client: APIClient) -> None:
    response = client.post("/api/tasks/", {"description": "no name"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["fields"]
    assert not Task.objects.exists()


def test_read_only_fields_are_ignored_not_refused(client: APIClient, task: Task) -> None:
    response = client.patch(f"/api/tasks/{task.pk}/", {"id": 999, "links": {}, "name": "ok"},
                            format="json")
    assert response.status_code == 200
    assert response.json()["id"] == task.pk


def test_method_not_allowed_on_users(client: APIClient, user) -> None:
    response = client.delete("/api/users/ana/")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
