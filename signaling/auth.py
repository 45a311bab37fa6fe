"""Who may talk to the server: realtime tickets (JWT) for websockets, HMAC for ``POST /events/``.

Both checks use the shared secret alone: no database, no call to Django.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from signaling.protocol import Close

__all__ = [
    "ANONYMOUS",
    "AUDIENCE",
    "AuthError",
    "ReplayCache",
    "SignatureError",
    "SignatureProblem",
    "Ticket",
    "User",
    "verify_signature",
    "verify_ticket",
]

AUDIENCE = "watercooler"
SIGNATURE_PREFIX = "v1="


@dataclass(frozen=True, slots=True)
class User:
    """The user behind a connection, as other peers see it."""

    id: int | str | None
    username: str

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username}


ANONYMOUS = User(id=None, username="anonymous")


@dataclass(frozen=True, slots=True)
class Ticket:
    """A verified realtime ticket: this user may join this sprint."""

    user: User
    sprint: int


class AuthError(Exception):
    """A websocket that may not stay: carries the close code to send."""

    def __init__(self, code: Close, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _user_id(sub: Any) -> int | str:
    if not isinstance(sub, str) or not sub:
        raise AuthError(Close.UNAUTHORIZED, "token has no subject")
    return int(sub) if sub.isdecimal() else sub


def _decode(token: str, secret: str, previous: str | None) -> dict[str, Any]:
    """The claims of ``token`` signed with ``secret``, else with ``previous`` (rotation)."""
    for key in (secret, previous):
        if not key:
            continue
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["HS256"], audience=AUDIENCE,
                options={"require": ["exp", "sub", "aud", "sprint"]})
            return claims
        except jwt.InvalidSignatureError:
            if key is previous or not previous:
                raise
    raise jwt.InvalidSignatureError("no secret")


def verify_ticket(token: str | None, *, secret: str, sprint: int,
                  previous: str | None = None) -> Ticket:
    """Check a ticket for ``sprint``. Raises ``AuthError`` (4001 bad token, 4003 other sprint).

    Expiry is checked here, at connect time only: an open connection outlives its token.
    ``previous`` (the secret being rotated out) is accepted too while it is set.
    """
    if not token:
        raise AuthError(Close.UNAUTHORIZED, "token missing")
    try:
        claims = _decode(token, secret, previous)
    except jwt.ExpiredSignatureError:
        raise AuthError(Close.UNAUTHORIZED, "token expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(Close.UNAUTHORIZED, f"token invalid: {exc}") from None
    claimed = claims.get("sprint")
    if isinstance(claimed, bool) or not isinstance(claimed, int):
        raise AuthError(Close.UNAUTHORIZED, "token has no sprint")
    if claimed != sprint:
        raise AuthError(Close.FORBIDDEN, f"token is for sprint {claimed}")
    username = claims.get("username")
    if not isinstance(username, str):
        username = str(claims["sub"])
    return Ticket(user=User(id=_user_id(claims["sub"]), username=username), sprint=sprint)


# --- POST /events/ -------------------------------------------------------------------------


class SignatureProblem(StrEnum):
    """``error`` of a 401 answer to ``POST /events/``."""

    MISSING = "missing_signature"
    BAD = "bad_signature"
    STALE = "stale"
    REPLAYED = "replayed"


class SignatureError(Exception):
    def __init__(self, problem: SignatureProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


class ReplayCache:
    """Signatures seen inside the replay window. Bounded: the oldest are forgotten first.

    Security caveat: past ``max_size`` live entries, the oldest signature could be replayed
    inside its window; size the cache above the expected request rate times the window.
    """

    def __init__(self, *, window: float, max_size: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.window = window
        self.max_size = max_size
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, signature: str, timestamp: float) -> bool:
        """Remember ``signature``; True if it was already there (a replay)."""
        self._prune()
        if signature in self._seen:
            return True
        self._seen[signature] = timestamp + self.window
        while len(self._seen) > self.max_size:
            self._seen.popitem(last=False)
        return False

    def _prune(self) -> None:
        now = self._clock()
        while self._seen:
            signature, expires = next(iter(self._seen.items()))
            if expires >= now:
                break
            del self._seen[signature]


def verify_signature(body: bytes, timestamp: str | None, signature: str | None, *,
                     secret: str, replay: ReplayCache,
                     clock: Callable[[], float] = time.time, previous: str | None = None) -> None:
    """Check the §7 headers of ``POST /events/``. Raises ``SignatureError``.

    ``previous`` (the secret being rotated out) is accepted too while it is set.
    """
    if not timestamp or not signature:
        raise SignatureError(SignatureProblem.MISSING,
                             "X-Watercooler-Timestamp and X-Watercooler-Signature are required")
    well_formed = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    if not well_formed or not signature.startswith(SIGNATURE_PREFIX):
        raise SignatureError(SignatureProblem.BAD, "expected a Unix timestamp and v1=<hex>")
    given = signature[len(SIGNATURE_PREFIX):]
    signed = timestamp.encode() + b"." + body
    if not any(hmac.compare_digest(hmac.new(key.encode(), signed, hashlib.sha256)
                                   .hexdigest().encode(), given.encode("utf-8", "replace"))
               for key in (secret, previous) if key):
        raise SignatureError(SignatureProblem.BAD, "signature does not match the body")
    sent = int(timestamp)
    if abs(clock() - sent) > replay.window:
        raise SignatureError(SignatureProblem.STALE,
                             f"timestamp is more than {replay.window:g} s from the server clock")
    if replay.seen(given, sent):
        raise SignatureError(SignatureProblem.REPLAYED, "this signature was already used")
