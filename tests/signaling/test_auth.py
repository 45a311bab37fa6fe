"""``signaling.auth``: tickets (JWT) and the ``POST /events/`` signature with its replay memory."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from signaling.auth import (
    AuthError,
    NonceClaim,
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


def _check(body: bytes, ts: str | None, sig: str | None, now: float = 1000.0) -> int:
    return verify_signature(body, ts, sig, secret=TEST_SECRET, window=300, clock=lambda: now)


def test_signature_problems() -> None:
    body = b'{"events": []}'
    assert _check(body, "1000", _sig(body, 1000)) == 1000
    # Stateless: the same headers pass again (replays are caught by the body's nonce).
    assert _check(body, "1000", _sig(body, 1000)) == 1000
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
    ]
    for ts, sig, problem in cases:
        with pytest.raises(SignatureError) as info:
            _check(body, ts, sig)
        assert info.value.problem is problem, (ts, sig)


def test_replay_cache_is_bounded_and_forgets_expired() -> None:
    now = [1000.0]
    cache = ReplayCache(max_size=3, clock=lambda: now[0])
    for n in range(5):
        assert cache.claim(f"n{n}", 1000, ttl=10) is NonceClaim.FRESH
    assert cache.claim("n4", 1000, ttl=10) is NonceClaim.REPLAYED
    assert cache.claim("n2", 1000, ttl=10) is NonceClaim.REPLAYED
    # Past max_size the oldest is forgotten (the documented caveat: size it generously).
    assert cache.claim("n0", 1000, ttl=10) is NonceClaim.FRESH
    now[0] = 1011
    assert cache.claim("new", 1011, ttl=10) is NonceClaim.FRESH
    assert cache.claim("n4", 1011, ttl=10) is NonceClaim.FRESH  # expired: forgotten


def test_replay_cache_refuses_what_was_signed_before_it_began() -> None:
    now = [1000.7]
    cache = ReplayCache(clock=lambda: now[0])
    assert cache.claim("signed-before-start", 999, ttl=10) is NonceClaim.BEFORE_MEMORY
    assert cache.claim("signed-in-the-start-second", 1000, ttl=10) is NonceClaim.FRESH
    assert cache.claim("signed-in-the-start-second", 1000, ttl=10) is NonceClaim.REPLAYED
    cache.release("signed-in-the-start-second")  # its request failed: it may come again
    assert cache.claim("signed-in-the-start-second", 1000, ttl=10) is NonceClaim.FRESH
