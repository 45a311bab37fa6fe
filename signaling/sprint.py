"""``SprintHandler``: one websocket of one sprint: ticket, welcome, presence, and dispatch.

It checks the handshake (``signaling.handshake``, ``signaling.admission``, and storm control:
``signaling.gated_socket``), joins the
sprint through the node, then turns each client frame into a call: a relay (through the
connection's ``RelayPolicy``), a signal to one peer, a resume from the history, a channels
report, a ``peers`` page. What it writes goes out through ``OutboundSocket``
(``signaling.outbound``).

Over 300 lines because it is the one place a client frame turns into a call: splitting it
would scatter the handshake-to-close story of one connection.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import Any, cast

from signaling.admission import Refusal, client_address
from signaling.auth import ANONYMOUS, AuthError, User
from signaling.broker import Envelope, Member
from signaling.gated_socket import JoinGatedSocket
from signaling.handshake import origin_allowed, shed_handshake, sprint_id, ticket_user
from signaling.node import Node
from signaling.protocol import (
    Channels,
    ClientMessage,
    Close,
    ErrorCode,
    Peers,
    ProtocolError,
    Relay,
    Resume,
    Signal,
    decode,
    encode,
    encode_bytes,
    peers_frame,
    relay_frame,
    resync_frame,
    signal_frame,
    welcome_frame,
)
from signaling.ratelimit import TokenBucket
from signaling.relay_policy import RelayPolicy

__all__ = ["SprintHandler"]

log = logging.getLogger(__name__)

_KNOWN_CLOSES = {str(int(c)) for c in Close}

#: ``peers`` requests per second per connection (and the burst): a list of 5,000 peers is
#: 50 pages, read in about five seconds.
PEERS_RATE = 10.0


class SprintHandler(JoinGatedSocket):
    """``/<sprint>/?token=…``: a peer of a sprint (docs/protocol.md §2 to §5)."""

    # Slots, as in OutboundSocket: about 1.2 KiB less per connection than the instance dict.
    __slots__ = ("_joined", "_peers_rate", "_policy", "peer_id", "sprint", "user")

    def initialize(self, node: Node) -> None:
        super().initialize(node)
        self.sprint = 0
        self.peer_id = secrets.token_urlsafe(12)
        self.user: User = ANONYMOUS
        self._joined: asyncio.Future[None] | None = None
        #: Made with the client's first frame (``RelayPolicy``): idle connections carry none.
        self._policy: RelayPolicy | None = None
        #: Made with the first ``peers`` request.
        self._peers_rate: TokenBucket | None = None

    @property
    def _ctx(self) -> dict[str, Any]:
        """Fields of this connection's log records (``--log-format=json`` shows them)."""
        return {"sprint": self.sprint, "peer": self.peer_id}

    def log_line(self, level: int, message: str, *args: object) -> None:
        """Every line names the sprint and the peer it is about."""
        log.log(level, "sprint %s peer %s: " + message, self.sprint, self.peer_id, *args,
                extra=self._ctx)

    # handshake ----------------------------------------------------------------------------
    def check_origin(self, origin: str) -> bool:
        """Called only when an Origin is sent: scripts and ``peer/`` send none."""
        return origin_allowed(origin, self.node.config)

    async def _enter(self, sprint: str) -> None:  # type: ignore[override]
        """Ticket, connection slots, join: ``JoinGatedSocket.open`` calls it in turn."""
        version = self.get_query_argument("protocol", None)
        if version != "2" and not (version is None and self.node.config.debug):
            self.log_line(logging.INFO, "refused: protocol %.10r", version)
            self.close(Close.PROTOCOL_VERSION, "protocol version 2 required")
            return
        try:
            self.sprint = sprint_id(sprint)
            self.user = ticket_user(self.get_query_argument("token", None), self.sprint,
                                    self.node.config)
        except AuthError as exc:
            self.log_line(logging.INFO, "refused with %s: %s", int(exc.code), exc.reason)
            self.close(exc.code, exc.reason)
            return
        if not self._admit():
            return
        self.log_line(logging.INFO, "connected as %s (%s)", self.user.username,
                      self.request.remote_ip)
        shed_handshake(self)
        if self.node.keepalive is not None:
            self.node.keepalive.add(self)
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
            request.headers.get("X-Real-Ip"), self.node.config.num_proxies)
        refused = self.node.slots.acquire(request.remote_ip, self._user_key)
        if refused is None:
            return True
        whose = "address" if refused is Refusal.ADDRESS else "user"
        self.log_line(logging.INFO, "refused, too many connections for %s %s", whose,
                      request.remote_ip if refused is Refusal.ADDRESS else self.user.username)
        self.node.metrics.dropped.labels(str(refused)).inc()
        self.close(Close.TOO_MANY_CONNECTIONS, f"too many connections for this {whose}")
        return False

    @property
    def _user_key(self) -> str | None:
        """Whom the per-user limit counts this connection against (anonymous: nobody)."""
        return None if self.user.id is None else str(self.user.id)

    async def _join(self) -> None:
        node = self.node
        member = Member(self.peer_id, self.user)
        page, latest = await node.join(self, member)
        welcome = welcome_frame(
            peer=self.peer_id, sprint=self.sprint, user=self.user.to_wire(),
            peers=[p.to_wire() for p in page.members], count=page.count, seq=latest,
            limits=node.config.limits, ice_servers=node.config.ice_servers_for(self.user.id))
        self.send_first(encode(welcome).encode())
        node.presence.welcomed(self.sprint, self.peer_id, page)
        await node.announce(self, member)

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
        if self.closing:
            return None
        node = self.node
        policy = self._policy
        if policy is None:
            policy = self._policy = RelayPolicy(node.config, node.metrics, self._forward_relay)
        if not policy.admit():
            self.log_line(logging.WARNING, "flooding, closing")
            node.metrics.dropped.labels("flood").inc()
            self.close(Close.FLOOD, "too many frames")
            return None
        if node.config.debug:
            self.log_line(logging.DEBUG, "<- %.200r", message)
        try:
            msg = decode(message)
        except ProtocolError as exc:
            if exc.code is ErrorCode.BAD_JSON and node.config.debug:
                node.metrics.frames_in.labels("raw").inc()
                self._forward_raw(cast(str, message))
                return None
            node.metrics.frames_in.labels("invalid").inc()
            self._error(exc)
            return None
        node.metrics.frames_in.labels(msg.type).inc()
        match msg:
            case Relay(to=None):
                self._relay(msg)
            case Channels(peers=()):
                node.report_channels(self, ())
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
            case Peers():
                await self._on_peers(msg)

    def _relay(self, msg: Relay) -> None:
        error = cast(RelayPolicy, self._policy).relay(msg)  # the policy: made by on_message
        if error is not None:
            self._error(error)

    def _forward_relay(self, msg: Relay) -> None:
        if self.closing:
            return
        frame = encode_bytes(relay_frame(self.peer_id, msg.data))
        self.node.metrics.relayed.labels(str(self.sprint)).inc()
        self.node.broker.publish_now(
            Envelope(self.sprint, frame, "relay", exclude=self.peer_id, to=msg.to))

    async def _on_signal(self, msg: Signal) -> None:
        error = cast(RelayPolicy, self._policy).signal()
        if error is not None:
            self._error(error)
            return
        if not await self._peers_present((msg.to,)):
            return
        frame = encode_bytes(signal_frame(self.peer_id, msg.data))
        await self.node.broker.direct(
            Envelope(self.sprint, frame, "signal", exclude=self.peer_id, to=(msg.to,)))

    async def _peers_present(self, peers: tuple[str, ...]) -> bool:
        """True if every named peer is another peer of this sprint; else an error frame."""
        missing = [p for p in peers if p == self.peer_id]
        missing += await self.node.broker.missing_peers(self.sprint, peers)
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
        missing = set(await self.node.broker.missing_peers(self.sprint, others))
        self.node.report_channels(self, tuple(p for p in others if p not in missing))

    async def _on_peers(self, msg: Peers) -> None:
        """A page of the sprint's peers in peer-id order (the whole list, page by page)."""
        rate = self._peers_rate
        if rate is None:
            rate = self._peers_rate = TokenBucket(PEERS_RATE, PEERS_RATE)
        if not rate.take():
            self._error(ProtocolError(ErrorCode.RATE_LIMITED,
                                      f"at most {PEERS_RATE:g} peers requests per second"))
            return
        page = await self.node.broker.presence_page(self.sprint, msg.after, msg.limit)
        next_after = page.members[-1].peer if page.more and page.members else None
        self.send(encode(peers_frame([m.to_wire() for m in page.members], next_after,
                                     page.count)).encode())

    async def _on_resume(self, msg: Resume) -> None:
        broker = self.node.broker
        frames = await broker.events_since(self.sprint, msg.since)
        if frames is None:
            latest = await broker.latest(self.sprint)
            self.log_line(logging.INFO, "resume since %s: resync (latest %s)", msg.since,
                          latest)
            self.send(encode(resync_frame(latest)).encode())
            return
        self.log_line(logging.INFO, "resume since %s: %d events", msg.since, len(frames))
        for frame in frames:
            await self.drain()
            if not self.send(frame):
                return

    def _forward_raw(self, text: str) -> None:
        """Debug mode: the seed's walkthrough, a non-JSON frame goes as-is to the others."""
        self.node.broker.publish_now(
            Envelope(self.sprint, text.encode(), "raw", exclude=self.peer_id))

    def _error(self, exc: ProtocolError) -> None:
        node = self.node
        node.metrics.errors.labels(str(exc.code)).inc()
        # A client can earn hundreds of these a second; the log gets a sample (the metric
        # counts them all) and says how many it left out.
        suppressed = node.error_log.admit()
        if suppressed is not None:
            self.log_line(logging.INFO, "error %s: %s%s", exc.code, exc.message,
                          f" ({suppressed} more error lines suppressed)" if suppressed else "")
        self.send(encode(exc.to_wire()).encode())

    # closing ------------------------------------------------------------------------------
    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if not self.closing:
            self.closing = True
            self._ended()
            self.node.metrics.closes.labels(str(code or Close.NORMAL)).inc()
            self.log_line(logging.INFO, "closing with %s %s", code, reason or "")
        super().close(code, reason)

    def _ended(self) -> None:
        """Once, when the connection starts closing (either side): stop its timers and give
        its connection slots back at once, so a reconnect finds them free."""
        if self._policy is not None:
            self._policy.cancel()
        if self.node.keepalive is not None:
            self.node.keepalive.discard(self)
        if self._joined is not None:  # admitted: it holds slots
            self.node.slots.release(str(self.request.remote_ip), self._user_key)

    def on_close(self) -> None:
        if not self.closing:  # the client closed, or the connection dropped
            self.closing = True
            self._ended()
            code = str(self.close_code) if self.close_code is not None else "1006"
            self.node.metrics.closes.labels(code if code in _KNOWN_CLOSES else "other").inc()
        self.log_line(logging.INFO, "closed (client code %s)", self.close_code)
        if self._joined is not None:
            self.node.spawn(self._leave(self._joined))

    async def _leave(self, joined: asyncio.Future[None]) -> None:
        if not joined.done():
            await asyncio.wait([joined])
        await self.node.leave(self)
