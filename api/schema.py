"""OpenAPI schema: every error response the API can give, documented with its body.

drf-spectacular documents the success responses a view declares. The errors come from
layers every endpoint shares (authentication, throttling, parsers, `api.middleware`,
`api.errors`), so this postprocessing hook adds them to every operation by rule rather
than view by view, and endpoints added later get them too:

* 400 `ValidationError`: every operation (a query string or a path can always be bad);
* 401 `Error`: every operation (a wrong token is refused even where none is needed);
* 403 `Error`: unsafe methods (CSRF with session auth, permissions);
* 404 `Error`: operations with a path parameter or a `page` parameter;
* 406 `Error`: every operation (an `Accept` header the API cannot satisfy);
* 409 `Error`: unsafe methods (a concurrent change broke a database constraint);
* 412 `Conflict`: conditional writes (CONDITIONAL_WRITES: PUT/PATCH/DELETE of a task or
  sprint, a task's move) and any operation that documents an `If-Match` header;
* 413 `Error`: unsafe methods (a body over the size limit);
* 415 `Error`: operations with a request body (a content type the API does not parse);
* 429 `Error` with `Retry-After`: every operation (throttling).

A response an operation already documents is left as it is. String query parameters
also get the `maxLength` that `api.middleware` enforces.
"""

from __future__ import annotations

import re
from typing import Any

from api.limits import QUERY_VALUE_MAX_LENGTH

__all__ = ["CONDITIONAL_WRITES", "add_error_responses"]

_UNSAFE = {"post", "put", "patch", "delete"}
_METHODS = _UNSAFE | {"get", "head", "options", "trace"}
#: (path pattern, methods) of writes refused with 412 when If-Match names a stale version.
CONDITIONAL_WRITES = (
    (re.compile(r"^/api/(tasks|sprints)/\{[^/}]+\}/$"), {"put", "patch", "delete"}),
    (re.compile(r"^/api/tasks/\{[^/}]+\}/move/$"), {"post"}),
)

_CODES = ("`invalid`, `parse_error`, `not_authenticated`, `authentication_failed`, "
          "`permission_denied`, `not_found`, `not_acceptable`, `concurrent_change`, "
          "`conflict`, `too_large`, `unsupported_media_type`, `throttled`, `bad_request`, ...")
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "The API's error body.",
        "properties": {
            "error": {"type": "string", "description": f"Machine-readable code: {_CODES}"},
            "message": {"type": "string", "description": "One human sentence."},
        },
        "required": ["error", "message"],
    },
    "ValidationError": {
        "type": "object",
        "description": "The error body of a 400: `fields` names each bad field or "
                       "parameter (`non_field_errors` for the object as a whole); a body "
                       "that cannot be parsed at all has no `fields`.",
        "properties": {
            "error": {"type": "string", "description": "`invalid` or `parse_error`."},
            "message": {"type": "string", "description": "The first bad field and why."},
            "fields": {"type": "object",
                       "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        },
        "required": ["error", "message"],
    },
    "Conflict": {
        "type": "object",
        "description": "412: the `If-Match` version is not the current one; `current` is "
                       "the object as it is now.",
        "properties": {
            "error": {"type": "string", "enum": ["conflict"]},
            "message": {"type": "string"},
            "current": {"type": "object"},
        },
        "required": ["error", "message", "current"],
    },
}

_DESCRIPTIONS = {
    "400": "Bad input: a field, query parameter, path or body the API refuses.",
    "401": "No credentials, or wrong ones.",
    "403": "Not allowed (or a session request without its CSRF token).",
    "404": "No such object (or page).",
    "406": "The Accept header asks for a representation the API does not give.",
    "409": "Another request changed the same data at the same time; nothing was saved.",
    "412": "The object changed since the version named in If-Match.",
    "413": "The request body is over the size limit.",
    "415": "The request body's content type is not one the API parses.",
    "429": "Too many requests: wait for Retry-After seconds.",
}


def add_error_responses(result: dict[str, Any], generator: Any = None, request: Any = None,
                        public: bool = True) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (POSTPROCESSING_HOOKS): the table above."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in ERROR_SCHEMAS.items():
        schemas.setdefault(name, schema)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, method, operation):
                responses.setdefault(status, _response(status, path, item, operation))
            _bound_query_parameters(operation)
    return result


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    names = {(p.get("in"), str(p.get("name", "")).lower()) for p in parameters}
    statuses = ["400", "401", "406", "429"]
    if method in _UNSAFE:
        statuses += ["403", "409", "413"]
    if "requestBody" in operation:
        statuses.append("415")
    if "{" in path or ("query", "page") in names:
        statuses.append("404")
    if ("header", "if-match") in names or any(
            pattern.match(path) and method in methods for pattern, methods in CONDITIONAL_WRITES):
        statuses.append("412")
    return sorted(statuses)


def _response(status: str, path: str, item: dict[str, Any],
              operation: dict[str, Any]) -> dict[str, Any]:
    name = {"400": "ValidationError", "412": "Conflict"}.get(status, "Error")
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    if status == "412":
        current = _representation(item, operation)
        if current is not None:
            schema = {"allOf": [schema, {"type": "object", "properties": {"current": current}}]}
    response: dict[str, Any] = {"description": _DESCRIPTIONS[status],
                                "content": {"application/json": {"schema": schema}}}
    if status == "429":
        response["headers"] = {"Retry-After": {
            "description": "Seconds until a request may succeed.",
            "schema": {"type": "integer"}}}
    return response


def _representation(item: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of the object a write changes: its own 2xx body, else the path's GET."""
    for candidate in (operation, item.get("get", {})):
        for status, response in sorted(candidate.get("responses", {}).items()):
            if status.startswith("2"):
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema is not None:
                    return schema
    return None


def _bound_query_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        plain = "enum" not in schema and "format" not in schema  # those bound themselves
        if parameter.get("in") == "query" and schema.get("type") == "string" and plain:
            schema["maxLength"] = min(schema.get("maxLength", QUERY_VALUE_MAX_LENGTH),
                                      QUERY_VALUE_MAX_LENGTH)
