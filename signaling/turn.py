"""Time-limited TURN credentials for ``welcome.ice_servers`` (coturn's TURN REST API scheme).

coturn (``use-auth-secret`` + ``static-auth-secret``) and the realtime server share a
secret. For each connection the server derives a credential that coturn can check with
the secret alone, without a user database or a call back to us:

* ``username`` = ``"<expiry unix time>:<user id>"``
* ``credential`` = ``base64(HMAC-SHA1(secret, username))``

coturn refuses the credential once the expiry has passed. Security caveat: anyone who
holds a credential can relay through the TURN server until it expires, so keep the TTL
no longer than a working session needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_TTL", "TurnCredential", "check_turn_urls", "turn_credential",
           "turn_ice_servers"]

#: One day, as the TURN REST API draft suggests: long enough to keep a sprint's
#: allocations refreshed through a working day, short enough that a leaked one dies.
DEFAULT_TTL = 86_400.0
TURN_SCHEMES = ("turn:", "turns:")


@dataclass(frozen=True, slots=True)
class TurnCredential:
    """A username/credential pair for ``RTCIceServer``."""

    username: str
    credential: str
    expires: int


def turn_credential(secret: str, user: int | str | None, *, ttl: float = DEFAULT_TTL,
                    now: float | None = None) -> TurnCredential:
    """The coturn REST-API credential for ``user``, valid ``ttl`` seconds from ``now``."""
    if not secret:
        raise ValueError("a TURN secret is required")
    expires = int((time.time() if now is None else now) + ttl)
    username = f"{expires}:{'anonymous' if user is None else user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username=username, credential=base64.b64encode(digest).decode(),
                          expires=expires)


def check_turn_urls(urls: Sequence[str]) -> None:
    """Raise ``ValueError`` for a URL that is not ``turn:`` or ``turns:``."""
    for url in urls:
        if not url.startswith(TURN_SCHEMES):
            raise ValueError(f"TURN URL {url!r} must start with turn: or turns:")


def turn_ice_servers(urls: Sequence[str], secret: str | None, user: int | str | None, *,
                     ttl: float = DEFAULT_TTL, now: float | None = None) -> list[dict[str, Any]]:
    """The TURN part of ``welcome.ice_servers`` for one connection of ``user``.

    Empty without URLs or without a secret: a credential is never made up, and the
    secret itself never leaves the server (``signaling.server`` refuses ``--turn-url``
    without a secret at start-up).
    """
    if not urls or not secret:
        return []
    cred = turn_credential(secret, user, ttl=ttl, now=now)
    return [{"urls": list(urls), "username": cred.username, "credential": cred.credential}]
