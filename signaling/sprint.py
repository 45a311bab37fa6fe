"""``SprintHandler``: one websocket of one sprint: ticket, welcome, presence, relay, signal.

It translates frames into calls on the application and the broker, rate-limits what the
client sends, and writes what the client receives through a bounded outbound budget: a
client that stops reading is closed with 4009 instead of growing memory or slowing others.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

import tornado.websocket
from tornado.httputil import HTTPHeaders
from tornado.iostream import StreamClosedError

from signaling.admission import Refusal, client_address
from signaling.auth import ANONYMOUS, AuthError, User, verify_ticket
from signaling.broker import Envelope, PeerInfo
from signaling.framing import PING_FRAME, framed_stream, text_frame, write_framed
from signaling.protocol import (
    Channels,
    ClientMessage,
    Close,
    ErrorCode,
    ProtocolError,
    Relay,
    Resume,
    Signal,
    decode,
    encode,
    relay_frame,
    resync_frame,
    signal_frame,
    welcome_frame,
)
from signaling.ratelimit import MoveCoalescer, TokenBucket

if TYPE_CHECKING:
    from signaling.app import ScrumApplication

__all__ = ["SprintHandler"]

log = logging.getLogger(__name__)

_KNOWN_CLOSES = {str(int(c)) for c in Close}


class _NoHeaders(HTTPHeaders):
    """Empty and read-only: stands in for the request's and the 101's headers once a
    connection is open, one shared instance for every connection."""

    def _refuse(self, *args: object) -> None:
        raise TypeError("the headers of an open websocket cannot change")

    add = __setitem__ = __delitem__ = _refuse  # type: ignore[assignment]


_NO_HEADERS = _NoHeaders()
_MAX_SPRINT_DIGITS = 18  # a sprint id fits a 64-bit integer


def _number(value: float) -> int | float:
    """60.0 -> 60 on the wire."""
    return int(value) if float(value).is_integer() else value


def _retrieve(written: asyncio.Future[None]) -> None:
    """Mark a write's outcome retrieved: a closed stream is not an error here."""
    if not written.cancelled():
        written.exception()


def _drag_task(data: dict[str, Any]) -> int | None:
    """The task of a drag update (relay ``data``), or None if it is not one."""
    task = data.get("task")
    if data.get("type") != "drag" or isinstance(task, bool) or not isinstance(task, int):
        return None
    return task


