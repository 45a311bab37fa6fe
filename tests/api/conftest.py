"""Fixtures for the API tests: users, authenticated clients, sprints and tasks."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.board import services
from api.board.models import Sprint, Task
from api.realtime.delivery import stop_delivery_thread
from tests.servers import TEST_SECRET

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
