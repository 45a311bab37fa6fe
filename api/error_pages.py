"""Django's own error pages (400, 403, 404, 500) in the API's JSON error shape under /api/.

DRF answers errors raised inside its views itself (`api.errors`); these handlers cover
what happens outside them: a URL that matches no route, a request Django refuses before
any view (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields), an unhandled
exception. A client of `/api/` then always gets JSON; every other path keeps Django's
pages. Django calls them only with DEBUG off (DEBUG shows its debugging pages instead).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from api.errors import too_large_message

__all__ = ["API_PREFIX", "bad_request", "is_api_request", "json_error", "page_not_found",
           "permission_denied", "server_error", "too_large"]

#: Requests whose path starts with this get JSON errors.
API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def json_error(status: int, error: str, message: str,
               fields: dict[str, list[str]] | None = None) -> JsonResponse:
    """A response with the API's error body: `{"error", "message", "fields"?}`."""
    body: dict[str, Any] = {"error": error, "message": message}
    if fields is not None:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def too_large() -> JsonResponse:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE."""
    return json_error(413, "too_large", too_large_message())


def bad_request(request: HttpRequest, exception: Exception | None = None, *,
                message: str = "The request could not be understood.") -> HttpResponse:
    """handler400: Django refused the request (SuspiciousOperation and its kind)."""
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return too_large()
    return json_error(400, "bad_request", message)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403."""
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return json_error(403, "permission_denied",
                      "You do not have permission to perform this action.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: no route matches."""
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    return json_error(404, "not_found", "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the traceback is logged by django.request; the client learns nothing
    of it."""
    if not is_api_request(request):
        return defaults.server_error(request)
    return json_error(500, "server_error", "A server error occurred.")
