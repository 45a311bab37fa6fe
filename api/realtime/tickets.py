"""Realtime tickets: a websocket URL plus a signed JWT for one user and one sprint (protocol §1)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings

#: The `aud` claim the realtime server requires.
AUDIENCE = "watercooler"


@dataclass(frozen=True)
class Ticket:
    url: str
    token: str
    expires: datetime.datetime


def ticket_issue(*, user: Any, sprint_id: int) -> Ticket:
    """A ticket for `user` to join `sprint_id`, valid REALTIME_TOKEN_TTL seconds.

    Signed HS256 with REALTIME_SECRET (never SECRET_KEY): the realtime server checks it
    with the shared secret alone.
    """
    now = datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)
    expires = now + datetime.timedelta(seconds=settings.REALTIME_TOKEN_TTL)
    claims = {
        "sub": str(user.pk),
        "username": user.get_username(),
        "sprint": int(sprint_id),
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(claims, settings.REALTIME_SECRET, algorithm="HS256")
    url = f"{settings.REALTIME_PUBLIC_URL.rstrip('/')}/{int(sprint_id)}/"
    return Ticket(url=url, token=token, expires=expires)
