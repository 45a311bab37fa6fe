"""`POST /api/sprints/<id>/realtime/` issues a signed ticket (docs/protocol.md §1)."""

from __future__ import annotations

import datetime
import time

import jwt
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from api.board.models import Sprint
from tests.servers import TEST_SECRET


def test_ticket_claims(client: APIClient, user: User, sprint: Sprint, settings) -> None:
    settings.REALTIME_PUBLIC_URL = "wss://rt.example.org"
    settings.REALTIME_TOKEN_TTL = 600
    response = client.post(f"/api/sprints/{sprint.pk}/realtime/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "token", "expires"}
    assert body["url"] == f"wss://rt.example.org/{sprint.pk}/"
    claims = jwt.decode(body["token"], TEST_SECRET, algorithms=["HS256"], audience="watercooler")
    assert set(claims) == {"sub", "username", "sprint", "aud", "iat", "exp"}
    assert (claims["sub"], claims["username"], claims["sprint"], claims["aud"]) == (
        str(user.pk), "ana", sprint.pk, "watercooler")
    assert abs(claims["iat"] - time.time()) < 5
    assert claims["exp"] - claims["iat"] == 600
    expires = datetime.datetime.fromisoformat(body["expires"].replace("Z", "+00:00"))
    assert int(expires.timestamp()) == claims["exp"]


def test_ticket_is_not_signed_with_secret_key(client: APIClient, sprint: Sprint,
                                              settings) -> None:
    token = client.post(f"/api/sprints/{sprint.pk}/realtime/").json()["token"]
    try:
        jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"], audience="watercooler")
    except jwt.InvalidSignatureError:
        return
    raise AssertionError("ticket verified with SECRET_KEY")


def test_ticket_for_missing_sprint_is_404(client: APIClient) -> None:
    response = client.post("/api/sprints/999/realtime/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_ticket_needs_post(client: APIClient, sprint: Sprint) -> None:
    assert client.get(f"/api/sprints/{sprint.pk}/realtime/").status_code == 405
