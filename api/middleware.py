"""Refuses, before any view runs, the parts of a request no view can be trusted with.

On every path: a NUL character in a header (`Authorization: Token a<NUL>b`) or a cookie
(also written `sessionid="a\\000b"`, which Django's cookie parser unquotes to a NUL) ->
400 (JSON under /api/, Django's page elsewhere). Token and session lookups would hand it
to PostgreSQL: a 500, through gunicorn too for the quoted cookie.

Under /api/ only (`api.error_pages.API_PREFIX`), for every endpoint present or future:

* a NUL character in the URL path (PostgreSQL cannot compare text with NUL: a lookup
  such as `/api/users/de%00mo/` was a 500) -> 400 `invalid`;
* a body whose Content-Length is over DATA_UPLOAD_MAX_MEMORY_SIZE -> 413 `too_large`,
  before authentication reads anything (Django alone only checks when a view reads the
  body, and answers with an HTML 400);
* a query string with more parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS -> 400;
* a query parameter (name or value) holding a NUL character, or a value longer than
  QUERY_VALUE_MAX_LENGTH -> 400 `invalid` naming the parameter.

Request bodies are checked by `api.parsers`. Leave `request.POST` alone here: DRF must
read the body itself.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse

from api.error_pages import bad_request, is_api_request, json_error, too_large
from api.errors import validation_error_body
from api.limits import QUERY_VALUE_MAX_LENGTH

__all__ = ["ApiInputMiddleware", "query_errors"]


class ApiInputMiddleware:
    """The checks above; outside /api/ only headers and cookies are checked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _nul_in_headers(request):
            return bad_request(request, message="A request header or cookie contains a null "
                                                "character.")
        if is_api_request(request):
            refusal = _refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)


def _nul_in_headers(request: HttpRequest) -> bool:
    headers = (value for name, value in request.META.items() if name.startswith("HTTP_"))
    cookies = (text for item in request.COOKIES.items() for text in item)
    return any("\x00" in text for text in (*headers, *cookies) if isinstance(text, str))


def _refusal(request: HttpRequest) -> HttpResponse | None:
    if "\x00" in request.path_info:
        return json_error(400, "invalid", "The URL path contains a null character.")
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and _content_length(request) > limit:
        return too_large()
    try:
        errors = query_errors(request)
    except TooManyFieldsSent:
        return json_error(400, "invalid", "The query string has more parameters than the "
                          f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} the API accepts.")
    if errors:
        return json_error(400, **validation_error_body(errors))
    return None


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # as Django reads it: no body


def query_errors(request: HttpRequest) -> dict[str, list[str]]:
    """`{parameter: [message]}` for query parameters with a NUL or a value too long."""
    errors: dict[str, list[str]] = {}
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            errors[name.replace("\x00", "\\u0000")] = ["Null characters are not allowed."]
            continue
        longest = max((len(value) for value in values), default=0)
        if longest > QUERY_VALUE_MAX_LENGTH:
            errors[name] = [f"Ensure this value has at most {QUERY_VALUE_MAX_LENGTH} "
                            f"characters (it has {longest})."]
    return errors
