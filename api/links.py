"""Absolute links: the current request's origin in a contextvar, else SITE_URL.

API responses and outbox events build links the same way, so an event's `data` is
byte-for-byte what the API returns for the object, even when it is built inside
`Model.save()` far from any request object.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

_request_origin: ContextVar[str | None] = ContextVar("request_origin", default=None)


def current_origin() -> str:
    """`scheme://host` of the request being handled, or SITE_URL outside requests."""
    return _request_origin.get() or settings.SITE_URL


def absolute_url(viewname: str, *, kwargs: dict[str, object] | None = None,
                 query: dict[str, object] | None = None) -> str:
    """The absolute URL of a named route, with an optional query string."""
    url = current_origin() + reverse(viewname, kwargs=kwargs)
    return f"{url}?{urlencode(query)}" if query else url


class RequestOriginMiddleware:
    """Stores `request.scheme + host` for the duration of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request_origin.set(f"{request.scheme}://{request.get_host()}")
        try:
            return self.get_response(request)
        finally:
            _request_origin.reset(token)
