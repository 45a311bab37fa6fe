"""One remote peer: an RTCPeerConnection with the two pre-negotiated drag channels (protocol §8).

Negotiation is "perfect negotiation" adapted to aiortc, which cannot roll back a local
offer: the polite side (smaller peer id) that receives an offer while its own is out
throws its RTCPeerConnection away and answers on a fresh one; the impolite side
ignores the colliding offer. Every signaling step runs in one worker task per remote
peer, in arrival order, so no two steps interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_to_sdp

from peer.ice import END_OF_CANDIDATES, IceFilter, candidate_from_wire, filter_sdp
from signaling.protocol import Drag, encode

__all__ = ["DRAG_CHANNEL", "RELIABLE_CHANNEL", "Link", "RemotePeer", "ice_configuration"]

logger = logging.getLogger(__name__)

#: (label, id) of the two channels; both ends create them with ``negotiated=True``.
DRAG_CHANNEL = ("drag", 0)
RELIABLE_CHANNEL = ("drag-reliable", 1)

SignalSender = Callable[[str, dict[str, Any]], Awaitable[None]]
MessageHandler = Callable[[str, str], None]


class Link(StrEnum):
    """State of the data-channel link to one remote peer."""

    NEGOTIATING = "negotiating"  # no channel yet: drags for this peer go by relay
    OPEN = "open"  # both channels open: drags go peer to peer
    FAILED = "failed"  # timed out, ICE failed or a channel broke: relay only from now on
    CLOSED = "closed"  # closed by us (peer left, mesh change, shutdown)


LinkHandler = Callable[["RemotePeer", Link, Link], None]


def ice_configuration(ice_servers: Sequence[Mapping[str, Any]]) -> RTCConfiguration:
    """``welcome.ice_servers`` (``RTCIceServer`` dicts) as aiortc's configuration."""
    servers = [RTCIceServer(urls=s["urls"], username=s.get("username"),
                            credential=s.get("credential"))
               for s in ice_servers if s.get("urls")]
    return RTCConfiguration(iceServers=servers)


