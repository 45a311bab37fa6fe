"""Bad input gets a clear 4xx and leaves the data as it was."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from api.board.models import Sprint, Task
from api.board.serializers import TaskSerializer
from api.limits import (
    DESCRIPTION_MAX_LENGTH,
    JSON_MAX_DEPTH,
    PASSWORD_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
)
from api.parsers import json_too_deep
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


# --- Text limits (api/limits.py) ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["tasks", "sprints"])
def test_a_description_over_the_limit_is_refused_naming_it(client: APIClient, task: Task,
                                                           kind: str) -> None:
    url = f"/api/{kind}/{task.pk if kind == 'tasks' else task.sprint_id}/"
    before = _snapshot()
    response = client.patch(url, {"description": "x" * (DESCRIPTION_MAX_LENGTH + 1)},
                            format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "description": [f"Ensure this field has no more than {DESCRIPTION_MAX_LENGTH} "
                        "characters."]}
    assert _snapshot() == before
    at_limit = client.patch(url, {"description": "é" * DESCRIPTION_MAX_LENGTH}, format="json")
    assert at_limit.status_code == 200
    assert len(at_limit.json()["description"]) == DESCRIPTION_MAX_LENGTH


def test_the_megabyte_description_of_issue_12_is_refused(client: APIClient, task: Task) -> None:
    before = _snapshot()
    response = client.patch(f"/api/tasks/{task.pk}/", {"description": "x" * 1_100_000},
                            format="json")
    assert response.status_code == 413
    assert response.json() == {"error": "too_large", "message": "The request body is larger "
                               "than the 1048576 bytes the API accepts."}
    assert _snapshot() == before


def test_an_assignee_longer_than_a_username_is_refused_without_echoing_it(
        client: APIClient, task: Task) -> None:
    response = client.patch(f"/api/tasks/{task.pk}/", {"assigned": "u" * 5000}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "assigned": [f"Ensure this field has no more than {USERNAME_MAX_LENGTH} characters."]}
    assert len(response.content) < 500


def test_login_fields_are_bounded(anonymous: APIClient, user) -> None:
    response = anonymous.post("/api/token/", {"username": "u" * (USERNAME_MAX_LENGTH + 1),
                                              "password": "p" * (PASSWORD_MAX_LENGTH + 1)},
                              format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password"}


# --- Bodies no parser may choke on (api/parsers.py) ---------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(("method", "url"), [
    ("PATCH", "/api/tasks/{task}/"), ("PUT", "/api/tasks/{task}/"), ("POST", "/api/tasks/"),
    ("POST", "/api/sprints/"), ("PATCH", "/api/sprints/{sprint}/"),
    ("POST", "/api/token/"),  # anonymous and with a parser list of its own
])
def test_json_nested_100000_deep_is_a_parse_error(client: APIClient, task: Task,
                                                  method: str, url: str) -> None:
    before = _snapshot()
    url = url.format(task=task.pk, sprint=task.sprint_id)
    response = APIClient().generic(method, url, DEEP, content_type="application/json")
    if response.status_code == 401:  # the anonymous client is refused before parsing...
        response = client.generic(method, url, DEEP, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {"error": "parse_error", "message": "The request body nests "
                               "arrays and objects deeper than 32 levels."}
    assert _snapshot() == before


def test_nesting_up_to_the_limit_reaches_validation(client: APIClient, task: Task) -> None:
    nested = "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH
    response = client.generic("PATCH", f"/api/tasks/{task.pk}/", f'{{"name": {nested[2:-2]}}}',
                              content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert "name" in response.json()["fields"]


@pytest.mark.parametrize(("text", "deep"), [
    ("[" * 33 + "]" * 33, True),
    ("[" * 32 + "]" * 32, False),
    ('{"a": "' + "[" * 100 + '"}', False),  # brackets inside a string do not nest
    ('{"a": "\\"' + "[" * 100 + '"}', False),  # nor after an escaped quote
    ('["\\\\", ' + "[" * 40 + "]" * 40 + "]", True),  # an escaped backslash ends no string
    ("[" * 40, True),  # malformed text is still measured
])
def test_depth_is_measured_without_parsing(text: str, deep: bool) -> None:
    assert json_too_deep(text) is deep


def test_a_number_out_of_range_is_a_parse_error(client: APIClient) -> None:
    response = client.generic("POST", "/api/sprints/", '{"end": "2031-01-01", "name": 1e999}',
                              content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"
    assert not Sprint.objects.exists()  # it used to be stored as the name "inf"


@pytest.mark.parametrize("body", [
    '{"assigned": "an\\u0000a"}',  # a lookup, not a text field: a 500 on PostgreSQL
    '{"assigned": "\\ud800ana"}',  # a lone surrogate: psycopg cannot encode it
    '{"name": "ok", "description": "\\udfff"}',
    '{"name": "ok", "status": ["\\u0000"]}',
    '{"\\ud800": 1}',  # in a key: the error naming it could not be encoded (a 500)
    '{"name": "ok", "x\\u0000": 1}',
])
def test_unstorable_characters_are_refused_naming_the_field(client: APIClient, task: Task,
                                                            body: str) -> None:
    before = _snapshot()
    response = client.generic("PATCH", f"/api/tasks/{task.pk}/", body,
                              content_type="application/json")
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert len(fields) == 1 and next(iter(fields)) in body
    message = next(iter(fields.values()))[0]
    assert message.startswith(("Null characters are not allowed", "Surrogate characters"))
    assert _snapshot() == before


def test_a_nul_in_form_data_is_refused(client: APIClient, task: Task) -> None:
    for content_type, body in [
            ("application/x-www-form-urlencoded", "assigned=an%00a"),
            ("multipart/form-data; boundary=b",
             '--b\r\nContent-Disposition: form-data; name="assigned"\r\n\r\nan\x00a\r\n--b--\r\n')]:
        response = client.generic("PATCH", f"/api/tasks/{task.pk}/", body,
                                  content_type=content_type)
        assert response.status_code == 400, content_type
        assert response.json()["fields"] == {"assigned": ["Null characters are not allowed."]}


@pytest.mark.parametrize("content_type", [
    "multipart/form-data; boundary=b", "application/x-www-form-urlencoded", "application/json"])
def test_a_body_over_the_limit_is_413_in_the_api_shape(anonymous: APIClient, user,
                                                       content_type: str) -> None:
    response = anonymous.generic("POST", "/api/token/", "x" * 3_000_000,
                                 content_type=content_type)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "too_large"


def test_too_many_form_fields_is_a_400_in_the_api_shape(client: APIClient) -> None:
    response = client.generic("POST", "/api/sprints/", "&".join(["a=1"] * 1001),
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"
    assert not Sprint.objects.exists()


def test_an_unsupported_content_type_is_415(client: APIClient) -> None:
    response = client.generic("POST", "/api/sprints/", "end=2031-01-01",
                              content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_every_api_view_parses_with_the_bounded_parsers() -> None:
    """A view naming DRF's stock parsers (as the token login did) escapes every bound."""
    views = list(_api_views(get_resolver().url_patterns))
    assert len(views) > 5
    for view in views:
        assert all(p.__module__ == "api.parsers" for p in view.parser_classes), view