class SprintHandler(tornado.websocket.WebSocketHandler):
    """``/<sprint>/?token=…``: a peer of a sprint (docs/protocol.md §2 to §5)."""

    # Our state lives in slots, not in the instance dict that Tornado's own attributes
    # already fill: about 1.2 KiB less per connection (measured; docs/architecture.md).
    __slots__ = ("_closing", "_early", "_early_bytes", "_flood", "_joined", "_last_write",
                 "_moves", "_precounted", "_relays", "_signals", "awaiting_pong", "peer_id",
                 "ping_slot", "sprint", "user")

    def initialize(self) -> None:
        config = self.scrum.config
        #: Early frames a broadcaster already counted in ``frames_out`` (see ``send``).
        self._precounted = 0
        #: The keepalive wheel's slot of this connection (-1: not on it), and whether a
        #: ping is unanswered (``signaling.keepalive``).
        self.ping_slot = -1
        self.awaiting_pong = False
        self.sprint = 0
        self.peer_id = secrets.token_urlsafe(12)
        self.user: User = ANONYMOUS
        self._closing = False
        self._joined: asyncio.Future[None] | None = None
        #: Frames for this client that arrived before its welcome was written.
        self._early: list[bytes] | None = []
        self._early_bytes = 0
        self._last_write: asyncio.Future[None] | None = None
        self._flood = TokenBucket(config.flood_rate, config.flood_rate)
        self._relays = TokenBucket(config.relay_rate, config.relay_rate)
        self._signals = TokenBucket(config.signal_rate, config.signal_burst)
        #: Made on the first move over the rate (most connections never drag that fast).
        self._moves: MoveCoalescer[Relay] | None = None

    @property
    def scrum(self) -> ScrumApplication:
        return cast("ScrumApplication", self.application)

    # handshake ----------------------------------------------------------------------------
    def check_origin(self, origin: str) -> bool:
        """Browsers must come from an ``--allowed-origin`` (any Origin in debug mode).

        Clients that send no Origin (scripts, ``peer/``) are not checked here: Tornado
        calls this only when the header is present; they still need a token.
        """
        config = self.scrum.config
        if config.debug:
            return True
        allowed = origin.rstrip("/").lower() in config.allowed_origins
        if not allowed:
            log.warning("origin %r refused (allowed: %s)", origin, ", ".join(
                config.allowed_origins))
        return allowed

    async def open(self, sprint: str) -> None:  # type: ignore[override]
        try:
            if len(sprint) > _MAX_SPRINT_DIGITS:
                raise AuthError(Close.FORBIDDEN, "no such sprint")
            self.sprint = int(sprint)
            self.user = self._authenticate()
        except AuthError as exc:
            log.info("sprint %s peer %s: refused with %s: %s", self.sprint, self.peer_id,
                     int(exc.code), exc.reason, extra=self._ctx)
            self.close(exc.code, exc.reason)
            return
        if not self._admit():
            return
        log.info("sprint %s peer %s: connected as %s (%s)", self.sprint, self.peer_id,
                 self.user.username, self.request.remote_ip, extra=self._ctx)
        self._shed_handshake()
        if self.scrum.keepalive is not None:
            self.scrum.keepalive.add(self)
        self._joined = asyncio.ensure_future(self._join())
        await self._joined

    def _admit(self) -> bool:
        """Take this connection's slots (per address, per user), or close it with 4029.

        The client's address replaces the socket's on the request (as Tornado's
        ``xheaders`` would, but trusting only ``--num-proxies`` proxies), so the log and
        the release in ``_ended`` read the same one.
        """
        request = self.request
        request.remote_ip = client_address(
            str(request.remote_ip), request.headers.get("X-Forwarded-For"),
            request.headers.get("X-Real-Ip"), self.scrum.config.num_proxies)
        refused = self.scrum.slots.acquire(request.remote_ip, self._user_key)
        if refused is None:
            return True
        whose = "address" if refused is Refusal.ADDRESS else "user"
        log.info("sprint %s peer %s: refused, too many connections for %s %s", self.sprint,
                 self.peer_id, whose, request.remote_ip if refused is Refusal.ADDRESS
                 else self.user.username, extra=self._ctx)
        self.scrum.metrics.dropped.labels(str(refused)).inc()
        self.close(Close.TOO_MANY_CONNECTIONS, f"too many connections for this {whose}")
        return False

    @property
    def _user_key(self) -> str | None:
        """Whom the per-user limit counts this connection against (anonymous: nobody)."""
        return None if self.user.id is None else str(self.user.id)

    def _shed_handshake(self) -> None:
        """Drop what only the handshake needed; a connection lives for hours.

        The request headers (a browser's carry its cookies), the query string with the
        ticket (held four times over: uri, query, arguments, query_arguments), the 101's
        response headers and the template helpers Tornado gives every handler are never
        read again once the connection is open.
        """
        request = self.request
        request.headers = _NO_HEADERS
        request.uri = request.path
        request.query = ""
        request.arguments = request.query_arguments = request.body_arguments = {}
        self._headers = _NO_HEADERS
        self.ui = None  # type: ignore[assignment]

    @property
    def _ctx(self) -> dict[str, Any]:
        """Fields of this connection's log records (``--log-format=json`` shows them)."""
        return {"sprint": self.sprint, "peer": self.peer_id}

    def _authenticate(self) -> User:
        config = self.scrum.config
        token = self.get_query_argument("token", None)
        if not token and config.debug:
            return ANONYMOUS
        return verify_ticket(token, secret=config.secret, sprint=self.sprint,
                             previous=config.previous_secret).user

    async def _join(self) -> None:
        scrum = self.scrum
        config = scrum.config
        info = PeerInfo(self.peer_id, self.user)
        others, latest = await scrum.join(self, info)
        welcome = welcome_frame(
            peer=self.peer_id, sprint=self.sprint, user=self.user.to_wire(),
            peers=[p.to_wire() for p in others],
            ice_servers=config.ice_servers_for(self.user.id), seq=latest,
            limits={"relay_per_second": _number(config.relay_rate),
                    "max_message_bytes": config.max_message_size})
        early, self._early = self._early or [], None
        for frame in [encode(welcome).encode(), *early]:
            self._write(frame)
        await scrum.announce(self, info)

    # inbound ------------------------------------------------------------------------------
    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Handle one client frame.

        What needs nothing from the broker but a send (a relay to the whole sprint, a
        ``channels`` report, debug text) is handled here and now. Only what must wait
        for the broker (named recipients, signals, resume) returns an awaitable; Tornado
        awaits it before it reads the client's next frame, so one client's frames are
        still handled in order. Not wrapping every frame in a task took about a third off
        the server's CPU per relayed frame (``make bench``, relay).
        """
        if self._closing:
            return None
        metrics = self.scrum.metrics
        if not self._flood.take():
            log.warning("sprint %s peer %s: flooding, closing", self.sprint, self.peer_id,
                        extra=self._ctx)
            metrics.dropped.labels("flood").inc()
            self.close(Close.FLOOD, "too many frames")
            return None
        if self.scrum.config.debug:
            log.debug("sprint %s peer %s: <- %.200r", self.sprint, self.peer_id, message,
                      extra=self._ctx)
        try:
            msg = decode(message)
        except ProtocolError as exc:
            if exc.code is ErrorCode.BAD_JSON and self.scrum.config.debug:
                metrics.frames_in.labels("raw").inc()
                self._forward_raw(cast(str, message))
                return None
            metrics.frames_in.labels("invalid").inc()
            self._error(exc)
            return None
        metrics.frames_in.labels(msg.type).inc()
        match msg:
            case Relay(to=None):
                self._relay(msg)
            case Channels(peers=()):
                self.scrum.report_channels(self, ())
            case _:
                return self._dispatch(msg)
        return None

    async def _dispatch(self, msg: ClientMessage) -> None:
        match msg:
            case Relay():
                if await self._peers_present(cast(tuple[str, ...], msg.to)):
                    self._relay(msg)
            case Signal():
                await self._on_signal(msg)
            case Resume():
                await self._on_resume(msg)
            case Channels():
                await self._on_channels(msg)

    def _relay(self, msg: Relay) -> None:
        """Forward a relay whose recipients are known to be here: rate limit, coalesce.

        Encoded only when it is sent (``decode`` guarantees it can be): moves replaced
        while held over the rate cost nothing.
        """
        task = _drag_task(msg.data)
        is_move = task is not None and msg.data.get("phase") == "move"
        if task is not None and self._moves is not None and self._moves.discard(task):
            self.scrum.metrics.coalesced.inc()  # superseded by this newer update
        if self._relays.take():
            self._forward_relay(msg)
        elif is_move and task is not None:
            self._hold_move(task, msg)
        else:
            self.scrum.metrics.dropped.labels("rate_limited").inc()
            self._error(ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"relay over {_number(self._relays.rate)} frames/s dropped"))

    def _hold_move(self, task: int, msg: Relay) -> None:
        if self._moves is None:
            self._moves = MoveCoalescer(self._relays, self._flush_move,
                                        max_tasks=self.scrum.config.coalesce_tasks)
        held = self._moves.hold(task, msg)
        if held is None:
            self.scrum.metrics.dropped.labels("coalesce_full").inc()
        elif held:
            self.scrum.metrics.coalesced.inc()

    def _flush_move(self, msg: Relay) -> None:
        if not self._closing:
            self._forward_relay(msg)

    def _forward_relay(self, msg: Relay) -> None:
        frame = encode(relay_frame(self.peer_id, msg.data)).encode()
        self.scrum.metrics.relayed.labels(str(self.sprint)).inc()
        self.scrum.broker.publish_now(
            Envelope(self.sprint, frame, "relay", exclude=self.peer_id, to=msg.to))

    async def _on_signal(self, msg: Signal) -> None:
        if not self._signals.take():
            self.scrum.metrics.dropped.labels("rate_limited").inc()
            self._error(ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"signal over {_number(self._signals.rate)} frames/s dropped"))
            return
        if not await self._peers_present((msg.to,)):
            return
        frame = encode(signal_frame(self.peer_id, msg.data)).encode()
        await self.scrum.broker.direct(
            Envelope(self.sprint, frame, "signal", exclude=self.peer_id, to=(msg.to,)))

    async def _peers_present(self, peers: tuple[str, ...]) -> bool:
        """True if every named peer is another peer of this sprint; else an error frame."""
        missing = [p for p in peers if p == self.peer_id]
        missing += await self.scrum.broker.missing_peers(self.sprint, peers)
        if missing:
            self._error(ProtocolError(
                ErrorCode.UNKNOWN_PEER, f"to: {missing[0][:64]!r} is not another peer of "
                f"sprint {self.sprint}", field="to"))
        return not missing

    async def _on_channels(self, msg: Channels) -> None:
        """Record the data channels this client reports, with peers of its sprint only.

        Ids that are not (or no longer) another peer of the sprint are left out, silently:
        a channel report can cross a ``peer_left``, and nothing is forwarded anyway.
        """
        others = [p for p in msg.peers if p != self.peer_id]
        missing = set(await self.scrum.broker.missing_peers(self.sprint, others))
        self.scrum.report_channels(self, tuple(p for p in others if p not in missing))

    async def _on_resume(self, msg: Resume) -> None:
        broker = self.scrum.broker
        frames = await broker.events_since(self.sprint, msg.since)
        if frames is None:
            latest = await broker.latest(self.sprint)
            log.info("sprint %s peer %s: resume since %s: resync (latest %s)", self.sprint,
                     self.peer_id, msg.since, latest, extra=self._ctx)
            self.send(encode(resync_frame(latest)).encode())
            return
        log.info("sprint %s peer %s: resume since %s: %d events", self.sprint, self.peer_id,
                 msg.since, len(frames), extra=self._ctx)
        for frame in frames:
            await self._drain()
            if not self.send(frame):
                return

    def _forward_raw(self, text: str) -> None:
        """Debug mode: the seed's walkthrough, a non-JSON frame goes as-is to the others."""
        self.scrum.broker.publish_now(
            Envelope(self.sprint, text.encode(), "raw", exclude=self.peer_id))

    def _error(self, exc: ProtocolError) -> None:
        scrum = self.scrum
        scrum.metrics.errors.labels(str(exc.code)).inc()
        # A client can earn hundreds of these a second; the log gets a sample (the metric
        # counts them all) and says how many it left out.
        suppressed = scrum.error_log.admit()
        if suppressed is not None:
            log.info("sprint %s peer %s: error %s: %s%s", self.sprint, self.peer_id, exc.code,
                     exc.message, f" ({suppressed} more error lines suppressed)"
                     if suppressed else "", extra=self._ctx)
        self.send(encode(exc.to_wire()).encode())

    # outbound -----------------------------------------------------------------------------
    def send(self, frame: bytes, wire: bytes | None = None) -> bool:
        """Queue one encoded text frame for this client; False if it was not sent.

        ``wire`` is the same frame already framed by ``framing.text_frame``: a broadcast
        frames once for all its recipients and each connection writes those bytes as-is.
        A caller passing ``wire`` counts ``frames_out`` itself, once for the whole
        broadcast; a frame without it is counted here.
        """
        if self._closing:
            return False
        if self._early is not None:
            self._early.append(frame)
            self._early_bytes += len(frame)
            if self._early_bytes > self.scrum.config.max_buffer:
                self._overflow(self._early_bytes)
                return False
            if wire is not None:
                self._precounted += 1  # the welcome's flush must not count it again
            return True
        return self._write(frame, wire)

    def _write(self, frame: bytes, wire: bytes | None = None) -> bool:
        """Write one frame now, pre-framed where the connection allows; counted unless ``wire``."""
        conn = self.ws_connection
        stream = framed_stream(conn)
        if stream is not None:
            unsent = stream._total_write_index - stream._total_write_done_index
        else:
            unsent = self._unsent()
        max_buffer: int = self.application.config.max_buffer  # type: ignore[attr-defined]
        if unsent + len(frame) > max_buffer:
            self._overflow(unsent)
            return False
        try:
            if stream is not None:
                written = write_framed(stream, text_frame(frame) if wire is None else wire,
                                       queued=unsent > 0)
            else:  # TLS or compression: Tornado frames it for this connection
                written = self.write_message(frame)  # bytes + binary=False: a text frame
                written.add_done_callback(_retrieve)
        except (tornado.websocket.WebSocketClosedError, StreamClosedError):
            return False
        if written is not None:  # None: the kernel took it all, nothing left to wait for
            self._last_write = written
        if wire is None:
            if self._precounted:
                self._precounted -= 1
            else:
                self.scrum.metrics.frames_out.inc()
        return True

    def _unsent(self) -> int:
        """Bytes queued for this client that its socket has not taken yet.

        Read from Tornado's IOStream write indexes: exact at every moment, where the
        futures of ``write_message`` only resolve on a later turn of the loop.
        """
        stream = getattr(self.ws_connection, "stream", None)
        try:
            return int(stream._total_write_index - stream._total_write_done_index)  # type: ignore[union-attr]
        except AttributeError:
            return 0

    async def _drain(self) -> None:
        """Wait while more than half the outbound budget is unsent (paces ``resume``).

        Bytes are unsent only behind a write the IOStream queued, and the latest such
        write is ``_last_write``: its future resolves when the socket has taken them all.
        """
        while self._unsent() > self.scrum.config.max_buffer // 2 and not self._closing:
            last = self._last_write
            if last is None or last.done():
                return
            await asyncio.wait([last])

    def _overflow(self, unsent: int) -> None:
        log.warning("sprint %s peer %s: slow consumer, %d bytes unsent; closing", self.sprint,
                    self.peer_id, unsent, extra=self._ctx)
        self.scrum.metrics.dropped.labels("slow_consumer").inc()
        self.close(Close.SLOW_CONSUMER, "slow consumer")

    # keepalive (signaling.keepalive) ------------------------------------------------------
    def send_ping(self) -> bool:
        """Write a websocket ping behind whatever is queued; False if closed."""
        if self._closing:
            return False
        stream = framed_stream(self.ws_connection)
        try:
            if stream is None:  # TLS or compression: Tornado writes it
                self.ping()
                return True
            written = write_framed(stream, PING_FRAME, queued=self._unsent() > 0)
        except (tornado.websocket.WebSocketClosedError, StreamClosedError):
            return False
        if written is not None:
            self._last_write = written
        return True

    def on_pong(self, data: bytes) -> None:
        self.awaiting_pong = False

    def ping_timed_out(self) -> None:
        log.info("sprint %s peer %s: no pong to the last ping; closing", self.sprint,
                 self.peer_id, extra=self._ctx)
        self.close(Close.PING_TIMEOUT, "ping timed out")

    # closing ------------------------------------------------------------------------------
    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if not self._closing:
            self._closing = True
            self._ended()
            self.scrum.metrics.closes.labels(str(code or Close.NORMAL)).inc()
            log.info("sprint %s peer %s: closing with %s %s", self.sprint, self.peer_id,
                     code, reason or "", extra=self._ctx)
        super().close(code, reason)

    def _ended(self) -> None:
        """Once, when the connection starts closing (either side): stop its timers and give
        its connection slots back at once, so a reconnect finds them free."""
        if self._moves is not None:
            self._moves.cancel()
        if self.scrum.keepalive is not None:
            self.scrum.keepalive.discard(self)
        if self._joined is not None:  # admitted: it holds slots
            self.scrum.slots.release(str(self.request.remote_ip), self._user_key)

    def on_close(self) -> None:
        if not self._closing:  # the client closed, or the connection dropped
            self._closing = True
            self._ended()
            code = str(self.close_code) if self.close_code is not None else "1006"
            self.scrum.metrics.closes.labels(code if code in _KNOWN_CLOSES else "other").inc()
        log.info("sprint %s peer %s: closed (client code %s)", self.sprint, self.peer_id,
                 self.close_code, extra=self._ctx)
        if self._joined is not None:
            self.scrum.spawn(self._leave(self._joined))

    async def _leave(self, joined: asyncio.Future[None]) -> None:
        if not joined.done():
            await asyncio.wait([joined])
        await self.scrum.leave(self)
