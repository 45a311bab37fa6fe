"""One error body for every 4xx of the API: `{"error", "message", "fields"?}`.

* `error`: a machine code (DRF's: `invalid`, `parse_error`, `not_authenticated`,
  `authentication_failed`, `permission_denied`, `not_found`, `method_not_allowed`, ...;
  ours: `too_large` (413), `concurrent_change` (409), and `api.error_pages`' for errors
  outside DRF's views).
* `message`: one human sentence; for validation errors it names the first bad field.
* `fields`: only for validation errors: `{field: [messages]}` (`non_field_errors` for
  errors about the object as a whole).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


class TooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"
    default_detail = "The request body is too large."


class ConcurrentChange(exceptions.APIException):
    status_code = 409
    default_code = "concurrent_change"
    default_detail = ("Another request changed the same data at the same time; nothing was "
                      "saved. Fetch it again and retry.")


def too_large_message() -> str:
    return (f"The request body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
            "bytes the API accepts.")


def error_body_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with the body rewritten into the shape above."""
    exc = _as_api_exception(exc)
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = validation_error_body(exc.detail)
    else:
        code = exc.get_codes()
        message = str(exc.detail)
        if isinstance(exc, exceptions.ParseError) and "JSON" in message:
            message = f"Malformed JSON in the request body: {message}"
        response.data = {"error": code if isinstance(code, str) else exc.default_code,
                         "message": message}
    return response


def _as_api_exception(exc: Exception) -> Exception:
    """The API error that a Django exception DRF does not know (a 500 there) stands for."""
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):  # Django's limit, found while DRF parses
        return TooLarge(too_large_message())
    if isinstance(exc, TooManyFieldsSent):
        return exceptions.ParseError(f"The form has more fields than the "
                                     f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} the API accepts.")
    if isinstance(exc, IntegrityError):
        # Validation passed, then the commit broke a constraint: another request changed
        # the same rows in between (the sprint a task moves to was deleted, two sprints
        # took the same end date). Nothing was written.
        log.warning("write refused by a database constraint, concurrent change? %s", exc)
        return ConcurrentChange()
    return exc


def validation_error_body(detail: Any) -> dict[str, Any]:
    """`{"error": "invalid", "message": "<field>: <first message>", "fields": {...}}`."""
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail if isinstance(detail, list) else [detail]}
    fields = {name: _flatten(messages) for name, messages in detail.items()}
    first_field, first_messages = next(iter(fields.items()), ("non_field_errors", ["Invalid."]))
    first = first_messages[0] if first_messages else "Invalid."
    message = first if first_field == "non_field_errors" else f"{first_field}: {first}"
    return {"error": "invalid", "message": message, "fields": fields}


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, dict):  # nested serializer
        return [f"{key}: {text}" for key, value in messages.items() for text in _flatten(value)]
    if isinstance(messages, list):
        return [text for item in messages for text in _flatten(item)]
    return [str(messages)]
