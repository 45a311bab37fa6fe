"""`Peer`: one client of a sprint — presence, events, and drags over data channels or relay.

It ties the pieces together: the websocket (`peer.websocket`), the authoritative events
(`peer.follow`, on `peer.event_stream`'s algorithm), drag numbering and dedupe (`peer.drag`)
and the WebRTC mesh (`peer.mesh`). Drags go peer to peer where a data channel is open
and through one ``relay`` frame for every other peer (docs/protocol.md §8). Over 300
lines because `Peer` is the one class a library user meets: its frame dispatch and
lifecycle read best together; every algorithm it uses lives in the modules above.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from peer.api import ApiClient, Snapshot, override_realtime
from peer.drag import GHOST_TTL, DragReceiver, DragSequence, Ghost
from peer.event_stream import Board, EventStream
from peer.feed import Feed
from peer.follow import EventLog, Follower
from peer.ice import IceFilter
from peer.mesh import DEFAULT_MESH_LIMIT, Mesh
from peer.remote import Link, RemotePeer
from peer.websocket import ConnectFunction, Renewer, SignalingConnection, State
from signaling.protocol import (
    MAX_PEERS_PAGE,
    MAX_RECIPIENTS,
    Channels,
    Drag,
    ErrorCode,
    Peers,
    ProtocolError,
    Relay,
    Resume,
    Signal,
    decode_drag,
)

__all__ = ["OtherPeer", "Peer", "PeersPage", "Presence", "ReceivedDrag", "join"]

logger = logging.getLogger(__name__)

Via = Literal["datachannel", "relay"]
#: How many tasks' latest start/end are kept to re-send by relay when a channel fails.
RELIABLE_MEMORY = 16


@dataclass(frozen=True, slots=True)
class OtherPeer:
    """Another peer of the sprint, from presence."""

    peer: str
    user: dict[str, Any]

    @property
    def username(self) -> str:
        return str(self.user.get("username", "?"))


@dataclass(frozen=True, slots=True)
class Presence:
    """``joined`` or ``left``; a reconnect reports the difference to what was known."""

    kind: Literal["joined", "left"]
    peer: OtherPeer


@dataclass(frozen=True, slots=True)
class PeersPage:
    """A page of the sprint's peers in peer-id order (``Peer.request_peers``)."""

    peers: list[OtherPeer]
    next: str | None  # the ``after`` of the next page; None on the last
    count: int


@dataclass(frozen=True, slots=True)
class ReceivedDrag:
    """A drag update shown to us (already deduped), and the path it took."""

    sender: str
    user: dict[str, Any] | None
    drag: Drag
    via: Via


