"""Rate limits on the API (DRF throttling): password guessing and floods get 429."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from api.board.models import Sprint
from tests.redis_util import REDIS_URL, delete_prefix, new_prefix, require_redis
from tests.servers import free_port, manage

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana() -> User:
    return User.objects.create_user("ana", password="right-password")


def _login(client: APIClient, password: str, **headers: str) -> int:
    response = client.post("/api/token/", {"username": "ana", "password": password},
                           format="json", headers=headers)
    return response.status_code


def test_password_guessing_is_stopped_at_the_login_rate(ana: User) -> None:
    client = APIClient()
    assert [_login(client, f"guess-{n}") for n in range(10)] == [400] * 10
    response = client.post("/api/token/", {"username": "ana", "password": "right-password"},
                           format="json")
    assert response.status_code == 429  # even the right password, until the window moves
    body = response.json()
    assert body["error"] == "throttled"
    assert "available in" in body["message"]
    assert int(response.headers["Retry-After"]) > 0


def test_a_forged_forwarded_for_does_not_buy_new_attempts(ana: User) -> None:
    client = APIClient()
    codes = [_login(client, "guess", x_forwarded_for=f"203.0.113.{n}") for n in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429


def test_another_client_address_still_logs_in(ana: User) -> None:
    client = APIClient()
    for _ in range(10):
        _login(client, "guess")
    other = APIClient(REMOTE_ADDR="198.51.100.7")
    response = other.post("/api/token/", {"username": "ana", "password": "right-password"},
                          format="json")
    assert response.status_code == 200 and response.json()["token"]


@contextlib.contextmanager
def rates(**overrides: str | None) -> Iterator[None]:
    """Throttle rates for one test (production reads them from API_THROTTLE_*)."""
    saved = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {**saved, **overrides}
    try:
        yield
    finally:
        SimpleRateThrottle.THROTTLE_RATES = saved


@pytest.fixture
def tight_user_rate() -> Iterator[None]:
    with rates(user="5/minute"):
        yield


def test_a_user_over_the_rate_gets_429_and_others_do_not(ana: User, tight_user_rate: None
                                                         ) -> None:
    ben = User.objects.create_user("ben", password="pw")
    client, other = APIClient(), APIClient()
    client.force_authenticate(ana)
    other.force_authenticate(ben)
    codes = [client.get("/api/sprints/").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    assert client.post("/api/sprints/", {"name": "x", "end": "2099-01-01"},
                       format="json").status_code == 429  # nothing created
    assert other.get("/api/sprints/").status_code == 200
    assert not Sprint.objects.exists()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("API_THROTTLE_USER", "lots", "API_THROTTLE_USER must look like 10/minute"),
    ("API_THROTTLE_LOGIN", "10/fortnight", "API_THROTTLE_LOGIN must look like 10/minute"),
    ("CACHE_URL", "memcached://x", "CACHE_URL must be locmem:// or redis://"),
    ("API_NUM_PROXIES", "-1", "API_NUM_PROXIES must be a whole number >= 0"),
    ("API_NUM_PROXIES", "one", "API_NUM_PROXIES must be a whole number >= 0"),
])
def test_bad_limits_stop_django_with_a_clear_error(name: str, value: str, message: str) -> None:
    proc = manage("check", **{name: value})
    assert proc.returncode != 0
    assert message in proc.stderr


def test_off_disables_a_rate(ana: User) -> None:
    proc = manage("shell", "-c", "from django.conf import settings; "
                  "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['login'])",
                  API_THROTTLE_LOGIN="off")
    assert proc.stdout.strip().splitlines()[-1] == "None"
    with rates(login=None):  # what `off` configures
        client = APIClient()
        assert {_login(client, "guess") for _ in range(15)} == {400}


def test_counts_in_redis_are_shared_by_every_api_process(ana: User) -> None:
    """CACHE_URL=redis://…: the count lives in Redis, so every worker sees the same one."""
    redis = require_redis()
    prefix = new_prefix()
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}}
    try:
        with override_settings(CACHES=caches):
            client = APIClient()
            assert [_login(client, "guess") for _ in range(10)] == [400] * 10
            assert list(redis.scan_iter(match=prefix + "*"))  # the count is in Redis
            assert _login(APIClient(), "right-password") == 429  # a fresh client, same IP
    finally:
        delete_prefix(redis, prefix)


def test_a_valid_token_on_the_request_does_not_buy_more_login_attempts(ana: User) -> None:
    """Attempts count per address, whichever account's token rides along."""
    ben = User.objects.create_user("ben", password="pw")
    tokens = [Token.objects.create(user=u).key for u in (ana, ben)]
    client = APIClient()
    codes = [_login(client, "guess", authorization=f"Token {tokens[n % 2]}")
             for n in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429


def test_behind_one_proxy_the_address_it_saw_is_the_client(ana: User) -> None:
    """API_NUM_PROXIES=1 (compose, make cluster): the last X-Forwarded-For entry counts,
    and whatever a client writes before it does not."""
    rest = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    with override_settings(REST_FRAMEWORK=rest):
        client = APIClient()
        codes = [_login(client, "guess", x_forwarded_for=f"10.9.9.{n}, 203.0.113.5")
                 for n in range(11)]
        assert codes[:10] == [400] * 10 and codes[10] == 429
        assert _login(client, "right-password", x_forwarded_for="203.0.113.6") == 200


def test_an_unreachable_cache_lets_requests_through(ana: User,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Redis down: the API keeps answering (and says why in the log), no 500s."""
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
                          "OPTIONS": {"socket_connect_timeout": 0.5}}}
    with override_settings(CACHES=caches):
        client = APIClient()
        assert _login(client, "guess") == 400
        assert _login(client, "right-password") == 200
        client.force_authenticate(ana)
        assert client.get("/api/sprints/").status_code == 200
    assert "cache unreachable, request let through" in caplog.text
