"""Bad URLs, query strings and headers get a 4xx in the API's JSON error shape, never a 500 or HTML.

Run on PostgreSQL by `make test` (and on SQLite by `pytest tests/api`), where a NUL character or an
integer past 64 bits reaching a query is an error of the database driver.
"""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from api.board.models import Sprint, Task
from api.error_pages import server_error
from api.limits import QUERY_VALUE_MAX_LENGTH
from tests.api.conftest import make_task

HUGE = "99999999999999999999"  # past 2**64


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) <= {"error", "message", "fields"} and body["message"]
    return body


@pytest.mark.parametrize("path", ["/api/users/de%00mo/", "/api/tasks/1%00/",
                                  "/api/sprints/%00/realtime/", "/api/%00/"])
def test_a_nul_in_the_path_is_400(client: APIClient, user, path: str) -> None:
    method = "post" if path.endswith("realtime/") else "get"
    body = _error(getattr(client, method)(path), 400)
    assert body == {"error": "invalid", "message": "The URL path contains a null character."}


@pytest.mark.parametrize("url", [f"/api/tasks/{HUGE}/", f"/api/sprints/{HUGE}/",
                                 f"/api/tasks/-{HUGE}/", f"/api/users/{HUGE}/"])
def test_ids_past_64_bits_in_the_path_are_404(client: APIClient, url: str) -> None:
    assert _error(client.get(url), 404)["error"] == "not_found"
    assert _error(client.post(f"/api/sprints/{HUGE}/realtime/"), 404)["error"] == "not_found"


@pytest.mark.parametrize(("query", "field"), [
    (f"sprint={HUGE}", "sprint"), (f"sprint=-{HUGE}", "sprint"), ("sprint=1.5", "sprint"),
    ("due_min=99999-01-01", "due_min"), ("due_max=2026-02-30", "due_max"),
    ("due_min=0000-01-01", "due_min"), ("status=bogus", "status"),
])
def test_bad_filter_values_are_400_naming_the_filter(client: APIClient, task: Task,
                                                     query: str, field: str) -> None:
    assert field in _error(client.get(f"/api/tasks/?{query}"), 400)["fields"]


@pytest.mark.parametrize("page", [HUGE, "0", "-1", "x", "9" * QUERY_VALUE_MAX_LENGTH])
def test_a_page_that_does_not_exist_is_404(client: APIClient, task: Task, page: str) -> None:
    assert _error(client.get(f"/api/tasks/?page={page}"), 404)["error"] == "not_found"


def test_a_huge_page_size_is_capped(client: APIClient, task: Task) -> None:
    response = client.get(f"/api/tasks/?page_size={HUGE}")
    assert response.status_code == 200 and response.json()["count"] == 1


@pytest.mark.parametrize("url", ["/api/tasks/?ordering=priority",
                                 "/api/tasks/?ordering=name,-sprint__name",
                                 "/api/sprints/?ordering=-", "/api/users/?ordering=password"])
def test_ordering_by_an_unknown_field_is_400_naming_it(client: APIClient, url: str) -> None:
    body = _error(client.get(url), 400)
    assert list(body["fields"]) == ["ordering"]
    assert "Cannot order by" in body["message"] and "choose from" in body["message"]


def test_ordering_by_known_fields_still_sorts(client: APIClient, sprint: Sprint) -> None:
    for name in ("b", "a", "c"):
        make_task(name, sprint=sprint)
    response = client.get("/api/tasks/?ordering=-name,")
    assert [t["name"] for t in response.json()["results"]] == ["c", "b", "a"]


def test_a_query_value_over_the_limit_is_400_naming_it(client: APIClient, task: Task) -> None:
    at_limit = client.get(f"/api/tasks/?search={'w' * QUERY_VALUE_MAX_LENGTH}")
    assert at_limit.status_code == 200
    body = _error(client.get(f"/api/tasks/?search={'w' * (QUERY_VALUE_MAX_LENGTH + 1)}"), 400)
    assert body["fields"] == {"search": [f"Ensure this value has at most "
                                         f"{QUERY_VALUE_MAX_LENGTH} characters (it has 201)."]}


@pytest.mark.parametrize(("query", "field"), [
    ("search=a%00b", "search"), ("assigned=an%00a", "assigned"),
    ("ordering=name%00", "ordering"), ("x%00y=1", "x\\u0000y")])
def test_a_nul_in_the_query_is_400_naming_the_parameter(client: APIClient, task: Task,
                                                        query: str, field: str) -> None:
    body = _error(client.get(f"/api/tasks/?{query}"), 400)
    assert body["fields"] == {field: ["Null characters are not allowed."]}


def test_too_many_query_parameters_is_400(client: APIClient) -> None:
    query = "&".join(f"p{n}=1" for n in range(1001))
    assert _error(client.get(f"/api/tasks/?{query}"), 400)["error"] == "invalid"


def test_an_unknown_api_path_is_a_json_404(client: APIClient) -> None:
    assert _error(client.get("/api/no-such-thing/"), 404) == {"error": "not_found",
                                                              "message": "Not found."}
    assert "text/html" in client.get("/no-such-page/")["Content-Type"]  # not the API's


def test_a_server_error_under_the_api_is_json() -> None:
    factory = RequestFactory()
    response = server_error(factory.get("/api/tasks/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert server_error(factory.get("/admin/"))["Content-Type"].startswith("text/html")


def test_head_and_options(client: APIClient, task: Task) -> None:
    head = client.head("/api/tasks/")
    assert head.status_code == 200 and head.content == b""
    options = client.options(f"/api/tasks/{task.pk}/")
    assert options.status_code == 200 and options.json()["name"] == "Task Instance"
    assert client.options(f"/api/tasks/{HUGE}/").status_code == 200  # no object: no actions


def test_the_browsable_api_gets_the_same_refusals(client: APIClient, task: Task) -> None:
    html = client.get("/api/tasks/?format=api")
    assert html.status_code == 200 and "text/html" in html["Content-Type"]
    long = "w" * (QUERY_VALUE_MAX_LENGTH + 1)
    assert client.get(f"/api/tasks/?format=api&search={long}").status_code == 400
    assert client.get("/api/users/de%00mo/?format=api").status_code == 400


@pytest.mark.parametrize("header", [
    {"HTTP_AUTHORIZATION": "Token a\x00b"},  # Django's own servers pass it on
    {"HTTP_COOKIE": 'sessionid="abcdefgh\\000ijk"'},  # gunicorn too: the parser unquotes it
    {"HTTP_X_ANYTHING": "\x00"},
])
def test_a_nul_in_a_header_or_cookie_is_400_on_every_path(db, header: dict) -> None:
    """The token or session lookup handed the NUL to PostgreSQL: a 500 on every page."""
    client = Client()
    body = _error(client.get("/api/tasks/", **header), 400)
    assert body == {"error": "bad_request",
                    "message": "A request header or cookie contains a null character."}
    admin = client.get("/admin/", **header)
    assert admin.status_code == 400 and "text/html" in admin["Content-Type"]
