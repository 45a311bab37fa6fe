"""`peer.api.ApiClient` against a scripted HTTP transport (Django is not needed to test paging)."""

from __future__ import annotations

import json

import httpx
import pytest

from peer.api import ApiClient, ApiError, override_realtime


def handler(request: httpx.Request) -> httpx.Response:
    path, auth = request.url.path, request.headers.get("Authorization")
    if path == "/api/token/":
        body = json.loads(request.content)
        if body == {"username": "demo", "password": "demo"}:
            return httpx.Response(200, json={"token": "t0k"})
        return httpx.Response(400, json={"non_field_errors": ["bad credentials"]})
    if auth != "Token t0k":
        return httpx.Response(401, json={"detail": "no"})
    if path == "/api/sprints/7/realtime/" and request.method == "POST":
        return httpx.Response(200, json={"url": "ws://10.0.0.1:8080/7/", "token": "jwt",
                                         "expires": "2030-01-01T00:00:00Z"})
    if path == "/api/sprints/7/":
        return httpx.Response(200, json={"id": 7, "name": "S", "seq": 42})
    if path == "/api/tasks/":
        page = int(request.url.params.get("page", "1"))
        assert request.url.params["sprint"] == "7"
        nxt = f"http://testserver/api/tasks/?page={page + 1}&sprint=7" if page < 3 else None
        return httpx.Response(200, json={"count": 3, "next": nxt, "previous": None,
                                         "results": [{"id": page, "sprint": 7}]})
    return httpx.Response(404, json={"detail": "not found"})


@pytest.fixture
async def api() -> ApiClient:
    return ApiClient("http://testserver", transport=httpx.MockTransport(handler))


async def test_login_ticket_and_snapshot_following_next(api: ApiClient) -> None:
    async with api:
        assert await api.login("demo", "demo") == "t0k"
        ticket = await api.ticket(7)
        assert (ticket.url, ticket.token) == ("ws://10.0.0.1:8080/7/", "jwt")
        snap = await api.snapshot(7)
        assert snap.seq == 42
        assert [t["id"] for t in snap.tasks] == [1, 2, 3]


async def test_errors_carry_the_status(api: ApiClient) -> None:
    async with api:
        with pytest.raises(ApiError) as info:
            await api.login("demo", "wrong")
        assert info.value.status == 400
        with pytest.raises(ApiError) as info:
            await api.sprint(7)
        assert info.value.status == 401


def test_override_realtime_keeps_the_path() -> None:
    assert override_realtime("ws://10.0.0.1:8080/7/", "wss://rt.example.org") == \
        "wss://rt.example.org/7/"
    assert override_realtime("ws://h/7/", None) == "ws://h/7/"
