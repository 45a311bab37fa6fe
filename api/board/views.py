"""REST endpoints of the board: sprints and tasks (CRUD), users (read-only, by username)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, QuerySet, Subquery
from rest_framework import viewsets

from api.board.filters import SprintFilter, TaskFilter
from api.board.models import Sprint, Task
from api.board.serializers import SprintSerializer, TaskSerializer, UserSerializer
from api.realtime.models import SprintSequence

User = get_user_model()


class SprintViewSet(viewsets.ModelViewSet):
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


class TaskViewSet(viewsets.ModelViewSet):
    """Tasks, by `order` then id."""

    queryset = Task.objects.select_related("assigned")
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    search_fields = ("name", "description")
    ordering_fields = ("name", "order", "status", "started", "due", "completed", "id")
    ordering = ("order", "id")


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """Active users, looked up by username."""

    queryset = User.objects.filter(is_active=True).order_by(User.USERNAME_FIELD)
    serializer_class = UserSerializer
    lookup_field = User.USERNAME_FIELD
    lookup_value_regex = r"[^/]+"
    search_fields = (User.USERNAME_FIELD, "first_name", "last_name")
    ordering_fields = (User.USERNAME_FIELD,)
