"""REST representations of sprints, tasks and users, and the shape of what clients send.

Serializers check each field (type, choices, that a named sprint or user exists); the
board's rules about the object as a whole (dates, ended sprints, positions) belong to the
services (`api/board/services/`), which apply them under lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from api.board.fields import UsernameField
from api.board.models import Sprint, Task
from api.limits import DESCRIPTION_MAX_LENGTH, PASSWORD_MAX_LENGTH, USERNAME_MAX_LENGTH
from api.links import absolute_url
from api.realtime.outbox import latest_seq

User = get_user_model()


def _links_schema(name: str, *keys: str, nullable: tuple[str, ...] = ()) -> Any:
    fields = {key: serializers.URLField(allow_null=key in nullable) for key in keys}
    return inline_serializer(name=name, fields=fields)


class RejectUnknownFieldsMixin:
    """Refuse writes that carry fields the serializer does not know (DRF ignores them).

    Read-only fields (`id`, `links`, `seq`) are known, so a client may PUT back what it
    fetched; they are ignored as usual.
    """

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, Any] = {}
        if isinstance(data, Mapping):
            known = set(self.fields)  # type: ignore[attr-defined]
            unknown = {name: ["Unknown field."] for name in sorted(set(data) - known)}
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if not unknown or not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**exc.detail, **unknown}) from exc
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class SprintSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A sprint, its latest event `seq` (0 if none) and links."""

    seq = serializers.SerializerMethodField(help_text="Latest authoritative event seq, 0 if none.")
    links = serializers.SerializerMethodField()

    class Meta:
        model = Sprint
        fields = ("id", "name", "description", "end", "version", "seq", "links")
        read_only_fields = ("version",)
        extra_kwargs = {"description": {"max_length": DESCRIPTION_MAX_LENGTH}}

    def get_seq(self, sprint: Sprint) -> int:
        annotated = getattr(sprint, "latest_seq", None)
        return annotated if annotated is not None else latest_seq(sprint.pk)

    @extend_schema_field(_links_schema("SprintLinks", "self", "tasks", "realtime", "events"))
    def get_links(self, sprint: Sprint) -> dict[str, str]:
        return {
            "self": absolute_url("sprint-detail", kwargs={"pk": sprint.pk}),
            "tasks": absolute_url("task-list", query={"sprint": sprint.pk}),
            "realtime": absolute_url("sprint-realtime", kwargs={"pk": sprint.pk}),
            "events": absolute_url("sprint-events", kwargs={"pk": sprint.pk}),
        }


class TaskSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A task; `assigned` is a username, `rank` its place in its column (read-only)."""

    assigned = UsernameField(queryset=User.objects.all(), required=False, allow_null=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = ("id", "name", "description", "sprint", "status", "rank", "version",
                  "assigned", "started", "due", "completed", "links")
        read_only_fields = ("rank", "version")
        extra_kwargs = {
            "rank": {"help_text": "Order key in the task's column: sort a column by (rank, id) "
                                  "comparing strings byte-wise. Set by the server."},
            "version": {"help_text": "1 on create, +1 on every change (the ETag)."},
            "description": {"max_length": DESCRIPTION_MAX_LENGTH},
        }

    @extend_schema_field(_links_schema("TaskLinks", "self", "sprint", "assigned",
                                       nullable=("sprint", "assigned")))
    def get_links(self, task: Task) -> dict[str, str | None]:
        return {
            "self": absolute_url("task-detail", kwargs={"pk": task.pk}),
            "sprint": (absolute_url("sprint-detail", kwargs={"pk": task.sprint_id})
                       if task.sprint_id else None),
            "assigned": (absolute_url("user-detail", kwargs={"username": task.assigned.username})
                         if task.assigned_id else None),
        }


class TaskMoveSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """`POST /api/tasks/<id>/move/`: where the task goes. Omitted fields stay as they are."""

    status = serializers.ChoiceField(choices=Task.Status.choices, required=False,
                                     help_text="Target column; omitted: unchanged.")
    sprint = serializers.PrimaryKeyRelatedField(
        queryset=Sprint.objects.all(), allow_null=True, required=False,
        help_text="Target sprint, null for the backlog; omitted: unchanged.")
    after = serializers.IntegerField(
        allow_null=True, required=False, min_value=1, max_value=2**63 - 1,
        help_text="Land directly below this task of the target column; null: at the top; "
                  "omitted: where it is if the column is the same, else at the bottom.")


class UserSerializer(serializers.ModelSerializer):
    """A user (read-only), looked up by username."""

    full_name = serializers.CharField(source="get_full_name", read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "username", "full_name", "links")

    @extend_schema_field(_links_schema("UserLinks", "self", "tasks"))
    def get_links(self, user: Any) -> dict[str, str]:
        return {
            "self": absolute_url("user-detail", kwargs={"username": user.username}),
            "tasks": absolute_url("task-list", query={"assigned": user.username}),
        }


class LoginSerializer(AuthTokenSerializer):
    """`POST /api/token/`'s body: DRF's, with bounded fields."""

    username = serializers.CharField(label="Username", write_only=True,
                                     max_length=USERNAME_MAX_LENGTH)
    password = serializers.CharField(label="Password", style={"input_type": "password"},
                                     trim_whitespace=False, write_only=True,
                                     max_length=PASSWORD_MAX_LENGTH)

    class Meta:
        ref_name = "AuthToken"  # the schema's name for it, as before