class Peer:
    """A headless client of one sprint's realtime channel.

    ``url`` is the sprint's websocket (``ws://HOST:8080/<sprint>/``), ``token`` its
    ticket. Options (defaults in brackets): ``webrtc`` [True] — False never creates an
    RTCPeerConnection and ignores offers, so others relay to it; ``mesh_limit`` [8];
    ``negotiation_timeout`` [5 s] before a pair is treated as relay-only; ``ice_filter``
    drops ICE candidates both ways (test hook: `peer.ice.block_all` makes ICE fail);
    ``last_seq`` the sprint seq of REST state already loaded [None: start from now];
    ``log`` reads the sprint's event log after a seq (see `join`): what a ``resync`` is
    caught up from first; ``refetch`` reloads the whole sprint when the log cannot help;
    ``renew`` fetches a fresh ticket when the server refuses the old one; ``connect``
    replaces the websocket opener.
    """

    def __init__(self, url: str, token: str | None = None, *, webrtc: bool = True,
                 mesh_limit: int = DEFAULT_MESH_LIMIT, negotiation_timeout: float = 5.0,
                 ice_filter: IceFilter | None = None, last_seq: int | None = None,
                 refetch: Callable[[], Awaitable[Snapshot]] | None = None,
                 log: EventLog | None = None,
                 renew: Renewer | None = None, connect: ConnectFunction | None = None,
                 ghost_ttl: float = GHOST_TTL, backoff_base: float = 0.5) -> None:
        self.webrtc = webrtc
        self.mesh_limit = mesh_limit
        self.negotiation_timeout = negotiation_timeout
        self.ice_filter = ice_filter
        self.peer_id: str | None = None
        self.user: dict[str, Any] | None = None
        self.sprint: int | None = None
        #: The other peers this client sees: of the sprint's first 50 by id (protocol §3).
        self.peers: dict[str, OtherPeer] = {}
        #: Every peer of the sprint, this one included (``welcome``/``presence`` count).
        self.count = 0
        self.mesh: Mesh | None = None
        self.drags: Feed[ReceivedDrag] = Feed()
        self.presence: Feed[Presence] = Feed()
        self.errors: deque[dict[str, Any]] = deque(maxlen=100)  # latest error frames
        self.channel_reports: list[frozenset[str]] = []  # every `channels` set reported
        self.follower = Follower(last_seq=last_seq, log=log, refetch=refetch,
                                 resume=lambda since: self._signaling.send(
                                     Resume(since=since).to_wire()),
                                 spawn=self._spawn, who=lambda: self.peer_id)
        self._sequence = DragSequence()
        self._receiver = DragReceiver(ghost_ttl)
        self._reliable: OrderedDict[int, Drag] = OrderedDict()  # task -> latest start/end
        self._signaling = SignalingConnection(url, token, self._on_frame,
                                              on_state=self._on_state, connect=connect,
                                              renew=renew, base=backoff_base)
        self._welcome: asyncio.Future[None] | None = None
        self._pages: deque[asyncio.Future[PeersPage]] = deque()
        self._run_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: str, token: str | None = None, *, timeout: float = 10.0,
                      **options: Any) -> Peer:
        """Create, connect and wait for ``welcome``; close again if that fails."""
        return await cls(url, token, **options).started(timeout)

    async def started(self, timeout: float = 10.0) -> Peer:
        """``start``, closing again if that fails; returns the peer."""
        try:
            await self.start(timeout=timeout)
        except BaseException:
            await self.close()
            raise
        return self

    async def start(self, timeout: float = 10.0) -> None:
        """Start connecting and wait (up to ``timeout`` s) for the first ``welcome``."""
        loop = asyncio.get_running_loop()
        self._welcome = loop.create_future()
        self._run_task = asyncio.create_task(self._run(), name="peer-signaling")
        await asyncio.wait_for(asyncio.shield(self._welcome), timeout)

    async def __aenter__(self) -> Peer:
        if self._run_task is None:
            await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every peer connection and the websocket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.mesh is not None:
                await self.mesh.close()
        finally:
            await self._signaling.close()
            tasks = [t for t in (self._run_task, *self._tasks) if t is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for feed in (self.drags, self.events, self.presence):
                feed.close()
            if self._welcome is not None and not self._welcome.done():
                self._welcome.cancel()

    async def _run(self) -> None:
        try:
            await self._signaling.run()
        except Exception as exc:
            logger.warning("peer %s: signaling stopped: %s", self.peer_id, exc)
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_exception(exc)

    @property
    def board(self) -> Board:
        """The sprint as REST showed it, kept current by its events."""
        return self.follower.board

    @property
    def stream(self) -> EventStream:
        return self.follower.stream

    @property
    def events(self) -> Feed[dict[str, Any]]:
        """Events applied (live, replayed or from the log), and ``resync`` frames."""
        return self.follower.events

    @property
    def connected(self) -> bool:
        return self._signaling.state is State.CONNECTED

    @property
    def signaling(self) -> SignalingConnection:
        return self._signaling

    # --- drags --------------------------------------------------------------------------------

    async def send_drag(self, task: int, phase: str, status: str | None = None,
                        index: int | None = None, x: float | None = None,
                        y: float | None = None) -> Drag:
        """Show a drag update to every other peer: by data channel where open, else by relay.

        Raises ``ProtocolError`` for invalid fields. Returns the update sent.
        """
        drag = self._sequence.next(task, phase, status=status, index=index, x=x, y=y)
        if phase != "move":
            self._reliable[task] = drag
            self._reliable.move_to_end(task)
            while len(self._reliable) > RELIABLE_MEMORY:
                self._reliable.popitem(last=False)
        # A peer whose offer came before the presence frame naming it (a channel opens within
        # one presence tick) is known from its link: by its channel, else by relay on its own
        # (a relay naming a peer that is gone is refused whole).
        early = [p for p in self.mesh.peers if p not in self.peers] if self.mesh else []
        early_relay = [p for p in early if not self.mesh.send(p, drag)]  # type: ignore[union-attr]
        relay_to = [p for p in self.peers if self.mesh is None or not self.mesh.send(p, drag)]
        if self.count > len(self.peers) + 1:  # peers we do not see: the server tells all
            await self._signaling.send(Relay(data=drag.to_wire()).to_wire())
            return drag
        await self._relay(drag, relay_to)
        if early_relay:
            await self._relay(drag, early_relay)
        return drag

    async def request_peers(self, after: str | None = None, limit: int = MAX_PEERS_PAGE,
                            timeout: float = 5.0) -> PeersPage:
        """One page of the sprint's peers after ``after`` in peer-id order (``peers``, §4).

        Raises ``ProtocolError`` for a bad ``after``/``limit`` or when the server refuses
        the request (its error frame: rate limited), ``TimeoutError`` without an answer.
        """
        request = Peers(after=after, limit=limit)
        Peers.from_wire(request.to_wire())  # the server's own checks, before sending
        answer: asyncio.Future[PeersPage] = asyncio.get_running_loop().create_future()
        self._pages.append(answer)
        try:
            await self._signaling.send(request.to_wire())
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        finally:
            if answer in self._pages:
                self._pages.remove(answer)

    async def all_peers(self) -> list[OtherPeer]:
        """Every peer of the sprint (this one included), page by page."""
        found: list[OtherPeer] = []
        after: str | None = None
        while True:
            page = await self.request_peers(after)
            found += page.peers
            if page.next is None:
                return found
            after = page.next

    def ghosts(self) -> list[Ghost]:
        """The other peers' drags in flight now (ghosts idle for 5 s are dropped first)."""
        self._receiver.expire(asyncio.get_running_loop().time())
        return list(self._receiver.ghosts())

    def channel_peers(self) -> frozenset[str]:
        """Peers with an open data channel."""
        return self.mesh.open_peers() if self.mesh is not None else frozenset()

    async def _relay(self, drag: Drag, to: list[str]) -> None:
        for start in range(0, len(to), MAX_RECIPIENTS):
            chunk = tuple(to[start:start + MAX_RECIPIENTS])
            await self._signaling.send(Relay(data=drag.to_wire(), to=chunk).to_wire())

    def _receive(self, sender: str, data: Any, via: Via) -> None:
        try:
            drag = decode_drag(data)
        except ProtocolError as exc:
            logger.debug("peer %s: bad drag from %s: %s", self.peer_id, sender, exc.message)
            return
        if sender == self.peer_id:
            return
        if self._receiver.accept(sender, drag, asyncio.get_running_loop().time()):
            info = self.peers.get(sender)
            self.drags.emit(ReceivedDrag(sender=sender, user=info.user if info else None,
                                         drag=drag, via=via))

    def _on_channel_message(self, sender: str, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            logger.debug("peer %s: non-JSON on data channel from %s", self.peer_id, sender)
            return
        self._receive(sender, data, "datachannel")

    def _on_link(self, remote: RemotePeer, old: Link, new: Link) -> None:
        if old is Link.OPEN and new is Link.FAILED:
            # What went on the reliable channel may not have arrived: say it again by
            # relay; the receiver's seq check drops whatever it already has. Also to a peer
            # the presence frame naming it has not reached yet (a channel opens within one
            # presence tick): its offer proved it a peer of the sprint.
            drags = list(self._reliable.values())
            self._spawn(self._resend(drags, remote.remote_id))

    async def _resend(self, drags: list[Drag], peer_id: str) -> None:
        for drag in drags:
            await self._relay(drag, [peer_id])

    def _on_channels(self, peers: frozenset[str]) -> None:
        self.channel_reports.append(peers)
        self._spawn(self._signaling.send(Channels(peers=tuple(sorted(peers))).to_wire()))

    async def _send_signal(self, to: str, data: dict[str, Any]) -> None:
        await self._signaling.send(Signal(to=to, data=data).to_wire())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- frames from the server ---------------------------------------------------------------

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            await self._on_welcome(frame)
        elif kind == "presence":
            await self._on_presence(frame)
        elif kind == "peers":
            self._on_page(frame)
        elif kind == "relay":
            self._receive(str(frame.get("from")), frame.get("data"), "relay")
        elif kind == "signal":
            if self.mesh is not None and isinstance(frame.get("data"), dict):
                self.mesh.handle_signal(str(frame.get("from")), frame["data"])
        elif kind == "event":
            await self.follower.event(frame)
        elif kind == "resync":
            await self.follower.resync(frame)
        elif kind == "error":
            logger.warning("peer %s: server error %s: %s", self.peer_id, frame.get("code"),
                           frame.get("message"))
            self.errors.append(frame)
            if self._pages and (frame.get("field") in ("after", "limit")
                                or "peers request" in str(frame.get("message"))):
                self._pages.popleft().set_exception(ProtocolError(
                    ErrorCode(str(frame.get("code"))), str(frame.get("message"))))
        else:
            logger.debug("peer %s: ignoring frame of type %r", self.peer_id, kind)

    async def _on_welcome(self, frame: dict[str, Any]) -> None:
        old_id, self.peer_id = self.peer_id, str(frame["peer"])
        self.user, self.sprint = frame.get("user"), frame.get("sprint")
        logger.info("peer %s: welcome to sprint %s (was %s)", self.peer_id, self.sprint, old_id)
        listed = {str(p["peer"]): OtherPeer(str(p["peer"]), p.get("user") or {})
                  for p in frame.get("peers", [])
                  if isinstance(p, dict) and "peer" in p and p["peer"] != self.peer_id}
        self.count = int(frame.get("count") or len(listed) + 1)
        for gone in [p for p in self.peers if p not in listed]:
            self._forget(self.peers.pop(gone))
        for peer_id, info in listed.items():
            if peer_id not in self.peers:
                self.peers[peer_id] = info
                self.presence.emit(Presence("joined", info))
        if self.mesh is not None:  # a new session: our old peer id means nothing now
            await self.mesh.close()
            self.mesh = None
        if self.webrtc:
            self.mesh = Mesh(self.peer_id, signal=self._send_signal,
                             on_message=self._on_channel_message,
                             on_channels=self._on_channels, on_link=self._on_link,
                             limit=self.mesh_limit, ice_servers=frame.get("ice_servers") or (),
                             ice_filter=self.ice_filter, timeout=self.negotiation_timeout)
            # We joined later than everyone listed: we make the first offers.
            await self.mesh.update(self.peers, initiate=lambda _: True)
        seq = frame.get("seq")
        await self.follower.welcome(seq if isinstance(seq, int) else None)
        if self._welcome is not None and not self._welcome.done():
            self._welcome.set_result(None)

    async def _on_presence(self, frame: dict[str, Any]) -> None:
        """Changes to the peers we see (left first, then joined) and the sprint's count."""
        for peer in frame.get("left", []):
            info = self.peers.pop(str(peer), None)
            if info is not None:
                self._forget(info)
        joined: set[str] = set()
        for p in frame.get("joined", []):
            if isinstance(p, dict) and "peer" in p and p["peer"] != self.peer_id:
                info = OtherPeer(str(p["peer"]), p.get("user") or {})
                joined.add(info.peer)
                if info.peer not in self.peers:
                    self.peers[info.peer] = info
                    self.presence.emit(Presence("joined", info))
        if isinstance(frame.get("count"), int):
            self.count = frame["count"]
        if self.mesh is not None:
            local = self.mesh.local_id
            # Who appears in ``joined`` offers (a newcomer: its welcome listed us). A freed
            # slot may bring a peer we already saw into the mesh: the larger id offers.
            await self.mesh.update(self.peers, initiate=lambda p: p not in joined and local > p)

    def _on_page(self, frame: dict[str, Any]) -> None:
        if not self._pages:
            return
        peers = [OtherPeer(str(p["peer"]), p.get("user") or {}) for p in frame.get("peers", [])
                 if isinstance(p, dict) and "peer" in p]
        nxt = frame.get("next")
        count = frame.get("count")
        self._pages.popleft().set_result(PeersPage(
            peers, nxt if isinstance(nxt, str) else None, count if isinstance(count, int) else 0))

    def _forget(self, info: OtherPeer) -> None:
        self._receiver.forget(info.peer)
        self.presence.emit(Presence("left", info))

    def _on_state(self, old: State, new: State) -> None:
        logger.info("peer %s: signaling %s -> %s", self.peer_id, old, new)


async def join(api: ApiClient, sprint: int, *, realtime: str | None = None,
               timeout: float = 10.0, **options: Any) -> Peer:
    """Load ``sprint`` over REST, get a ticket and connect: protocol §6 step 1 and 2.

    ``api`` must be logged in. ``realtime`` overrides the websocket base of the ticket's
    URL (e.g. ``ws://127.0.0.1:8080``). The returned peer refetches on ``resync`` and
    renews its ticket when the server refuses an expired one.
    """
    snapshot = await api.snapshot(sprint)
    ticket = await api.ticket(sprint)

    async def renew() -> tuple[str, str]:
        fresh = await api.ticket(sprint)
        return override_realtime(fresh.url, realtime), fresh.token

    peer = Peer(override_realtime(ticket.url, realtime), ticket.token, last_seq=snapshot.seq,
                refetch=lambda: api.snapshot(sprint),
                log=lambda since: api.event_log(sprint, since), renew=renew, **options)
    peer.board.load(snapshot.sprint, snapshot.tasks)
    return await peer.started(timeout)

