"""The OpenAPI schema generates without warnings and validates; docs pages load."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

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
