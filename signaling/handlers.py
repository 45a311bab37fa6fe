"""Small HTTP handlers: health check, Prometheus metrics, and the debug-mode index page.

The websocket lives in ``signaling.sprint`` and ``POST /events/`` in ``signaling.events``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import tornado.web

from signaling.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from signaling.app import ScrumApplication

__all__ = ["HealthHandler", "IndexHandler", "MetricsHandler", "ScrumHandler"]

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


class ScrumHandler(tornado.web.RequestHandler):
    """Base of the HTTP handlers: typed access to the application's shared state."""

    @property
    def scrum(self) -> ScrumApplication:
        return cast("ScrumApplication", self.application)

    def write_json_error(self, status: int, error: str, message: str) -> None:
        """The one error body of the HTTP endpoints: ``{"error", "message"}``."""
        self.set_status(status)
        self.finish({"error": error, "message": message})



class HealthHandler(ScrumHandler):
    """``GET /healthz``: 200 while the server accepts connections (readiness probe)."""

    def get(self) -> None:
        scrum = self.scrum
        if scrum.closing:
            self.write_json_error(503, "closing", "the server is shutting down")
            return
        self.finish({"status": "ok", "connections": len(scrum.peers),
                     "sprints": len(scrum.subscribers), "broker": scrum.config.broker,
                     "debug": scrum.config.debug})


class MetricsHandler(ScrumHandler):
    """``GET /metrics``: the Prometheus text exposition of this server's registry."""

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.scrum.metrics.render())


class IndexHandler(ScrumHandler):
    """``GET /``: in debug mode, a page to paste the seed chapter's snippet into; else 404."""

    def get(self) -> None:
        if not self.scrum.config.debug:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(INDEX_HTML)
