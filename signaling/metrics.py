"""Prometheus metrics of one server, in a registry of its own (no process-wide globals).

Label values are bounded: frame types and error/close codes come from fixed sets, and a
sprint's series are removed when its last local connection leaves.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Every metric the server exports (``GET /metrics``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections = Gauge("watercooler_connections",
                                 "Open connections (websockets and SSE streams)", registry=r)
        self.transport_connections = Gauge(
            "watercooler_transport_connections", "Open connections by transport (websocket, "
            "sse)", ["transport"], registry=r)
        self.sse_messages = Counter("watercooler_sse_messages",
                                    "Server-Sent Events messages written, by event name",
                                    ["event"], registry=r)
        self.sse_refused = Counter("watercooler_sse_refused",
                                   "Server-Sent Events requests refused, by error", ["error"],
                                   registry=r)
        self.sprints = Gauge("watercooler_sprints", "Sprints with a connection on this node",
                             registry=r)
        self.frames_in = Counter("watercooler_frames_in", "Frames received from clients",
                                 ["type"], registry=r)
        self.frames_out = Counter("watercooler_frames_out", "Frames sent to clients",
                                  registry=r)
        self.relayed = Counter("watercooler_relayed", "Relay frames accepted from clients",
                               ["sprint"], registry=r)
        self.relay_deliveries = Counter("watercooler_relay_deliveries",
                                        "Relay frames written to recipients", registry=r)
        self.coalesced = Counter("watercooler_coalesced",
                                 "Drag moves replaced by a later one while over the rate",
                                 registry=r)
        self.dropped = Counter("watercooler_dropped", "Client frames dropped", ["reason"],
                               registry=r)
        self.events_delivered = Counter("watercooler_events_delivered",
                                        "Authoritative events accepted and fanned out",
                                        registry=r)
        self.event_duplicates = Counter("watercooler_event_duplicates",
                                        "Authoritative events refused as duplicates",
                                        registry=r)
        self.event_gaps = Counter("watercooler_event_gaps",
                                  "Authoritative events refused for a gap", registry=r)
        self.event_resets = Counter("watercooler_event_resets",
                                    "Authoritative events that restarted a sprint's history "
                                    "(its clients were sent resync)", registry=r)
        self.errors = Counter("watercooler_errors", "Error frames sent", ["code"], registry=r)
        self.closes = Counter("watercooler_closes", "Connections closed", ["code"], registry=r)
        self.joins_shed = Counter("watercooler_joins_shed",
                                  "Handshakes answered 503 + Retry-After: too many joins "
                                  "in progress (--max-pending-joins)", registry=r)
        self.joins_pending = Gauge("watercooler_joins_pending",
                                   "Joins in progress (handshake until welcome)", registry=r)
        self.datachannel_pairs = Gauge("watercooler_datachannel_pairs",
                                       "Peer pairs reporting an open data channel", registry=r)
        # the broker (always up in memory; with Redis, 0 while Redis is unreachable)
        self.broker_up = Gauge("watercooler_broker_up",
                               "1 while the broker's transport (Redis) is reachable", registry=r)
        self.broker_up.set(1)
        self.broker_reconnects = Counter("watercooler_broker_reconnects",
                                         "Reconnections to Redis after losing it", registry=r)
        self.broker_dropped = Counter("watercooler_broker_dropped",
                                      "Envelopes not sent to other nodes", ["reason"],
                                      registry=r)
        self.broker_reaped = Counter("watercooler_broker_reaped",
                                     "Peers of dead nodes removed by this node", registry=r)
        self.broker_resyncs = Counter("watercooler_broker_resyncs",
                                      "resync frames sent after events were missed", registry=r)
        # the process: process_open_fds against process_max_fds says how close the node is
        # to refusing connections; accept_paused counts the times it got there.
        ProcessCollector(registry=r)
        self.accept_paused = Counter("watercooler_accept_paused",
                                     "Times accepting connections paused (out of file "
                                     "descriptors or kernel memory)", registry=r)

    def forget_sprint(self, sprint: int) -> None:
        """Drop the per-sprint series of a sprint that has no local connection left."""
        with contextlib.suppress(KeyError):
            self.relayed.remove(str(sprint))

    def render(self) -> bytes:
        return generate_latest(self.registry)
