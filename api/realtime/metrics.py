"""`GET /metrics` on Django: the outbox backlog for Prometheus, read at scrape time.

The values come from the database, not from process memory, so every gunicorn worker (and
the `deliver_events` process) tells the same story. Not public: only the addresses in
METRICS_ALLOWED_IPS (the socket's, default loopback) may read it, and never a request a
proxy forwarded (it has X-Forwarded-For); the nginx configuration does not route it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api.realtime import streams


class OutboxCollector:
    """Gauges of the outbox, one query per scrape."""

    def collect(self) -> Iterator[Metric]:
        backlog = streams.backlog()
        age = 0.0
        if backlog.oldest_pending is not None:
            age = max(0.0, (timezone.now() - backlog.oldest_pending).total_seconds())
        yield GaugeMetricFamily("watercooler_outbox_pending_events",
                                "Outbox events not yet delivered to the realtime server "
                                "(dead ones excluded)", value=backlog.pending)
        yield GaugeMetricFamily("watercooler_outbox_dead_events",
                                "Outbox events the realtime server refused for good, waiting "
                                "for `manage.py outbox skip|retry` (their sprint waits too)",
                                value=backlog.dead)
        yield GaugeMetricFamily("watercooler_outbox_oldest_pending_age_seconds",
                                "Age of the oldest pending outbox event (0 when none)",
                                value=age)


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(OutboxCollector())


def _allowed(request: HttpRequest) -> bool:
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition of the outbox gauges (docs/operations.md, Monitoring)."""
    if not _allowed(request):
        return JsonResponse({"error": "permission_denied",
                             "message": "/metrics is for the addresses in METRICS_ALLOWED_IPS, "
                                        "not through a proxy."}, status=403)
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
