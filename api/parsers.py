"""Request body parsers that no body can crash: every input is data or a 400.

DRF's own parsers hand the stdlib's `json` a body of any depth (a body nested 100,000
deep raises RecursionError: a 500), turn `1e999` into infinity (stored as the text
"inf"), and pass on strings that PostgreSQL cannot store (NUL characters; lone UTF-16
surrogates, which psycopg cannot encode). Field validators catch some of those for text
fields, but not for every field that reaches the database (a username looked up for
`assigned`, a slug, whatever an endpoint adds later). These parsers refuse them for the
whole body, before any view sees it:

* nesting deeper than `JSON_MAX_DEPTH`: counted on the raw text, iteratively, before the
  recursive parser runs -> 400 `parse_error`;
* numbers out of a float's range -> 400 `parse_error` (NaN and Infinity already are);
* NUL or a lone surrogate in any string, key or value, of JSON or form data -> 400
  `invalid`, naming the top-level field.

Body size is bounded before parsing by DATA_UPLOAD_MAX_MEMORY_SIZE (413, `api.middleware`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from api.limits import JSON_MAX_DEPTH

__all__ = ["FormParser", "JSONParser", "MultiPartParser", "json_too_deep", "unstorable_fields"]

# A JSON string: a quote, then runs of plain characters or escape pairs, then a quote
# ("unrolled loop" form: linear, no backtracking).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
# NUL, or a surrogate code point: json.loads joins valid escaped pairs into one code
# point, so any surrogate left in a decoded string is a lone one.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def json_too_deep(text: str, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether arrays and objects in `text` nest deeper than `limit`, without parsing it.

    Brackets inside strings do not count. On malformed text the answer may be too high,
    never too low for the part a parser would read before failing: that part is valid
    JSON, whose strings the pattern finds exactly as a parser does.
    """
    if text.count("[") + text.count("{") <= limit:
        return False  # the common case: cannot be deeper than the number of openers
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def unstorable_fields(data: Any) -> dict[str, list[str]]:
    """`{top-level field: [message]}` for each field holding a NUL or a lone surrogate
    anywhere inside it (nested values and keys included)."""
    if isinstance(data, QueryDict):
        items: Iterator[tuple[Any, Any]] = iter(data.lists())
    elif isinstance(data, Mapping):
        items = iter(data.items())
    else:
        items = iter([("non_field_errors", data)])
    errors: dict[str, list[str]] = {}
    for field, value in items:
        problem = _first_unstorable([field, value])
        if problem is not None:
            errors[_printable(str(field))] = [problem]
    return errors


def _printable(name: str) -> str:
    """`name` with NUL and lone surrogates written as JSON escapes: a key holding one must
    not make the error that names it unencodable (a 500)."""
    return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", name)


def _first_unstorable(value: Any) -> str | None:
    """The message for the first NUL or lone surrogate in `value` (walked iteratively)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found = _UNSTORABLE.search(item)
            if found is None:
                continue
            if found.group() == "\x00":
                return "Null characters are not allowed."
            return f"Surrogate characters are not allowed: U+{ord(found.group()):X}."
        if isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return None


def _refuse_unstorable(data: Any) -> Any:
    errors = unstorable_fields(data)
    if errors:
        raise ValidationError(errors)
    return data


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ParseError(f"Number out of range in the request body: {text[:40]}.")
    return value


def _no_constant(name: str) -> float:
    raise ParseError(f"{name} is not allowed in JSON.")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the bounds above."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The request body is not valid {encoding}: {exc}.") from exc
        if json_too_deep(text):
            raise ParseError(f"The request body nests arrays and objects deeper than "
                             f"{JSON_MAX_DEPTH} levels.")
        try:
            data = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
        except ValueError as exc:  # also the digit limit of huge integers
            raise ParseError(f"JSON parse error - {exc}") from exc
        return _refuse_unstorable(data)


class FormParser(parsers.FormParser):
    """DRF's form parser (the browsable API's forms), refusing NUL characters."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        return _refuse_unstorable(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing NUL characters in the form's fields."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_unstorable(parsed.data)
        return parsed
