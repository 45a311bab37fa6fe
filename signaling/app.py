"""``ScrumApplication``: the realtime server's URL table, each handler given what it needs.

The shared state lives in ``signaling.node.Node``; every route hands its handler the parts
it uses as keyword arguments of Tornado's ``initialize()`` (as Tornado's own demos and
websocket tests do), so no handler imports this module and none reaches into the
application object.
"""

from __future__ import annotations

import logging
from typing import Any

import tornado.web
from tornado.log import access_log

from signaling.broker import Broker
from signaling.config import Config
from signaling.handlers import HealthHandler, IndexHandler, MetricsHandler
from signaling.ingest import IngestHandler
from signaling.node import Node
from signaling.sprint import SprintHandler
from signaling.stream import StreamHandler
from signaling.stream_hub import StreamHub

__all__ = ["ScrumApplication"]

_QUIET_PATHS = frozenset({"/healthz", "/metrics"})


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Access log: probes and scrapes only at DEBUG, client errors at WARNING.

    A probe answered 503 (degraded, closing) stays at DEBUG too: the cause is logged once
    where it happens, not on every probe; so does a handshake shed with 503 + Retry-After
    (storm control: thousands a second, counted in ``watercooler_joins_shed_total`` and
    summed up in a line every 10 s).
    """
    status = handler.get_status()
    request = handler.request
    if request.path in _QUIET_PATHS or (status == 503 and "Retry-After" in handler._headers):
        level = logging.DEBUG
    elif status >= 500:
        level = logging.ERROR
    elif status >= 400:
        level = logging.WARNING
    else:
        level = logging.INFO
    # The path only: a websocket's query string carries its ticket, never logged.
    access_log.log(level, "%d %s %s (%s) %.1fms", status, request.method, request.path,
                   request.remote_ip, 1000.0 * request.request_time())


class ScrumApplication(tornado.web.Application):
    """The realtime server's application: ``node`` holds its state, the routes serve it."""

    def __init__(self, config: Config, broker: Broker | None = None) -> None:
        self.node = node = Node(config, broker)
        routes: list[Any] = [
            (r"/", IndexHandler, {"debug": config.debug}),
            (r"/healthz", HealthHandler, {"node": node}),
            (r"/metrics", MetricsHandler, {"metrics": node.metrics, "broker": node.broker}),
            (r"/events/?", IngestHandler, {"config": config, "broker": node.broker,
                                           "metrics": node.metrics}),
            (r"/(?P<sprint>[0-9]+)/stream", StreamHandler, {"node": node,
                                                             "hub": StreamHub(node)}),
            (r"/(?P<sprint>[0-9]+)/?", SprintHandler, {"node": node}),
        ]
        super().__init__(
            routes,
            websocket_ping_interval=None,  # node.keepalive pings instead
            websocket_max_message_size=config.max_message_size,
            compress_response=False,
            log_function=_log_request,
        )
