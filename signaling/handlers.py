"""Small HTTP handlers: health check, Prometheus metrics, and the debug-mode index page.

The websocket lives in ``signaling.sprint`` and ``POST /events/`` in ``signaling.ingest``.
Each handler gets what it reads as route keyword arguments (``initialize``).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import tornado.web

from signaling.broker import Broker, BrokerUnavailable
from signaling.metrics import CONTENT_TYPE, Metrics
from signaling.node import Node

__all__ = ["HealthHandler", "IndexHandler", "JsonHandler", "MetricsHandler"]

log = logging.getLogger(__name__)

#: Seconds a client refused with 503 (broker unreachable) should wait before retrying.
RETRY_AFTER = 1

INDEX_HTML = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Watercooler realtime (debug)</title>
<h1>Watercooler realtime server &mdash; debug mode</h1>
<p>Open the developer console and paste:</p>
<pre>var socket = new WebSocket('ws://' + location.host + '/123');
socket.onopen = function () { console.log('Connection is open!'); socket.send('ping'); };
socket.onmessage = function (message) {
  console.log('New message: ' + message.data);
  if (message.data == 'ping') { socket.send('pong'); }
};</pre>
</html>
"""


class JsonHandler(tornado.web.RequestHandler):
    """Base of the HTTP handlers: one JSON error body, and 503 for an unreachable broker."""

    def write_json_error(self, status: int, error: str, message: str) -> None:
        """The one error body of the HTTP endpoints: ``{"error", "message"}``."""
        self.set_status(status)
        self.finish({"error": error, "message": message})

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """An unreachable broker is a 503 to retry after ``Retry-After`` seconds."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, BrokerUnavailable):
            self.set_header("Retry-After", str(RETRY_AFTER))
            self.write_json_error(503, "broker_unavailable", str(exc))
            return
        super().write_error(status_code, **kwargs)

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        if isinstance(value, BrokerUnavailable):
            log.warning("%s %s refused: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


class HealthHandler(JsonHandler):
    """``GET /healthz``: 200 while the server accepts connections (readiness probe).

    503 while shutting down, and while the broker is unreachable (``"status":
    "degraded"``): the node still serves its connections, but a load balancer should
    send new ones elsewhere.
    """

    def initialize(self, node: Node) -> None:
        self.node = node

    def get(self) -> None:
        node = self.node
        if node.closing:
            self.write_json_error(503, "closing", "the server is shutting down")
            return
        broker = node.broker
        body: dict[str, Any] = {"status": "ok", "connections": len(node.peers),
                                "sprints": len(node.subscribers), "broker": broker.label,
                                "node": broker.node_id, "debug": node.config.debug}
        if not broker.up:
            self.set_status(503)
            body.update(status="degraded", error="broker_unavailable",
                        message=f"broker unreachable: {broker.last_error}")
        self.finish(body)


class MetricsHandler(JsonHandler):
    """``GET /metrics``: the Prometheus text exposition of this server's registry."""

    def initialize(self, metrics: Metrics, broker: Broker) -> None:
        self.metrics = metrics
        self.broker = broker

    def get(self) -> None:
        metrics = self.metrics
        metrics.broker_up.set(1 if self.broker.up else 0)
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(metrics.render())


class IndexHandler(JsonHandler):
    """``GET /``: in debug mode, a page to paste the seed chapter's snippet into; else 404."""

    def initialize(self, debug: bool) -> None:
        self.debug = debug

    def get(self) -> None:
        if not self.debug:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(INDEX_HTML)
