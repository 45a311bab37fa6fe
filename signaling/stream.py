"""``StreamHandler``: a sprint's events as Server-Sent Events, read-only (docs/protocol.md §10).

``GET /<sprint>/stream?token=<ticket>`` answers ``text/event-stream``: the sprint's
authoritative events (``id: <seq>``, ``event: event``), its presence (``event: presence``),
``event: resync`` where the websocket would send ``resync``, and a comment every
``--sse-heartbeat`` seconds. ``Last-Event-ID`` (or ``?since=``) replays from the history as
``resume`` does. The checks are the websocket's (``signaling.handshake``,
``signaling.admission``), answered with an HTTP status and a JSON body instead of a close
code. A stream is subscribed through ``Node.watch``: the node's ``deliver`` hands it the
same encoded frames as the websockets, and ``StreamHub.message`` turns each into its SSE
message once per broadcast. Writes are bounded like a websocket's: past ``--max-buffer``
unsent bytes the stream is cut.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from tornado.iostream import IOStream, StreamClosedError

from signaling import sse
from signaling.admission import Refusal, client_address
from signaling.auth import ANONYMOUS, AuthError, User
from signaling.framing import queued_bytes, write_framed
from signaling.handlers import JsonHandler
from signaling.handshake import origin_allowed, shed_handshake, sprint_id, ticket_user
from signaling.node import Node
from signaling.outbound import _retrieve
from signaling.protocol import VISIBLE_PEERS, Close, encode, resync_frame
from signaling.sse import Message, StreamRefused
from signaling.stream_hub import StreamHub, chunked_stream

__all__ = ["StreamHandler"]

log = logging.getLogger(__name__)

class StreamHandler(JsonHandler):
    """``GET /<sprint>/stream``: the sprint's events and presence, read-only (protocol §10)."""

    # Slots, as SprintHandler's: a stream lives for hours and idle ones are most of them.
    __slots__ = ("_admitted", "_early", "_early_bytes", "_ended", "_last_seq", "_last_write",
                 "_stream", "closing", "hub", "node", "peer_id", "sprint", "user")

    def initialize(self, node: Node, hub: StreamHub) -> None:
        self.node = node
        self.hub = hub
        self.sprint = 0
        self.peer_id = "sse-" + secrets.token_urlsafe(12)
        self.user: User = ANONYMOUS
        self.closing = False
        #: Messages that arrived while the replay was read (they follow it).
        self._early: list[Message] | None = []
        self._early_bytes = 0
        self._last_seq: int | None = None
        self._admitted = False
        self._last_write: asyncio.Future[None] | None = None
        #: The socket's stream when messages can be written pre-chunked (``write_message``).
        self._stream: IOStream | None = None
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def log_line(self, level: int, message: str, *args: object) -> None:
        log.log(level, "sprint %s stream %s: " + message, self.sprint, self.peer_id, *args,
                extra={"sprint": self.sprint, "peer": self.peer_id})

    # CORS: the board is served by Django, the stream by this server --------------------------
    def _cors(self) -> None:
        origin = self.request.headers.get("Origin")
        if origin is not None:
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Vary", "Origin")

    def options(self, sprint: str) -> None:
        """Preflight (a reconnect's ``Last-Event-ID`` may ask for one)."""
        origin = self.request.headers.get("Origin")
        if origin is None or not origin_allowed(origin, self.node.config):
            self._refuse(StreamRefused(403, "origin_refused", "origin not allowed"))
            return
        self._cors()
        self.set_header("Access-Control-Allow-Methods", "GET")
        self.set_header("Access-Control-Allow-Headers", "Last-Event-ID, Cache-Control")
        self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)
        self.finish()

    def _refuse(self, refusal: StreamRefused) -> None:
        self.node.metrics.sse_refused.labels(refusal.error).inc()
        self.log_line(logging.INFO, "refused %d %s: %s", refusal.status, refusal.error,
                      refusal.message)
        self.set_header("Cache-Control", "no-store")
        self.write_json_error(refusal.status, refusal.error, refusal.message)

    # the request ------------------------------------------------------------------------------
    async def get(self, sprint: str) -> None:
        try:
            since = self._check(sprint)
        except StreamRefused as refusal:
            self._refuse(refusal)
            return
        self.log_line(logging.INFO, "open as %s (%s) since %s", self.user.username,
                      self.request.remote_ip, since)
        self._cors()
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass each message on at once
        node = self.node
        try:
            await node.watch(self)
            self.hub.add(self)
            self.write(sse.OPENED)
            await self.flush()
            self._stream = chunked_stream(self.request.connection)
            shed_handshake(self)  # the headers are written: nothing reads them again
            await self._start(since)
            await self._ended
        except StreamClosedError:
            pass
        finally:
            self._end()
            await node.unwatch(self)
            self.hub.discard(self)

    def _check(self, sprint: str) -> int | None:
        """Origin, ticket, resume point, admission; ``StreamRefused`` says what is wrong."""
        node = self.node
        origin = self.request.headers.get("Origin")
        if origin is not None and not origin_allowed(origin, node.config):
            raise StreamRefused(403, "origin_refused", "origin not allowed")
        if node.closing:
            raise StreamRefused(503, "closing", "the server is shutting down")
        try:
            self.sprint = sprint_id(sprint)
            self.user = ticket_user(self.get_query_argument("token", None), self.sprint,
                                    node.config)
        except AuthError as exc:
            raise sse.auth_refusal(exc) from None
        since = sse.parse_since(self.request.headers.get("Last-Event-ID"),
                       self.get_query_argument("since", None))
        request = self.request
        request.remote_ip = client_address(
            str(request.remote_ip), request.headers.get("X-Forwarded-For"),
            request.headers.get("X-Real-Ip"), node.config.num_proxies)
        refused = node.slots.acquire(request.remote_ip, self._user_key)
        if refused is not None:
            node.metrics.dropped.labels(str(refused)).inc()
            whose = "address" if refused is Refusal.ADDRESS else "user"
            raise StreamRefused(429, str(refused), f"too many connections for this {whose}")
        self._admitted = True
        return since

    @property
    def _user_key(self) -> str | None:
        return None if self.user.id is None else str(self.user.id)

    async def _start(self, since: int | None) -> None:
        """Presence now, then the events after ``since``, then what arrived meanwhile."""
        broker = self.node.broker
        page = await broker.presence_page(self.sprint, None, VISIBLE_PEERS)
        members = [m.to_wire() for m in page.members]
        ready = [sse.message("presence", sse.presence_snapshot(members, page.count))]
        self.node.presence.welcomed(self.sprint, self.peer_id, page)  # its changes follow
        if since is not None:
            self._last_seq = since
            frames = await broker.events_since(self.sprint, since)
            if frames is None:
                latest = await broker.latest(self.sprint)
                self.log_line(logging.INFO, "since %s: resync (latest %s)", since, latest)
                data = encode(resync_frame(latest)).encode()
                ready.append(sse.message("resync", data))
            else:
                self.log_line(logging.INFO, "since %s: %d events", since, len(frames))
                for frame in frames:
                    found = self.hub.message(frame)
                    if found is not None:
                        ready.append(found)
        for message in ready:
            if not self._write(message):
                return
            # Pace a long replay: past half the budget, wait for the client to take it.
            # Live messages keep waiting in ``_early`` meanwhile, so none overtakes it.
            last = self._last_write
            if (queued_bytes(self.request.connection) > self.node.config.max_buffer // 2
                    and last is not None and not last.done()):
                await asyncio.wait([last])
        early, self._early = self._early or [], None
        for message in early:  # no await from here on: then live, in order
            if not self._write(message):
                return

    # delivery ---------------------------------------------------------------------------------
    def send(self, frame: bytes, wire: bytes | None = None) -> bool:
        """A frame of the sprint (``Node.deliver``): written as SSE if streams get its type."""
        if self.closing:
            return False
        message = self.hub.message(frame)
        if message is None:
            return False
        if self._early is not None:
            self._early.append(message)
            self._early_bytes += len(message[0])
            if self._early_bytes > self.node.config.max_buffer:
                self._overflow(self._early_bytes)
                return False
            return True
        return self._write(message)

    def _write(self, message: Message) -> bool:
        seq = message[1]
        if seq is not None:
            if self._last_seq is not None and seq <= self._last_seq:
                return True  # already sent (a replay crossing a live event)
            self._last_seq = seq
        return self.write_message(message)

    def write_message(self, message: Message) -> bool:
        """Write one message now, within the outbound budget; False if not (cut, or closed).

        As ``OutboundSocket`` does for websockets: over chunked HTTP/1.1 on a plain socket
        the broadcast's pre-framed chunk goes with one ``send`` when nothing is queued
        before it (no future, no copy), else behind what is queued.
        """
        if self.closing:
            return False
        data, _, name, chunk = message
        conn = self.request.connection
        unsent = queued_bytes(conn)
        if unsent + len(chunk) > self.node.config.max_buffer:
            self._overflow(unsent)
            return False
        try:
            if self._stream is not None:
                written = write_framed(self._stream, chunk, queued=unsent > 0)
            else:  # HTTP/1.0 or TLS: Tornado frames and writes it
                written = conn.write(data)  # type: ignore[union-attr]
                written.add_done_callback(_retrieve)
        except StreamClosedError:
            self._end()
            return False
        if written is not None:
            self._last_write = written
        self.hub.counted[name].inc()
        return True

    def _overflow(self, unsent: int) -> None:
        """Too far behind: cut the connection (nothing more can reach it in time)."""
        self.log_line(logging.WARNING, "slow consumer, %d bytes unsent; closing", unsent)
        self.node.metrics.dropped.labels("slow_consumer").inc()
        self.node.metrics.closes.labels(str(int(Close.SLOW_CONSUMER))).inc()
        self._end()
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None:
            stream.close()

    # closing ----------------------------------------------------------------------------------
    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """End the stream (``Node.shutdown``: 1001): an ``event: close`` then the end of the
        response; a client reconnects (elsewhere, behind a load balancer)."""
        if self.closing:
            return
        if code is not None:
            data = encode({"type": "close", "code": code, "reason": reason or ""}).encode()
            self.write_message(sse.message("close", data))
            self.node.metrics.closes.labels(str(code)).inc()
        self._end()

    def _end(self) -> None:
        """Once: stop writing, give the connection slots back, let ``get`` finish."""
        if self.closing:
            return
        self.closing = True
        if self._admitted:
            self.node.slots.release(str(self.request.remote_ip), self._user_key)
        if not self._ended.done():
            self._ended.set_result(None)

    def on_connection_close(self) -> None:
        if not self.closing:
            self.log_line(logging.INFO, "client went away")
        self._end()