class RemotePeer:
    """The connection to one remote peer and its negotiation state.

    ``signal(to, data)`` sends a ``signal`` frame; ``on_message(peer, text)`` gets every
    message from either channel; ``on_link(remote, old, new)`` every link change. If no
    channel is open ``timeout`` seconds (default 5) after creation, the link is FAILED:
    the pair uses relay. ``ice_filter`` drops candidates both ways (test hook).
    """

    def __init__(self, local_id: str, remote_id: str, *, signal: SignalSender,
                 on_message: MessageHandler, on_link: LinkHandler,
                 ice_servers: Sequence[Mapping[str, Any]] = (),
                 ice_filter: IceFilter | None = None, timeout: float = 5.0) -> None:
        self.local_id = local_id
        self.remote_id = remote_id
        self.polite = local_id < remote_id
        self._signal = signal
        self._on_message = on_message
        self._on_link = on_link
        self._config = ice_configuration(ice_servers)
        self._filter = ice_filter
        self._link = Link.NEGOTIATING
        self._ignore_offer = False
        self._pending: list[RTCIceCandidate | None] = []  # candidates before the remote SDP
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.pc, self._drag, self._reliable = self._new_connection()
        self.rollbacks = 0  # how often the polite side gave up its own offer (glare)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(timeout, self._timed_out)
        self._worker = asyncio.create_task(self._work(), name=f"remote-{remote_id}")

    def __repr__(self) -> str:
        return f"<RemotePeer {self.local_id}->{self.remote_id} {self._link}>"

    @property
    def link(self) -> Link:
        return self._link

    @property
    def is_open(self) -> bool:
        return self._link is Link.OPEN

    # --- public operations ----------------------------------------------------------------

    def offer(self) -> None:
        """Queue the first offer (the peer that joined later makes it)."""
        self._inbox.put_nowait({"offer": True})

    def handle_signal(self, data: dict[str, Any]) -> None:
        """Queue one ``signal.data`` from the remote peer (description or candidate)."""
        self._inbox.put_nowait(data)

    def send(self, drag: Drag) -> bool:
        """Send a drag update peer to peer: ``move`` unreliable, ``start``/``end`` reliable.

        False if no channel is open (the caller relays it instead).
        """
        channel = self._drag if drag.phase == "move" else self._reliable
        if self._link is not Link.OPEN or channel.readyState != "open":
            return False
        try:
            channel.send(encode(drag.to_wire()))
        except Exception as exc:  # the transport died under us; the link change follows
            logger.info("peer %s: send to %s failed: %s", self.local_id, self.remote_id, exc)
            return False
        return True

    async def close(self) -> None:
        """Close the connection for good (idempotent)."""
        self._set_link(Link.CLOSED)
        self._timer.cancel()
        self._inbox.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._worker, 5)
        await self.pc.close()

    # --- connection and channels ------------------------------------------------------------

    def _new_connection(self) -> tuple[RTCPeerConnection, RTCDataChannel, RTCDataChannel]:
        pc = RTCPeerConnection(self._config)
        drag = pc.createDataChannel(DRAG_CHANNEL[0], id=DRAG_CHANNEL[1], negotiated=True,
                                    ordered=False, maxRetransmits=0)
        reliable = pc.createDataChannel(RELIABLE_CHANNEL[0], id=RELIABLE_CHANNEL[1],
                                        negotiated=True)

        def current() -> bool:
            return pc is self.pc  # events of a rolled-back connection mean nothing

        def on_open() -> None:
            if current() and drag.readyState == reliable.readyState == "open":
                self._set_link(Link.OPEN)

        def on_close() -> None:
            if current():
                self._fail("data channel closed")

        def on_state() -> None:
            if current() and pc.connectionState == "failed":
                self._fail("connection failed")

        for channel in (drag, reliable):
            channel.on("open", on_open)
            channel.on("close", on_close)
            channel.on("message", self._message)
        pc.on("connectionstatechange", on_state)
        return pc, drag, reliable

    def _message(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self._on_message(self.remote_id, message)

    def _set_link(self, new: Link) -> None:
        old = self._link
        if old is new or old is Link.CLOSED or (old is Link.FAILED and new is not Link.CLOSED):
            return
        self._link = new
        if new is not Link.NEGOTIATING:
            self._timer.cancel()
        logger.info("peer %s: link to %s %s -> %s", self.local_id, self.remote_id, old, new)
        self._on_link(self, old, new)

    def _fail(self, why: str) -> None:
        if self._link in (Link.FAILED, Link.CLOSED):
            return
        logger.info("peer %s: link to %s failed: %s", self.local_id, self.remote_id, why)
        self._set_link(Link.FAILED)
        self._inbox.put_nowait(None)  # the worker closes the connection

    def _timed_out(self) -> None:
        if self._link is Link.NEGOTIATING:
            self._fail("negotiation timed out")

    # --- negotiation (worker task only) -------------------------------------------------------

    async def _work(self) -> None:
        try:
            while (item := await self._inbox.get()) is not None:
                if self._link in (Link.FAILED, Link.CLOSED):
                    break
                try:
                    await self._step(item)
                except Exception as exc:  # a bad SDP from a peer must not kill the client
                    logger.warning("peer %s: negotiation with %s failed: %r", self.local_id,
                                   self.remote_id, exc)
                    self._fail("negotiation error")
                    break
        finally:
            if self._link is Link.FAILED:
                await self.pc.close()

    async def _step(self, item: dict[str, Any]) -> None:
        if item.get("offer"):
            await self.pc.setLocalDescription(await self.pc.createOffer())
            await self._send_description()
        elif isinstance(item.get("description"), dict):
            await self._on_description(item["description"])
        elif "candidate" in item:
            await self._on_candidate(item["candidate"])

    async def _send_description(self) -> None:
        desc = self.pc.localDescription
        await self._signal(self.remote_id, {"description": {
            "type": desc.type, "sdp": filter_sdp(desc.sdp, self._filter)}})
        # aiortc put every candidate in the SDP; say so for trickling peers.
        await self._signal(self.remote_id, dict(END_OF_CANDIDATES))

    async def _on_description(self, desc: dict[str, Any]) -> None:
        kind, sdp = desc.get("type"), desc.get("sdp")
        if kind not in ("offer", "answer") or not isinstance(sdp, str):
            logger.debug("peer %s: ignoring description %r from %s", self.local_id, kind,
                         self.remote_id)
            return
        remote = RTCSessionDescription(sdp=filter_sdp(sdp, self._filter), type=kind)
        if kind == "answer":
            if self.pc.signalingState != "have-local-offer":
                logger.debug("peer %s: stale answer from %s", self.local_id, self.remote_id)
                return
            await self.pc.setRemoteDescription(remote)
            await self._flush_candidates()
            return
        collision = self.pc.signalingState != "stable"
        self._ignore_offer = collision and not self.polite
        if self._ignore_offer:
            logger.info("peer %s: glare with %s, impolite: ignoring its offer",
                        self.local_id, self.remote_id)
            return
        if collision:
            logger.info("peer %s: glare with %s, polite: rolling back", self.local_id,
                        self.remote_id)
            await self._rollback()
        await self.pc.setRemoteDescription(remote)
        await self._flush_candidates()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self._send_description()

    async def _rollback(self) -> None:
        # aiortc has no "rollback" description: start over on a fresh connection.
        old = self.pc
        self.pc, self._drag, self._reliable = self._new_connection()
        self._pending.clear()
        self.rollbacks += 1
        await old.close()

    async def _on_candidate(self, obj: Any) -> None:
        if self._ignore_offer:
            return
        try:
            candidate = candidate_from_wire(obj)
        except (ValueError, IndexError) as exc:
            logger.debug("peer %s: bad candidate from %s: %s", self.local_id, self.remote_id,
                         exc)
            return
        if (candidate is not None and self._filter is not None
                and not self._filter("candidate:" + candidate_to_sdp(candidate))):
            return
        if self.pc.remoteDescription is None:
            self._pending.append(candidate)
            return
        await self._add_candidate(candidate)

    async def _flush_candidates(self) -> None:
        pending, self._pending = self._pending, []
        for candidate in pending:
            await self._add_candidate(candidate)

    async def _add_candidate(self, candidate: RTCIceCandidate | None) -> None:
        try:
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:  # e.g. a candidate after end-of-candidates
            logger.debug("peer %s: candidate from %s not added: %s", self.local_id,
                         self.remote_id, exc)
