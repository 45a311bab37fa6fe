"""Pagination of every list: `{count, next, previous, results}`, `?page_size=` capped at 100."""

from rest_framework.pagination import PageNumberPagination


class BoardPagination(PageNumberPagination):
    """50 per page by default; `page_size` above 100 is capped to 100, not refused."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
