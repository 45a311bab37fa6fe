"""`?ordering=`: a field the list cannot be sorted by is a 400 naming it, not ignored.

DRF's OrderingFilter drops unknown fields silently, so `?ordering=priority` answers in the
default order and the client never learns its mistake. This one refuses them and lists
the fields it accepts; the OpenAPI schema documents them as a pattern.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

__all__ = ["StrictOrderingFilter"]


class StrictOrderingFilter(filters.OrderingFilter):
    """OrderingFilter that answers 400 for a term naming no orderable field."""

    def remove_invalid_fields(self, queryset: QuerySet[Any], fields: list[str], view: Any,
                              request: Request) -> list[str]:
        terms = [term for term in fields if term]  # "name," is "name"
        valid = super().remove_invalid_fields(queryset, terms, view, request)
        unknown = [term for term in terms if term not in valid]
        if unknown:
            choices = [name for name, _ in
                       self.get_valid_fields(queryset, view, {"request": request})]
            raise ValidationError({self.ordering_param: [
                f"Cannot order by {', '.join(unknown)}: choose from {', '.join(choices)} "
                "(a leading - reverses)."]})
        return valid

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        fields = getattr(view, "ordering_fields", None)
        if not isinstance(fields, list | tuple):
            return parameters  # derived from a serializer: not known without a request
        term = f"-?(?:{'|'.join(re.escape(name) for name in fields)})"
        for parameter in parameters:
            parameter["description"] = (
                f"Comma-separated fields to sort by, each from {', '.join(fields)}; a leading "
                "- reverses. An unknown field is a 400.")
            parameter["schema"]["pattern"] = f"^{term}(?:,{term})*$"
        return parameters
