"""The sprint's realtime endpoints: `POST …/realtime/` issues a ticket, `GET …/events/`
reads the event log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.board.models import Sprint
from api.board.pagination import BoardPagination
from api.links import absolute_url
from api.realtime.log import LogGone, event_log_read
from api.realtime.models import OutboxEvent, SprintSequence
from api.realtime.tickets import ticket_issue

#: `since` is a seq: a PositiveBigIntegerField.
MAX_SEQ = 2**63 - 1


class TicketSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="Websocket URL of the sprint's realtime channel.")
    token = serializers.CharField(help_text="JWT (HS256) to pass as ?token=.")
    expires = serializers.DateTimeField(help_text="When the token stops being accepted.")


class SprintTicketView(APIView):
    """Issue a ticket to join the sprint's realtime channel (docs/protocol.md §1)."""

    @extend_schema(request=None, responses={200: TicketSerializer}, operation_id="sprints_realtime")
    def post(self, request: Request, pk: int) -> Response:
        sprint = get_object_or_404(Sprint.objects.only("pk"), pk=pk)
        ticket = ticket_issue(user=request.user, sprint_id=sprint.pk)
        return Response(TicketSerializer(asdict(ticket)).data)


# --- the event log ----------------------------------------------------------------------

class EventSerializer(serializers.Serializer):
    """One event of the log: the websocket `event` frame, plus when it was committed."""

    type = serializers.CharField(help_text='Always "event", as in the websocket frame.')
    sprint = serializers.IntegerField()
    seq = serializers.IntegerField(help_text="Per sprint, gap-free, strictly increasing.")
    action = serializers.ChoiceField(choices=OutboxEvent.Action.choices)
    model = serializers.ChoiceField(choices=OutboxEvent.Model.choices)
    id = serializers.IntegerField(help_text="The task's or sprint's id.")
    data = serializers.DictField(allow_null=True, help_text=(
        "The object as the API represented it after the change; null for `deleted`."))
    actor = inline_serializer(name="EventActor", allow_null=True, fields={
        "id": serializers.IntegerField(),
        "username": serializers.CharField(),
    }, help_text="Who made the change; null for the system (a management command).")
    at = serializers.DateTimeField(help_text="When the change was committed.")


EventPageSerializer = inline_serializer(name="EventLogPage", fields={
    "count": serializers.IntegerField(help_text="Events after `since` in the log."),
    "next": serializers.URLField(allow_null=True),
    "previous": serializers.URLField(allow_null=True),
    "latest": serializers.IntegerField(help_text="The sprint's latest seq, 0 if none."),
    "results": EventSerializer(many=True),
})

GoneSerializer = inline_serializer(name="EventLogGone", fields={
    "error": serializers.CharField(help_text='Always "gone".'),
    "message": serializers.CharField(),
    "oldest": serializers.IntegerField(allow_null=True, help_text=(
        "The oldest seq the log holds (null: none); `since` = oldest - 1 would be served.")),
    "latest": serializers.IntegerField(help_text="The sprint's latest seq."),
})

SINCE = OpenApiParameter(
    "since", int, description="Events with seq > since, in order (0: from the stream's "
    "start; omitted: from the oldest the log holds). Typically the client's `last`.")
PAGE_SIZE = OpenApiParameter("page_size", int, description="Events per page: 50 unless "
                             "given, at most 100.")


class SprintEventLogView(APIView):
    """The sprint's committed events after `since` (docs/protocol.md §6, the event log)."""

    @extend_schema(
        parameters=[SINCE, PAGE_SIZE], operation_id="sprints_events",
        responses={200: EventPageSerializer,
                   410: OpenApiResponse(GoneSerializer, description=(
                       "The log no longer holds every event after `since` (pruned, or the "
                       "stream was renumbered): reload the sprint over REST."))})
    def get(self, request: Request, pk: int) -> Response:
        since = _since(request.query_params.get("since"))
        if pk > MAX_SEQ or not (Sprint.objects.filter(pk=pk).exists()
                or SprintSequence.objects.filter(sprint_id=pk).exists()):
            raise Http404
        limit = BoardPagination().get_page_size(request) or BoardPagination.page_size
        try:
            page = event_log_read(sprint_id=pk, since=since, limit=limit)
        except LogGone as gone:
            return Response({"error": "gone", "message": gone.message, "oldest": gone.oldest,
                             "latest": gone.latest}, status=410)
        events = [e.to_frame() for e in page.events]
        last = events[-1]["seq"] if events else since
        return Response({
            "count": page.count,
            "next": _link(pk, last, limit) if page.more else None,
            "previous": _link(pk, max(0, since - limit), limit) if since else None,
            "latest": page.latest,
            "results": events,
        })


def _since(raw: str | None) -> int | None:
    if raw is None:
        return None
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > MAX_SEQ:
        raise ValidationError({"since": [f"Must be a whole number from 0 to {MAX_SEQ}: the "
                                         "seq of the last event you have."]})
    return int(value)


def _link(sprint_id: int, since: Any, limit: int) -> str:
    query: dict[str, object] = {"since": since}
    if limit != BoardPagination.page_size:
        query["page_size"] = limit
    return absolute_url("sprint-events", kwargs={"pk": sprint_id}, query=query)
