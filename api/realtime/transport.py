"""`POST /events/` to the realtime server: the body, its nonce and signature, the answer.

docs/protocol.md §7. Settings are read at call time (REALTIME_URL, REALTIME_SECRET,
REALTIME_TIMEOUT), so a running delivery thread follows changes made by tests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from api.realtime.models import OutboxEvent
from api.realtime.outbox import encode_event

#: At most this many events per request (the server refuses more).
BATCH_SIZE = 500
#: Stay under the server's 1 MiB body limit with some room.
MAX_BODY_BYTES = 900 * 1024
#: Results that mean the server has the event (it is delivered, or was before).
DELIVERED_STATUSES = frozenset({"accepted", "reset", "duplicate"})


class DeliveryError(Exception):
    """The realtime server could not be reached, or refused the request as a whole for a
    reason no event is to blame for (signature, clock, a 5xx): every sprint waits."""


class Refused(Exception):
    """The server refused the request for its content (400, 413): sent again as it is, it
    would be refused again. ``event`` is the index of the event at fault, when named."""

    def __init__(self, status: int, error: str, message: str, event: int | None) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.event = event


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An outbox event as this request sends it: in its stream's epoch, maybe a reset."""

    event: OutboxEvent
    epoch: str
    reset: bool
    wire: bytes

    @classmethod
    def of(cls, event: OutboxEvent, *, epoch: str, reset: bool) -> Outgoing:
        """Raises ValueError / UnicodeEncodeError for an event that cannot be encoded."""
        wire: dict[str, Any] = event.to_wire()
        if epoch:
            wire["epoch"] = epoch
        if reset:
            wire["reset"] = True
        return cls(event=event, epoch=epoch, reset=reset, wire=encode_event(wire))


def new_nonce() -> str:
    """A nonce for one delivery attempt: 24 URL-safe characters, 144 random bits."""
    return secrets.token_urlsafe(18)


def encode_body(batch: Sequence[Outgoing], nonce: str) -> bytes:
    """``{"nonce": ..., "events": [...]}`` from events encoded once."""
    return (b'{"nonce":"' + nonce.encode() + b'","events":['
            + b",".join(o.wire for o in batch) + b"]}")


#: What a body costs beyond its events' encodings and the commas between them.
BODY_OVERHEAD = len(encode_body([], new_nonce()))


def sign_body(body: bytes, *, secret: str, timestamp: int) -> dict[str, str]:
    """The §7 headers: `v1=` + hex HMAC-SHA256(secret, timestamp + "." + body)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"Content-Type": "application/json", "X-Watercooler-Timestamp": str(timestamp),
            "X-Watercooler-Signature": f"v1={digest.hexdigest()}"}


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


def post_batch(batch: Sequence[Outgoing]) -> list[dict[str, Any]]:
    """POST the events with a fresh nonce and signature; the per-event results.

    A new nonce per attempt: a retry is never taken for a replay of the attempt before,
    nor are two processes that send the same events in the same second. Raises
    ``Refused`` (400, 413) or ``DeliveryError`` (anything else that is not a 200).
    """
    url = settings.REALTIME_URL.rstrip("/") + "/events/"
    body = encode_body(batch, new_nonce())
    headers = sign_body(body, secret=settings.REALTIME_SECRET, timestamp=int(time.time()))
    sprints = ",".join(str(s) for s in sorted({o.event.sprint_id for o in batch}))
    try:
        response = _client().post(url, content=body, headers=headers,
                                  timeout=settings.REALTIME_TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{url} unreachable for sprints {sprints}: {exc}") from exc
    if response.status_code in (400, 413):
        raise _refused(response)
    if response.status_code != 200:
        raise DeliveryError(f"{url} answered {response.status_code} for sprints "
                            f"{sprints}: {response.text[:300]}")
    try:
        results = response.json()["results"]
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise TypeError("results is not a list of objects")
    except (ValueError, KeyError, TypeError) as exc:
        raise DeliveryError(f"{url} answered an unreadable body: {response.text[:300]}") from exc
    return results


def _refused(response: httpx.Response) -> Refused:
    try:
        body = response.json()
        error, message, event = body.get("error"), body.get("message"), body.get("event")
    except (ValueError, AttributeError):
        error, message, event = None, None, None
    return Refused(response.status_code, str(error or "refused"),
                   str(message or response.text[:300]),
                   event if isinstance(event, int) and not isinstance(event, bool) else None)
