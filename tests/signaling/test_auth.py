"""``signaling.auth``: tickets (JWT) and the ``POST /events/`` signature with its replay cache."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from signaling.auth import (
    AuthError,
    ReplayCache,
    SignatureError,
    SignatureProblem,
    User,
    verify_signature,
    verify_ticket,
)
from signaling.protocol import Close
from tests.servers import TEST_SECRET, make_token


def test_valid_ticket() -> None:
    ticket = verify_ticket(make_token(user_id=3, username="ana", sprint=7), secret=TEST_SECRET,
                           sprint=7)
    assert ticket.user == User(id=3, username="ana")
    assert ticket.sprint == 7


@pytest.mark.parametrize(("token", "code"), [
    (None, Close.UNAUTHORIZED),
    ("", Close.UNAUTHORIZED),
    ("abc", Close.UNAUTHORIZED),
    (make_token(sprint=7, ttl=-5), Close.UNAUTHORIZED),
    (make_token(sprint=7, aud="other"), Close.UNAUTHORIZED),
    (make_token(sprint=7, secret="x" * 40), Close.UNAUTHORIZED),
    (make_token(sprint="7"), Close.UNAUTHORIZED),  # type: ignore[arg-type]
    (make_token(sprint=8), Close.FORBIDDEN),
], ids=["none", "empty", "garbage", "expired", "audience", "secret", "sprint-type", "sprint"])
def test_refused_tickets(token: str | None, code: Close) -> None:
    with pytest.raises(AuthError) as info:
        verify_ticket(token, secret=TEST_SECRET, sprint=7)
    assert info.value.code is code


def test_algorithm_none_is_refused() -> None:
    import jwt

    token = jwt.encode({"sub": "1", "sprint": 7, "aud": "watercooler", "exp": 2**40}, None,
                       algorithm="none")
    with pytest.raises(AuthError):
        verify_ticket(token, secret=TEST_SECRET, sprint=7)


def _sig(body: bytes, ts: int, secret: str = TEST_SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256
                            ).hexdigest()


def _check(body: bytes, ts: str | None, sig: str | None, cache: ReplayCache,
           now: float = 1000.0) -> None:
    verify_signature(body, ts, sig, secret=TEST_SECRET, replay=cache, clock=lambda: now)


def test_signature_problems() -> None:
    cache = ReplayCache(window=300, clock=lambda: 1000.0)
    body = b'{"events": []}'
    _check(body, "1000", _sig(body, 1000), cache)
    cases = [
        (None, _sig(body, 1000), SignatureProblem.MISSING),
        ("1000", None, SignatureProblem.MISSING),
        ("abc", _sig(body, 1000), SignatureProblem.BAD),
        ("9" * 5000, _sig(body, 1000), SignatureProblem.BAD),
        ("1000", _sig(body, 1000)[3:], SignatureProblem.BAD),
        ("1001", _sig(body, 1000), SignatureProblem.BAD),
        ("1000", _sig(body, 1000, "other-secret"), SignatureProblem.BAD),
        ("699", _sig(body, 699), SignatureProblem.STALE),
        ("1301", _sig(body, 1301), SignatureProblem.STALE),
        ("1000", _sig(body, 1000), SignatureProblem.REPLAYED),
    ]
    for ts, sig, problem in cases:
        with pytest.raises(SignatureError) as info:
            _check(body, ts, sig, cache)
        assert info.value.problem is problem, (ts, sig)


def test_replay_cache_is_bounded_and_forgets_expired() -> None:
    now = [1000.0]
    cache = ReplayCache(window=10, max_size=3, clock=lambda: now[0])
    for n in range(5):
        assert not cache.seen(f"s{n}", 1000)
    assert len(cache) == 3
    assert cache.seen("s4", 1000)
    now[0] = 1011
    assert not cache.seen("new", 1011)
    assert len(cache) == 1
