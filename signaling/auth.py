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
    "NonceClaim",
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


class NonceClaim(StrEnum):
    """What the replay memory says of a ``POST /events/`` nonce (docs/protocol.md §7)."""

    FRESH = "fresh"  # not seen: now taken
    REPLAYED = "replayed"  # seen inside the window
    #: Signed before the replay memory begins (the node's start with the memory broker,
    #: Redis's restart with the Redis broker): it may have been seen before, so it is
    #: refused like a stale timestamp; a sender signs its retries again.
    BEFORE_MEMORY = "before_memory"


class ReplayCache:
    """Nonces seen by this process: the replay memory of a node with the memory broker.

    The memory begins when the cache is made (the node's start): a request whose
    timestamp is older is refused, as nothing remembers whether it was seen before a
    restart. Bounded: the oldest nonces are forgotten first. Security caveat: past
    ``max_size`` live entries, the oldest nonce could be replayed inside its window; size
    the cache above the expected request rate times twice the window.
    """

    def __init__(self, *, max_size: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_size = max_size
        self._clock = clock
        #: Unix second from which this memory is complete.
        self.since = int(clock())
        self._seen: OrderedDict[str, float] = OrderedDict()

    def claim(self, nonce: str, timestamp: int, ttl: float) -> NonceClaim:
        """Take ``nonce`` for ``ttl`` seconds, unless it was taken or predates the memory."""
        if timestamp < self.since:
            return NonceClaim.BEFORE_MEMORY
        self._prune()
        if nonce in self._seen:
            return NonceClaim.REPLAYED
        self._seen[nonce] = self._clock() + ttl
        while len(self._seen) > self.max_size:
            self._seen.popitem(last=False)
        return NonceClaim.FRESH

    def release(self, nonce: str) -> None:
        """Forget ``nonce``: its request failed, and the same request may come again."""
        self._seen.pop(nonce, None)

    def _prune(self) -> None:
        now = self._clock()
        while self._seen:
            nonce, expires = next(iter(self._seen.items()))
            if expires >= now:
                break
            del self._seen[nonce]


def verify_signature(body: bytes, timestamp: str | None, signature: str | None, *,
                     secret: str, window: float, clock: Callable[[], float] = time.time,
                     previous: str | None = None) -> int:
    """Check the §7 headers of ``POST /events/``; the timestamp. Raises ``SignatureError``.

    Stateless: replays are caught by the nonce inside the signed body, which the caller
    claims once the body is known to be well formed (``Broker.claim_nonce``), so a request
    refused here or for its content leaves no trace that could refuse its retry.
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
    if abs(clock() - sent) > window:
        raise SignatureError(SignatureProblem.STALE,
                             f"timestamp is more than {window:g} s from the server clock")
    return sent
