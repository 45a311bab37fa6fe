"""Serializer fields with the API's bounds (api/limits.py) on what they look up."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.limits import USERNAME_MAX_LENGTH

__all__ = ["UsernameField"]


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": USERNAME_MAX_LENGTH,
                      "description": "A username."})
class UsernameField(serializers.SlugRelatedField):
    """A user named by username. Longer than a username can be: refused before the lookup
    (whose "does not exist" message would echo the whole value back)."""

    default_error_messages = {
        "max_length": f"Ensure this field has no more than {USERNAME_MAX_LENGTH} characters.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="username", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and len(data) > USERNAME_MAX_LENGTH:
            self.fail("max_length")
        return super().to_internal_value(data)
