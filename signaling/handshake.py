"""The websocket handshake's checks, and what a connection drops once it is open.

Who may open ``/<sprint>/``: a browser from an ``--allowed-origin`` (any in debug mode),
with a ticket for that sprint (none in debug mode: ``anonymous``). The connection limits
per address and user are ``signaling.admission``'s. Once a connection is open, what only
the handshake needed is dropped (``shed_handshake``): a connection lives for hours and
idle connections are what a node holds most of.
"""

from __future__ import annotations

import logging

import tornado.web
from tornado.httputil import HTTPHeaders

from signaling.auth import ANONYMOUS, AuthError, User, verify_ticket
from signaling.config import Config
from signaling.protocol import Close

__all__ = ["origin_allowed", "shed_handshake", "sprint_id", "ticket_user"]

log = logging.getLogger(__name__)

_MAX_SPRINT_DIGITS = 18  # a sprint id fits a 64-bit integer


class _NoHeaders(HTTPHeaders):
    """Empty and read-only: stands in for the request's and the 101's headers once a
    connection is open, one shared instance for every connection."""

    def _refuse(self, *args: object) -> None:
        raise TypeError("the headers of an open websocket cannot change")

    add = __setitem__ = __delitem__ = _refuse  # type: ignore[assignment]


_NO_HEADERS = _NoHeaders()


def origin_allowed(origin: str, config: Config) -> bool:
    """Whether a browser's ``Origin`` may connect: an ``--allowed-origin`` (any in debug mode).

    Clients that send no Origin (scripts, ``peer/``) are not checked: Tornado asks only
    when the header is present; they still need a ticket.
    """
    if config.debug:
        return True
    allowed = origin.rstrip("/").lower() in config.allowed_origins
    if not allowed:
        log.warning("origin %r refused (allowed: %s)", origin, ", ".join(
            config.allowed_origins))
    return allowed


def sprint_id(path_part: str) -> int:
    """The sprint of ``/<sprint>/`` (digits, by the route); ``AuthError`` 4003 if too long."""
    if len(path_part) > _MAX_SPRINT_DIGITS:
        raise AuthError(Close.FORBIDDEN, "no such sprint")
    return int(path_part)


def ticket_user(token: str | None, sprint: int, config: Config) -> User:
    """The user of a ticket for ``sprint``; ``AuthError`` (4001, 4003) if it is not one.

    In debug mode a connection without a token is ``anonymous``.
    """
    if not token and config.debug:
        return ANONYMOUS
    return verify_ticket(token, secret=config.secret, sprint=sprint,
                         previous=config.previous_secret).user


def shed_handshake(handler: tornado.web.RequestHandler) -> None:
    """Drop what only the handshake needed; a connection lives for hours.

    The request headers (a browser's carry its cookies), the query string with the
    ticket (held four times over: uri, query, arguments, query_arguments), the 101's
    response headers and the template helpers Tornado gives every handler are never
    read again once the connection is open.
    """
    request = handler.request
    request.headers = _NO_HEADERS
    request.uri = request.path
    request.query = ""
    request.arguments = request.query_arguments = request.body_arguments = {}
    handler._headers = _NO_HEADERS
    handler.ui = None  # type: ignore[assignment]
