"""Conditional requests (RFC 9110 §13): `ETag: "<version>"` out, `If-Match` in, 412 back.

Every task and sprint has an integer `version`; its strong ETag is `"<version>"`. A write
with `If-Match` goes through only if one of the listed tags is the current version (`*`:
any version); otherwise 412 with the current representation (docs/api.md).
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.board.services import ExpectedVersion, VersionConflict

#: Bounds on the header: a client that needs more is doing something else.
MAX_IF_MATCH_LENGTH = 1024
MAX_IF_MATCH_TAGS = 32
# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_VERSION = re.compile(r"[1-9][0-9]{0,17}")


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request) -> ExpectedVersion:
    """The versions `If-Match` accepts: None without the header or with `*`.

    Weak tags (`W/"3"`) and tags that are not one of our versions never match (If-Match
    compares strongly), so a list of only such tags yields an empty set: always 412.
    Raises a 400 naming `If-Match` when the header is not a list of entity-tags.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    if len(header) > MAX_IF_MATCH_LENGTH:
        _malformed(f"longer than {MAX_IF_MATCH_LENGTH} characters.")
    value = header.strip()
    if value == "*":
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        _malformed('expected "*" or a list of entity-tags such as "3".')
    if len(items) > MAX_IF_MATCH_TAGS:
        _malformed(f"more than {MAX_IF_MATCH_TAGS} entity-tags.")
    versions = set()
    for item in items:
        match = _ENTITY_TAG.fullmatch(item)
        if match is None:
            _malformed(f'{item[:40]!r} is not an entity-tag (a version in quotes, e.g. "3").')
            continue
        weak, opaque = match.groups()
        if not weak and _VERSION.fullmatch(opaque):
            versions.add(int(opaque))
    return frozenset(versions)


def _malformed(reason: str) -> None:
    raise serializers.ValidationError({"If-Match": [f"Malformed header: {reason}"]})


def with_etag(response: Response, version: int) -> Response:
    response["ETag"] = etag(version)
    return response


def conflict_response(conflict: VersionConflict, representation: dict[str, Any]) -> Response:
    """412 `{"error": "conflict", "message", "current"}`, with the current ETag."""
    body = {"error": "conflict", "message": str(conflict), "current": representation}
    return with_etag(Response(body, status=412), conflict.current.version)


# --- OpenAPI ---------------------------------------------------------------------------

IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=False,
    description='Write only if the object is still at this version: `"3"`, a list '
                '(`"3", "4"`) or `*`. Stale: 412 with the current state; malformed: 400. '
                "Without it the write happens whatever the version (last write wins).")
ETAG = OpenApiParameter(
    "ETag", str, OpenApiParameter.HEADER, response=[200, 201, 412],
    description='The object\'s version as a strong entity-tag, e.g. `"3"`.')


def conflict_schema(name: str, representation: type[serializers.Serializer]) -> OpenApiResponse:
    body = inline_serializer(name=f"{name}Conflict", fields={
        "error": serializers.ChoiceField(choices=["conflict"]),
        "message": serializers.CharField(),
        "current": representation(),
    })
    return OpenApiResponse(body, description="If-Match is stale: nothing changed; `current` "
                                             "is the object as it is now.")
