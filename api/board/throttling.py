"""Rate limits of the API (DRF throttling), named in REST_FRAMEWORK's settings.

Imports nothing of DRF's views: DRF loads the default throttle classes while its
``APIView`` class is being created.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

if TYPE_CHECKING:
    from rest_framework.request import Request

__all__ = ["AnonThrottle", "LoginThrottle", "UserThrottle"]

log = logging.getLogger(__name__)


class FailOpen(SimpleRateThrottle):
    """A throttle that lets requests through while its cache (Redis) is unreachable.

    The counts are a defence, not the service: an outage of the cache must not turn
    every API request into a 500. It is logged on every request it lets through.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            log.warning("throttle %s: cache unreachable, request let through: %s",
                        self.scope, exc)
            return True


class UserThrottle(FailOpen, UserRateThrottle):
    """`API_THROTTLE_USER`: requests per signed-in user."""


class AnonThrottle(FailOpen, AnonRateThrottle):
    """`API_THROTTLE_ANON`: requests without credentials, per address, to the endpoints
    open to them (elsewhere the 401 comes first)."""


class LoginThrottle(FailOpen):
    """`API_THROTTLE_LOGIN`: token logins per client address, whoever the request
    claims to be (a valid token on the request does not buy a bucket of its own)."""

    scope = "login"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
