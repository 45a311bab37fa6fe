"""REST endpoints of the board: sprints and tasks, users (read-only, by username).

The viewsets translate HTTP into calls of the services (`api/board/services/`) and the
result back: validation of each field by the serializers, `If-Match` into
`expected_version`, `ETag` on every representation of one object, 412 on a conflict.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, OuterRef, QuerySet, Subquery
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.board import services
from api.board.conditional import (
    ETAG,
    IF_MATCH,
    conflict_response,
    conflict_schema,
    expected_version,
    with_etag,
)
from api.board.filters import SprintFilter, TaskFilter
from api.board.models import Sprint, Task
from api.board.serializers import (
    SprintSerializer,
    TaskMoveSerializer,
    TaskSerializer,
    UserSerializer,
)
from api.realtime.models import SprintSequence

User = get_user_model()


CONFLICTS = {"Task": conflict_schema("Task", TaskSerializer),
             "Sprint": conflict_schema("Sprint", SprintSerializer)}


def _conditional_schema(name: str, serializer: type[TaskSerializer | SprintSerializer]) -> Any:
    """OpenAPI for the ETag / If-Match / 412 of a viewset's detail operations."""
    conflict = CONFLICTS[name]
    responses = {200: serializer, 412: conflict}
    return extend_schema_view(
        create=extend_schema(parameters=[ETAG]),
        retrieve=extend_schema(parameters=[ETAG]),
        update=extend_schema(parameters=[IF_MATCH, ETAG], responses=responses),
        partial_update=extend_schema(parameters=[IF_MATCH, ETAG], responses=responses),
        destroy=extend_schema(parameters=[IF_MATCH], responses={204: None, 412: conflict}),
    )


class ServiceViewSet(viewsets.ModelViewSet):
    """CRUD through the services; the subclass names them (`create_object`, …)."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.VersionConflict):
            return conflict_response(exc, self._represent(exc.current))
        if isinstance(exc, DjangoValidationError):
            exc = exceptions.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        elif isinstance(exc, ObjectDoesNotExist):
            exc = exceptions.NotFound()
        return super().handle_exception(exc)

    def _represent(self, obj: Model) -> dict[str, Any]:
        return dict(self.get_serializer(obj).data)

    def _answer(self, obj: Any, code: int = status.HTTP_200_OK) -> Response:
        return with_etag(Response(self._represent(obj), status=code), obj.version)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._answer(self.get_object())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._answer(self.create_object(serializer.validated_data), status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        expected = expected_version(request)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data,
                                         partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        return self._answer(self.update_object(instance, expected, serializer.validated_data))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        expected = expected_version(request)
        self.delete_object(self.get_object(), expected)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def create_object(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def update_object(self, obj: Any, expected: services.ExpectedVersion,
                      data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def delete_object(self, obj: Any, expected: services.ExpectedVersion) -> None:
        raise NotImplementedError


@_conditional_schema("Sprint", SprintSerializer)
class SprintViewSet(ServiceViewSet):
    """Sprints, earliest end first."""

    serializer_class = SprintSerializer
    filterset_class = SprintFilter
    search_fields = ("name", "description")
    ordering_fields = ("end", "name", "id")
    ordering = ("end",)

    def get_queryset(self) -> QuerySet[Sprint]:
        queryset = Sprint.objects.all()
        if self.action == "list":
            # One query for every sprint's seq. Only for reads: a write's response must
            # show the seq its own event took, which the serializer then reads afresh.
            last_seq = SprintSequence.objects.filter(sprint_id=OuterRef("pk")).values("last_seq")
            queryset = queryset.annotate(latest_seq=Subquery(last_seq))
        return queryset

    def create_object(self, data: dict[str, Any]) -> Sprint:
        return services.sprint_create(actor=self.request.user, **data)

    def update_object(self, obj: Sprint, expected: services.ExpectedVersion,
                      data: dict[str, Any]) -> Sprint:
        return services.sprint_update(sprint=obj, actor=self.request.user,
                                      expected_version=expected, changes=data)

    def delete_object(self, obj: Sprint, expected: services.ExpectedVersion) -> None:
        services.sprint_delete(sprint=obj, actor=self.request.user, expected_version=expected)


@_conditional_schema("Task", TaskSerializer)
class TaskViewSet(ServiceViewSet):
    """Tasks, by `rank` then id (one column's order; see docs/api.md)."""

    queryset = Task.objects.select_related("assigned")
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    search_fields = ("name", "description")
    ordering_fields = ("name", "rank", "status", "started", "due", "completed", "id")
    ordering = ("rank", "id")

    def get_serializer_class(self) -> type[TaskSerializer] | type[TaskMoveSerializer]:
        return TaskMoveSerializer if self.action == "move" else TaskSerializer

    def _represent(self, obj: Model) -> dict[str, Any]:
        return dict(TaskSerializer(obj, context=self.get_serializer_context()).data)

    def create_object(self, data: dict[str, Any]) -> Task:
        return services.task_create(actor=self.request.user, **data)

    def update_object(self, obj: Task, expected: services.ExpectedVersion,
                      data: dict[str, Any]) -> Task:
        return services.task_update(task=obj, actor=self.request.user,
                                    expected_version=expected, changes=data)

    def delete_object(self, obj: Task, expected: services.ExpectedVersion) -> None:
        services.task_delete(task=obj, actor=self.request.user, expected_version=expected)

    @extend_schema(
        request=TaskMoveSerializer, parameters=[IF_MATCH, ETAG],
        responses={200: TaskSerializer, 412: CONFLICTS["Task"]},
        description="Move the task to a column (`status`, `sprint`) directly below task "
                    "`after` (null: at the top), in one transaction; one event per move.")
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        expected = expected_version(request)
        task = self.get_object()
        serializer = TaskMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        moved = services.task_move(task=task, actor=request.user, expected_version=expected,
                                   **serializer.validated_data)
        return self._answer(moved)


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """Active users, looked up by username."""

    queryset = User.objects.filter(is_active=True).order_by(User.USERNAME_FIELD)
    serializer_class = UserSerializer
    lookup_field = User.USERNAME_FIELD
    lookup_value_regex = r"[^/]+"
    search_fields = (User.USERNAME_FIELD, "first_name", "last_name")
    ordering_fields = (User.USERNAME_FIELD,)