def _api_views(patterns: list[Any]) -> Iterator[type[APIView]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern.url_patterns)
        elif isinstance(getattr(pattern.callback, "cls", None), type) and issubclass(
                pattern.callback.cls, APIView):
            yield pattern.callback.cls


# --- A concurrent change breaks a constraint (409) -----------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_sprint_deleted_while_a_task_moves_into_it_is_a_400_naming_it(
        client: APIClient, task: Task, other_sprint: Sprint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service locks the target sprint before it decides: a sprint deleted between
    the serializer's validation and the service's transaction is refused by name (before
    the services, the foreign key failed at commit: a 500, then the 409 safety net)."""
    parse = TaskSerializer.to_internal_value

    def deleted_meanwhile(self: TaskSerializer, data: Any) -> Any:
        result = parse(self, data)
        # What a concurrent DELETE does between this request's validation and its write.
        Sprint.objects.filter(pk=other_sprint.pk).delete()
        return result

    monkeypatch.setattr(TaskSerializer, "to_internal_value", deleted_meanwhile)
    response = client.patch(f"/api/tasks/{task.pk}/", {"sprint": other_sprint.pk},
                            format="json")
    assert response.status_code == 400
    assert "sprint" in response.json()["fields"]
    task.refresh_from_db()
    assert task.sprint_id != other_sprint.pk
