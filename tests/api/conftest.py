"""Fixtures for the API tests: users, authenticated clients, sprints and tasks."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from websockets.sync.client import ClientConnection, connect

from api.board import services
from api.board.models import Sprint, Task
from api.realtime.delivery import stop_delivery_thread
from tests.servers import TEST_SECRET, RealtimeServer, make_token

TODAY = timezone.localdate()


def pytest_configure(config: pytest.Config) -> None:
    # No collectstatic before tests: WhiteNoise warns that STATIC_ROOT does not exist.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


def days(n: int) -> datetime.date:
    """Today plus `n` days."""
    return TODAY + datetime.timedelta(days=n)


@pytest.fixture(autouse=True)
def _realtime_settings(settings) -> None:
    # Nothing listens here: writes in tests must never depend on the realtime server.
    settings.REALTIME_URL = "http://127.0.0.1:9"
    settings.REALTIME_SECRET = TEST_SECRET
    # Only the publisher tests run the delivery thread (they turn it back on).
    settings.REALTIME_DELIVERY_THREAD = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Django's default PBKDF2 (a million rounds) costs most of a test that makes a user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _stop_delivery_thread() -> Iterator[None]:
    yield
    stop_delivery_thread()


@pytest.fixture
def user(db) -> User:
    return User.objects.create_user("ana", password="ana-password")


@pytest.fixture
def other_user(db) -> User:
    return User.objects.create_user("ben", password="ben-password")


@pytest.fixture
def client(user: User) -> APIClient:
    """An API client authenticated with ana's token."""
    token = Token.objects.create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def make_task(name: str, **fields: Any) -> Task:
    """A task made as every client makes one: through the service (bottom of its column)."""
    return services.task_create(actor=None, name=name, **fields)


def make_sprint(name: str, end: datetime.date, **fields: Any) -> Sprint:
    return services.sprint_create(actor=None, name=name, end=end, **fields)


@pytest.fixture
def sprint(db) -> Sprint:
    return make_sprint("Sprint 1", days(7))


@pytest.fixture
def other_sprint(db) -> Sprint:
    return make_sprint("Sprint 2", days(21))


@pytest.fixture
def ended_sprint(db) -> Sprint:
    return make_sprint("Sprint 0", days(-7))


@pytest.fixture
def task(sprint: Sprint, user: User) -> Task:
    return make_task("Write tests", sprint=sprint, assigned=user)


# --- a real realtime server, and websocket clients of it -----------------------------------


@pytest.fixture
def realtime(settings) -> Iterator[RealtimeServer]:
    """A real ``watercooler.py`` that Django publishes to, of this test's own (sprint ids
    repeat from one test's database to the next)."""
    with RealtimeServer() as server:
        settings.REALTIME_URL = server.http_url
        yield server


Watch = Callable[[Sprint], ClientConnection]


@pytest.fixture
def watch(realtime: RealtimeServer) -> Iterator[Watch]:
    """``watch(sprint)``: a websocket client of the sprint on ``realtime``, welcome read."""
    with contextlib.ExitStack() as opened:

        def make(sprint: Sprint) -> ClientConnection:
            ws = opened.enter_context(connect(
                realtime.ws_url(sprint.pk, make_token(sprint=sprint.pk)), close_timeout=1))
            assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
            return ws

        yield make


def frames(ws: ClientConnection, n: int) -> list[tuple[str, int]]:
    """The next ``n`` frames as (type, seq — or a resync's latest)."""
    got = [json.loads(ws.recv(timeout=10)) for _ in range(n)]
    return [(f["type"], f.get("seq", f.get("latest"))) for f in got]


def quiet(ws: ClientConnection) -> None:
    """Assert that no frame comes for a moment."""
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.3)
