"""Django admin for sprints and tasks; bulk deletes go through `Model.delete()` (events)."""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from api.board.models import Sprint, Task


class OutboxAwareAdmin(admin.ModelAdmin):
    """The "delete selected" action deletes one object at a time, each recording its event."""

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                obj.delete()


@admin.register(Sprint)
class SprintAdmin(OutboxAwareAdmin):
    list_display = ("id", "name", "end")
    search_fields = ("name", "description")
    date_hierarchy = "end"


@admin.register(Task)
class TaskAdmin(OutboxAwareAdmin):
    list_display = ("id", "name", "sprint", "status", "order", "assigned", "due")
    list_filter = ("status", "sprint")
    search_fields = ("name", "description")
    list_select_related = ("sprint", "assigned")
