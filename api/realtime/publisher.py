"""One delivery pass: POST undelivered outbox events to the realtime server (protocol §7).

Settings are read at call time (REALTIME_URL, REALTIME_SECRET, REALTIME_TIMEOUT), so a
running delivery thread follows changes made by tests.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

import httpx
from django.conf import settings
from django.utils import timezone

from api.realtime.models import OutboxEvent

log = logging.getLogger(__name__)

#: At most this many events per request (the server refuses more).
BATCH_SIZE = 500
#: Stay under the server's 1 MiB body limit with some room.
MAX_BODY_BYTES = 900 * 1024
DELIVERED_STATUSES = frozenset({"accepted", "duplicate"})


class DeliveryError(Exception):
    """The realtime server could not be reached or refused the batch; retry later."""


def sign_body(body: bytes, *, secret: str, timestamp: int) -> dict[str, str]:
    """The §7 headers: `v1=` + hex HMAC-SHA256(secret, timestamp + "." + body)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"Content-Type": "application/json", "X-Watercooler-Timestamp": str(timestamp),
            "X-Watercooler-Signature": f"v1={digest.hexdigest()}"}


def deliver_pending() -> int:
    """Send every undelivered event in (sprint, seq) order; return how many remain.

    Events answered `accepted` or `duplicate` are marked delivered. A `gap` (the server
    misses an earlier seq) stays pending and ends the pass, so the caller retries soon.
    Raises DeliveryError when the server is unreachable or answers an error.
    """
    while True:
        batch = _encode_batch(
            OutboxEvent.objects.filter(delivered_at__isnull=True).order_by("sprint_id", "seq")
            [:BATCH_SIZE])
        if not batch:
            return 0
        events, body = batch
        results = _post(body, events)
        delivered = _mark_delivered(events, results)
        if delivered < len(events):
            return OutboxEvent.objects.filter(delivered_at__isnull=True).count()


def prune_delivered(*, older_than: datetime.timedelta | None = None) -> int:
    """Delete events delivered more than `older_than` ago (default OUTBOX_RETENTION_DAYS)."""
    if older_than is None:
        older_than = datetime.timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    cutoff = timezone.now() - older_than
    deleted, _ = OutboxEvent.objects.filter(delivered_at__lt=cutoff).delete()
    if deleted:
        log.info("sprints (all): pruned %d delivered events older than %s", deleted, older_than)
    return deleted


def _encode_batch(events: Iterable[OutboxEvent]) -> tuple[list[OutboxEvent], bytes] | None:
    """The leading events whose JSON body fits MAX_BODY_BYTES (at least one)."""
    chosen: list[OutboxEvent] = []
    wire: list[str] = []
    size = len('{"events":[]}')
    for event in events:
        encoded = json.dumps(event.to_wire(), separators=(",", ":"))
        if chosen and size + len(encoded) + 1 > MAX_BODY_BYTES:
            break
        chosen.append(event)
        wire.append(encoded)
        size += len(encoded) + 1
    if not chosen:
        return None
    return chosen, ('{"events":[' + ",".join(wire) + "]}").encode()


_local = threading.local()


def _client() -> httpx.Client:
    """This thread's HTTP client: kept-alive connections to the realtime server.

    A new client per POST (``httpx.post``) builds an SSL context each time, which cost
    ~50 ms per delivery (bench/results/REPORT.md, end-to-end workload).
    """
    client: httpx.Client | None = getattr(_local, "client", None)
    if client is None:
        client = _local.client = httpx.Client()
    return client


def _post(body: bytes, events: list[OutboxEvent]) -> list[dict[str, object]]:
    url = settings.REALTIME_URL.rstrip("/") + "/events/"
    headers = sign_body(body, secret=settings.REALTIME_SECRET, timestamp=int(time.time()))
    try:
        response = _client().post(url, content=body, headers=headers,
                                  timeout=settings.REALTIME_TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{url} unreachable for sprints {_sprints(events)}: {exc}") from exc
    if response.status_code != 200:
        raise DeliveryError(f"{url} answered {response.status_code} for sprints "
                            f"{_sprints(events)}: {response.text[:300]}")
    try:
        results = response.json()["results"]
        assert isinstance(results, list)
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise DeliveryError(f"{url} answered an unreadable body: {response.text[:300]}") from exc
    return results


def _mark_delivered(events: list[OutboxEvent], results: list[dict[str, object]]) -> int:
    """Mark `accepted`/`duplicate` results delivered; log per sprint; return how many."""
    statuses = {(r.get("sprint"), r.get("seq")): r.get("status") for r in results}
    by_sprint: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    done: list[int] = []
    for event in events:
        status = str(statuses.get((event.sprint_id, event.seq), "missing"))
        by_sprint[event.sprint_id][status].append(event.seq)
        if status in DELIVERED_STATUSES:
            done.append(event.pk)
    if done:
        OutboxEvent.objects.filter(pk__in=done).update(delivered_at=timezone.now())
    for sprint_id, seqs_by_status in by_sprint.items():
        for status, seqs in seqs_by_status.items():
            level = logging.INFO if status in DELIVERED_STATUSES else logging.WARNING
            log.log(level, "sprint %s: %d events %s (seq %s-%s)", sprint_id, len(seqs), status,
                    seqs[0], seqs[-1])
    return len(done)


def _sprints(events: list[OutboxEvent]) -> str:
    return ",".join(str(s) for s in sorted({e.sprint_id for e in events}))
