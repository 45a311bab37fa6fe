"""The consumers: a sprint's websocket (subscribe, relay), ``POST /events/`` (broadcast).

What a Django team would write from the Channels tutorial: one group per sprint,
``group_send`` for every broadcast, the same checks Watercooler makes where they cost
per connection or per message (JWT ticket on connect, HMAC on events, relay decoded and
re-encoded with ``from`` stamped), and the same event frame bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

import jwt
from channels.generic.http import AsyncHttpConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


async def _respond(consumer: AsyncHttpConsumer, status: int, body: bytes) -> None:
    await consumer.send_response(status, body, headers=[
        (b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode())])


class SprintConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.sprint = int(self.scope["url_route"]["kwargs"]["sprint"])
        self.group = f"sprint-{self.sprint}"
        token = parse_qs(self.scope["query_string"].decode()).get("token", [""])[0]
        try:
            claims = jwt.decode(token, settings.BENCH_SECRET, algorithms=["HS256"],
                                audience="watercooler")
        except jwt.InvalidTokenError:
            await self.close(code=4001)
            return
        if claims.get("sprint") != self.sprint:
            await self.close(code=4003)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None
                      ) -> None:
        msg = json.loads(text_data or "{}")
        if msg.get("type") == "relay" and isinstance(msg.get("data"), dict):
            frame = _compact({"type": "relay", "from": self.channel_name, "data": msg["data"]})
            await self.channel_layer.group_send(
                self.group, {"type": "relay.frame", "frame": frame, "sender": self.channel_name})

    async def relay_frame(self, event: dict[str, Any]) -> None:
        if event["sender"] != self.channel_name:
            await self.send(text_data=event["frame"])

    async def event_frame(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["frame"])


class EventsConsumer(AsyncHttpConsumer):
    async def handle(self, body: bytes) -> None:
        headers = dict(self.scope["headers"])
        ts = headers.get(b"x-watercooler-timestamp", b"").decode()
        given = headers.get(b"x-watercooler-signature", b"").decode()
        digest = hmac.new(settings.BENCH_SECRET.encode(), ts.encode() + b"." + body,
                          hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, f"v1={digest}"):
            await _respond(self, 401, b'{"error":"bad_signature"}')
            return
        results = []
        for e in json.loads(body)["events"]:
            frame = _compact({"type": "event", "sprint": e["sprint"], "seq": e["seq"],
                              "action": e["action"], "model": e["model"], "id": e["id"],
                              "data": e["data"]})
            await self.channel_layer.group_send(
                f"sprint-{e['sprint']}", {"type": "event.frame", "frame": frame})
            results.append({"sprint": e["sprint"], "seq": e["seq"], "status": "accepted"})
        await _respond(self, 200, _compact({"results": results}).encode())


class HealthConsumer(AsyncHttpConsumer):
    async def handle(self, body: bytes) -> None:
        await _respond(self, 200, b'{"status":"ok"}')
