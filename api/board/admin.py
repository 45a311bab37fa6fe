"""Django admin for sprints and tasks: every save and delete goes through the services.

So an admin's edit applies the board's rules, bumps `version`, places the task in its
column and reaches realtime subscribers like any other change. The task form checks the
date rules itself (`rules.py`) so that a broken one shows on the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from api.board import services
from api.board.models import Sprint, Task
from api.board.rules import TaskDates, apply_status_dates, sprint_closed_error, task_errors


class TaskAdminForm(forms.ModelForm):
    """Shows the errors the services would raise: dates after the rules, ended sprints."""

    class Meta:
        model = Task
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        stored = self.instance if self.instance.pk else None
        today = timezone.localdate()
        sprint = data.get("sprint")
        if sprint is not None and (stored is None or stored.sprint_id != sprint.pk):
            error = sprint_closed_error(sprint, today=today)
            if error:
                self.add_error("sprint", error)
        dates = apply_status_dates(
            old_status=stored.status if stored else None, today=today,
            explicit=[f for f in ("started", "completed") if f in self.changed_data],
            new=TaskDates(status=data["status"], started=data.get("started"),
                          completed=data.get("completed")))
        for field, message in task_errors(dates).items():
            self.add_error(field, message)
        return data


class ServiceAdmin(admin.ModelAdmin):
    """Saves and deletes through the services (`create` / `update` / `delete` below)."""

    readonly_fields: tuple[str, ...] = ("version",)

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm,
                   change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        saved = (self.update(obj, request.user, changes) if change
                 else self.create(request.user, form.cleaned_data))
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete(obj, request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete(obj, request.user)

    def create(self, actor: Any, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def update(self, obj: Any, actor: Any, changes: dict[str, Any]) -> Model:
        raise NotImplementedError

    def delete(self, obj: Any, actor: Any) -> None:
        raise NotImplementedError


@admin.register(Sprint)
class SprintAdmin(ServiceAdmin):
    list_display = ("id", "name", "end", "version")
    search_fields = ("name", "description")
    date_hierarchy = "end"

    def create(self, actor: Any, data: dict[str, Any]) -> Sprint:
        return services.sprint_create(actor=actor, **data)

    def update(self, obj: Sprint, actor: Any, changes: dict[str, Any]) -> Sprint:
        return services.sprint_update(sprint=obj, actor=actor, expected_version=None,
                                      changes=changes)

    def delete(self, obj: Sprint, actor: Any) -> None:
        services.sprint_delete(sprint=obj, actor=actor, expected_version=None)


@admin.register(Task)
class TaskAdmin(ServiceAdmin):
    form = TaskAdminForm
    readonly_fields = ("rank", "version")
    list_display = ("id", "name", "sprint", "status", "rank", "assigned", "due")
    list_filter = ("status", "sprint")
    search_fields = ("name", "description")
    list_select_related = ("sprint", "assigned")

    def create(self, actor: Any, data: dict[str, Any]) -> Task:
        return services.task_create(actor=actor, **data)

    def update(self, obj: Task, actor: Any, changes: dict[str, Any]) -> Task:
        return services.task_update(task=obj, actor=actor, expected_version=None,
                                    changes=changes)

    def delete(self, obj: Task, actor: Any) -> None:
        services.task_delete(task=obj, actor=actor, expected_version=None)
