"""One login everywhere: the board's token login also starts a Django session, with CSRF.

The clients here enforce CSRF checks as a browser's requests are checked (Django's test
client skips them by default).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ANA = {"username": "ana", "password": "ana-password"}


@pytest.fixture
def browser() -> APIClient:
    """A browser: cookies kept, CSRF enforced."""
    return APIClient(enforce_csrf_checks=True)


def csrf_of(client: APIClient) -> str:
    response = client.get("/api/auth/session/")
    assert response.status_code == 200
    return response.json()["csrf_token"]


def board_login(client: APIClient, **extra: Any) -> Any:
    """What the board does: fetch the CSRF token, then log in with a session."""
    csrf = csrf_of(client)
    return client.post("/api/token/", {**ANA, "session": True}, format="json",
                       HTTP_X_CSRFTOKEN=csrf, **extra)


def session_user(client: APIClient) -> str | None:
    return client.get("/api/auth/session/").json()["username"]


def test_board_login_gives_a_token_and_logs_the_browser_in(browser: APIClient,
                                                           user: User) -> None:
    assert session_user(browser) is None
    response = board_login(browser)
    assert response.status_code == 200, response.json()
    assert response.json()["token"] == Token.objects.get(user=user).key
    assert session_user(browser) == "ana"
    # the browsable API knows the user without a token header
    page = browser.get("/api/sprints/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert "ana" in page.content.decode()


def test_session_login_without_csrf_token_is_refused(browser: APIClient, user: User) -> None:
    browser.get("/api/auth/session/")  # the cookie is there, the header is not
    response = browser.post("/api/token/", {**ANA, "session": True}, format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "permission_denied"
    assert body["message"].startswith("CSRF Failed")
    assert session_user(browser) is None
    assert not Token.objects.filter(user=user).exists()


def test_session_login_with_a_wrong_csrf_token_is_refused(browser: APIClient,
                                                          user: User) -> None:
    csrf_of(browser)
    response = browser.post("/api/token/", {**ANA, "session": True}, format="json",
                            HTTP_X_CSRFTOKEN="x" * 32)
    assert response.status_code == 403
    assert session_user(browser) is None


def test_login_csrf_from_a_foreign_page_is_refused(browser: APIClient, user: User) -> None:
    """A foreign page cannot log the browser in to an account of its choosing, even with
    a CSRF token it got for itself: the Origin does not match."""
    response = board_login(browser, HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert "Origin" in response.json()["message"]
    assert session_user(browser) is None


def test_plain_token_login_needs_no_csrf_and_starts_no_session(browser: APIClient,
                                                               user: User) -> None:
    response = browser.post("/api/token/", ANA, format="json")
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert session_user(browser) is None


def test_token_login_works_in_a_browser_already_logged_in_elsewhere(
        browser: APIClient, user: User, other_user: User) -> None:
    """Logged in to the admin as ben, the board can still log in as ana (no CSRF error
    from the old session), and with a session the browser becomes ana's."""
    assert browser.login(username="ben", password="ben-password")
    assert browser.post("/api/token/", ANA, format="json").status_code == 200
    assert session_user(browser) == "ben"
    assert board_login(browser).status_code == 200
    assert session_user(browser) == "ana"


def test_session_writes_need_csrf_token_calls_do_not(browser: APIClient, user: User) -> None:
    token = board_login(browser).json()["token"]
    new_sprint = {"name": "S", "end": "2031-01-01"}
    refused = browser.post("/api/sprints/", new_sprint, format="json")
    assert refused.status_code == 403
    assert refused.json()["message"].startswith("CSRF Failed")
    created = browser.post("/api/sprints/", new_sprint, format="json",
                           HTTP_X_CSRFTOKEN=csrf_of(browser))
    assert created.status_code == 201
    # The board's own calls carry the token: no CSRF token, though the cookie is there.
    by_token = browser.post("/api/sprints/", {"name": "T", "end": "2031-01-02"},
                            format="json", HTTP_AUTHORIZATION=f"Token {token}")
    assert by_token.status_code == 201


def test_logout_ends_the_session_and_keeps_the_token(browser: APIClient, user: User) -> None:
    token = board_login(browser).json()["token"]
    response = browser.delete("/api/auth/session/", HTTP_X_CSRFTOKEN=csrf_of(browser))
    assert response.status_code == 204
    assert session_user(browser) is None
    assert browser.get("/api/sprints/").status_code == 401
    # the token is the user's API key for their other clients: still valid
    assert browser.get("/api/sprints/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_logout_without_csrf_token_is_refused(browser: APIClient, user: User) -> None:
    board_login(browser)
    response = browser.delete("/api/auth/session/")
    assert response.status_code == 403
    assert session_user(browser) == "ana"


def test_logout_without_a_session_is_harmless(browser: APIClient) -> None:
    assert browser.delete("/api/auth/session/").status_code == 204


def test_logout_in_the_browsable_api_ends_the_same_session(browser: APIClient,
                                                          user: User) -> None:
    board_login(browser)
    response = browser.post("/api/auth/logout/", {"csrfmiddlewaretoken": csrf_of(browser)})
    assert response.status_code in (200, 302)
    assert session_user(browser) is None  # what the board checks before it follows


def test_session_flag_must_be_a_boolean(browser: APIClient, user: User) -> None:
    response = browser.post("/api/token/", {**ANA, "session": "maybe"}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["session"] == ["Must be a valid boolean."]


def test_staff_session_opens_the_admin(browser: APIClient, user: User) -> None:
    board_login(browser)
    assert browser.get("/admin/").status_code == 302  # ana is not staff: to the login form
    user.is_staff = True
    user.save()
    assert browser.get("/admin/").status_code == 200
