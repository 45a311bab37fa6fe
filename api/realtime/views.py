"""`POST /api/sprints/<id>/realtime/`: issue a realtime ticket for an existing sprint."""

from __future__ import annotations

from dataclasses import asdict

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.board.models import Sprint
from api.realtime.tickets import ticket_issue


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
