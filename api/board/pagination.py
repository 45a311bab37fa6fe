"""Pagination of every list: `{count, next, previous, results}`, `?page_size=` capped at 100."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class BoardPagination(PageNumberPagination):
    """50 per page by default; `page_size` above 100 is capped to 100, not refused; a
    `page_size` that is not a whole number >= 1 is a 400 naming it (DRF would ignore it
    and answer 50 per page, which a client cannot tell from what it asked for)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: [
                f"Must be a whole number from 1 (at most {self.max_page_size} are answered)."]})
        return min(int(raw), self.max_page_size)
