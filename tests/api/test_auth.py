"""Authentication: every endpoint needs it, 401 with a JSON body, token endpoint, sessions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PROTECTED = ["/api/sprints/", "/api/tasks/", "/api/users/", "/api/users/ana/",
             "/api/sprints/1/", "/api/tasks/1/"]


@pytest.mark.parametrize("path", PROTECTED)
def test_unauthenticated_get_is_401_json(anonymous: APIClient, user: User, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"error": "not_authenticated",
                               "message": "Authentication credentials were not provided."}


def test_unauthenticated_write_is_401(anonymous: APIClient) -> None:
    response = anonymous.post("/api/sprints/", {"end": "2030-01-01"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_ticket_needs_authentication(anonymous: APIClient, sprint) -> None:
    assert anonymous.post(f"/api/sprints/{sprint.pk}/realtime/").status_code == 401


def test_token_endpoint_returns_a_working_token(anonymous: APIClient, user: User) -> None:
    response = anonymous.post("/api/token/", {"username": "ana", "password": "ana-password"},
                              format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anonymous.get("/api/sprints/").status_code == 200


def test_token_endpoint_refuses_bad_credentials(anonymous: APIClient, user: User) -> None:
    response = anonymous.post("/api/token/", {"username": "ana", "password": "wrong"},
                              format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert "non_field_errors" in body["fields"]


def test_bad_token_is_401(anonymous: APIClient) -> None:
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anonymous.get("/api/sprints/")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_session_auth_works(user: User) -> None:
    browser = APIClient()
    assert browser.login(username="ana", password="ana-password")
    assert browser.get("/api/tasks/").status_code == 200
