"""The OpenAPI schema generates without warnings and validates, documents every error
response and every limit; docs pages load."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from api.limits import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, QUERY_VALUE_MAX_LENGTH

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings() -> None:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
                 stdout=out)
    assert '"/api/sprints/{id}/realtime/"' in out.getvalue()


def test_schema_endpoint(client: APIClient) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content


def test_swagger_ui_works_offline(client: APIClient) -> None:
    """The docs page loads Swagger UI from our own static files, never from a CDN."""
    from django.contrib.staticfiles import finders

    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn.jsdelivr.net" not in html
    bundle = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert f"/static/{bundle}" in html
    assert finders.find(bundle) is not None


def test_schema_and_docs_are_open_but_operations_need_auth(anonymous: APIClient) -> None:
    """A new user can read the docs and learn how to log in; the data stays closed."""
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = schema.json()
    token_scheme = spec["components"]["securitySchemes"]["tokenAuth"]
    assert token_scheme["name"] == "Authorization"
    assert "Token <key>" in token_scheme["description"]
    assert spec["paths"]["/api/sprints/"]["get"]["security"] == [{"tokenAuth": []},
                                                                {"cookieAuth": []}]
    assert "security" not in spec["paths"]["/api/token/"]["post"]  # logging in is open
    assert "Token <key>" in spec["info"]["description"]
    assert "/api/auth/login/" in spec["info"]["description"]
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 200
    assert '"persistAuthorization": true' in docs.content.decode()
    assert anonymous.get("/api/sprints/").status_code == 401


def test_deploy_check_flags_dev_realtime_secret(settings) -> None:
    from api.realtime.checks import DEV_REALTIME_SECRET, realtime_secret_check

    settings.REALTIME_SECRET = DEV_REALTIME_SECRET
    assert [m.id for m in realtime_secret_check()] == ["realtime.W001"]
    settings.REALTIME_SECRET = "x" * 40
    assert realtime_secret_check() == []


def test_schema_documents_move_and_conditional_requests() -> None:
    out = StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=out)
    paths = json.loads(out.getvalue())["paths"]
    move = paths["/api/tasks/{id}/move/"]["post"]
    assert move["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/TaskMoveRequest")
    for path, methods in [("/api/tasks/{id}/", ("put", "patch", "delete")),
                          ("/api/sprints/{id}/", ("put", "patch", "delete")),
                          ("/api/tasks/{id}/move/", ("post",))]:
        for method in methods:
            operation = paths[path][method]
            assert "If-Match" in [p["name"] for p in operation["parameters"]], (path, method)
            conflict = operation["responses"]["412"]["content"]["application/json"]["schema"]
            assert conflict["$ref"].endswith("Conflict"), (path, method)
    for path, method, code in [("/api/tasks/{id}/", "get", "200"),
                               ("/api/tasks/{id}/", "patch", "200"),
                               ("/api/tasks/", "post", "201"),
                               ("/api/tasks/{id}/move/", "post", "200"),
                               ("/api/tasks/{id}/move/", "post", "412")]:
        assert "ETag" in paths[path][method]["responses"][code]["headers"], (path, method)


@pytest.fixture
def schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _ref(response: dict) -> str:
    return json.dumps(response["content"]["application/json"]["schema"])


def test_every_operation_documents_its_errors(schema: dict) -> None:
    operations = list(_operations(schema))
    assert len(operations) >= 16
    for path, method, operation in operations:
        responses = operation["responses"]
        expected = {"400", "401", "406", "429"}
        if method in ("post", "put", "patch", "delete"):
            expected |= {"403", "409", "413"}
        if "requestBody" in operation:
            expected.add("415")
        if "{" in path:
            expected.add("404")
        assert expected <= set(responses), (method, path, sorted(responses))
        assert "ValidationError" in _ref(responses["400"])
        assert all("Error" in _ref(responses[s]) for s in expected - {"400"})
        assert "Retry-After" in responses["429"]["headers"]


def test_conditional_writes_document_412_with_the_current_object(schema: dict) -> None:
    conditional = {(p, m): o for p, m, o in _operations(schema) if "412" in o["responses"]}
    writes = {(f"/api/{kind}/{{id}}/", method) for kind in ("tasks", "sprints")
              for method in ("put", "patch", "delete")}
    assert writes <= set(conditional)
    assert not any(method in ("get", "head") for _, method in conditional)
    for (path, _), operation in conditional.items():
        body = _ref(operation["responses"]["412"])
        assert "Conflict" in body
        assert ("Task" if "tasks" in path else "Sprint") in body


def test_new_endpoints_get_error_responses_by_rule() -> None:
    """board-api's move endpoint, or any other, needs nothing of its own."""
    from api.schema import add_error_responses

    ok = {"200": {"content": {"application/json": {"schema": {"$ref": "#/x/Task"}}}}}
    result = add_error_responses({"paths": {
        "/api/tasks/{id}/move/": {"post": {"requestBody": {}, "responses": dict(ok)}},
        "/api/things/": {"get": {"responses": dict(ok), "parameters": [
            {"in": "header", "name": "If-Match"},
            {"in": "query", "name": "q", "schema": {"type": "string", "maxLength": 5000}}]}},
    }})
    move = result["paths"]["/api/tasks/{id}/move/"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "412", "413", "415", "429"} <= set(move)
    assert "#/x/Task" in _ref(move["412"])
    things = result["paths"]["/api/things/"]["get"]
    assert "412" in things["responses"] and "403" not in things["responses"]
    assert things["parameters"][1]["schema"]["maxLength"] == QUERY_VALUE_MAX_LENGTH
    assert {"Error", "ValidationError", "Conflict"} <= set(result["components"]["schemas"])


def test_the_schema_shows_every_limit(schema: dict) -> None:
    components = schema["components"]["schemas"]
    for name in ("TaskRequest", "SprintRequest", "PatchedTaskRequest"):
        properties = components[name]["properties"]
        assert properties["description"]["maxLength"] == DESCRIPTION_MAX_LENGTH
        assert properties["name"]["maxLength"] == NAME_MAX_LENGTH
    assert components["TaskRequest"]["properties"]["assigned"]["maxLength"] == 150
    assert components["LoginRequest"]["properties"]["password"]["maxLength"] == 4096
    for _, _, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in ("search", "assigned"):
                assert parameter["schema"]["maxLength"] == QUERY_VALUE_MAX_LENGTH
