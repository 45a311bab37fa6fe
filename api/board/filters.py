"""Query filters for the board's lists (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from api.board.models import Sprint, Task


class SprintFilter(django_filters.FilterSet):
    """`end_min` / `end_max`: sprints ending within a date range (inclusive)."""

    end_min = django_filters.DateFilter(field_name="end", lookup_expr="gte")
    end_max = django_filters.DateFilter(field_name="end", lookup_expr="lte")

    class Meta:
        model = Sprint
        fields = ("end_min", "end_max")


class TaskFilter(django_filters.FilterSet):
    """`sprint` (id), `backlog=true`, `status`, `assigned` (username), `due_min` / `due_max`."""

    # `true` or `false`, nothing else: a BooleanFilter would ignore `backlog=maybe` and
    # answer every task, which looks like an answer to the question asked.
    backlog = django_filters.TypedChoiceFilter(
        method="filter_backlog", choices=(("true", "true"), ("false", "false")),
        coerce=lambda value: value == "true", label="Only tasks in the backlog (no sprint)")
    assigned = django_filters.CharFilter(field_name="assigned__username",
                                         label="Username of the assignee")
    due_min = django_filters.DateFilter(field_name="due", lookup_expr="gte")
    due_max = django_filters.DateFilter(field_name="due", lookup_expr="lte")

    class Meta:
        model = Task
        fields = ("sprint", "status", "backlog", "assigned", "due_min", "due_max")

    def filter_backlog(self, queryset: QuerySet[Task], name: str, value: bool) -> QuerySet[Task]:
        return queryset.filter(sprint__isnull=value)
