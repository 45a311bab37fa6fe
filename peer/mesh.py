"""The mesh: which remote peers get a data-channel connection, and the map of those connections.

A full mesh of n peers costs every client n-1 connections (DTLS, SCTP, ports), so a
client keeps at most ``limit`` (default 8). Both ends of a pair must make the same
choice without talking about it, so the choice depends only on the peer ids of the
sprint: sort every peer id (yours included); the first ``limit + 1`` form a full mesh
and everyone else is served by relay (docs/protocol.md §8).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from peer.ice import IceFilter
from peer.remote import Link, LinkHandler, MessageHandler, RemotePeer, SignalSender
from signaling.protocol import Drag

__all__ = ["DEFAULT_MESH_LIMIT", "Mesh", "select_mesh"]

logger = logging.getLogger(__name__)

#: Eight connections is what a laptop browser holds without noticing; nine people
#: dragging at once on one board is already a crowd, and the rest still see it by relay.
DEFAULT_MESH_LIMIT = 8


def select_mesh(local_id: str, peer_ids: Iterable[str], limit: int = DEFAULT_MESH_LIMIT
                ) -> frozenset[str]:
    """The remote peers ``local_id`` opens data channels with: at most ``limit`` of them.

    Symmetric: ``b in select_mesh(a, …)`` iff ``a in select_mesh(b, …)`` when both see
    the same peers.
    """
    if limit <= 0:
        return frozenset()
    first = sorted({local_id, *peer_ids})[: limit + 1]
    if local_id not in first:
        return frozenset()
    return frozenset(first) - {local_id}


class Mesh:
    """Remote peer id → `RemotePeer` for one local peer id (one websocket session).

    ``on_channels(peers)`` is called with the set of peers with an open link whenever
    that set changes; ``on_link`` sees every link change (to re-send by relay what a
    failed channel may have lost).
    """

    def __init__(self, local_id: str, *, signal: SignalSender, on_message: MessageHandler,
                 on_channels: Callable[[frozenset[str]], None],
                 on_link: LinkHandler | None = None, limit: int = DEFAULT_MESH_LIMIT,
                 ice_servers: Sequence[Mapping[str, Any]] = (),
                 ice_filter: IceFilter | None = None, timeout: float = 5.0) -> None:
        self.local_id = local_id
        self.limit = limit
        self.peers: dict[str, RemotePeer] = {}
        self._present: frozenset[str] = frozenset()
        self._signal = signal
        self._on_message = on_message
        self._on_channels = on_channels
        self._on_link_cb = on_link
        self._ice_servers = ice_servers
        self._filter = ice_filter
        self._timeout = timeout
        self._open: frozenset[str] = frozenset()
        self._closed = False

    def selected(self) -> frozenset[str]:
        """The peers this client should have a connection with right now."""
        return select_mesh(self.local_id, self._present, self.limit)

    def open_peers(self) -> frozenset[str]:
        """Peers with an open data-channel link."""
        return self._open

    def is_open(self, peer_id: str) -> bool:
        return peer_id in self._open

    async def update(self, present: Iterable[str],
                     initiate: Callable[[str], bool] = lambda _: False) -> None:
        """Presence changed: close links no longer selected, create the newly selected ones.

        ``initiate(peer)`` says whether this side makes the first offer to a new link.
        """
        if self._closed:
            return
        self._present = frozenset(present) - {self.local_id}
        wanted = self.selected()
        for peer_id in [p for p in self.peers if p not in wanted]:
            await self.remove(peer_id)
        for peer_id in sorted(wanted - set(self.peers)):
            remote = self._create(peer_id)
            if initiate(peer_id):
                remote.offer()

    def handle_signal(self, from_id: str, data: dict[str, Any]) -> None:
        """A ``signal`` from another peer: route it to its link (created if selected)."""
        remote = self.peers.get(from_id)
        if remote is None and from_id not in self._present and from_id != self.local_id:
            # A newcomer's offer can come before the presence frame that tells of it
            # (presence is told once per tick): a signal proves the sender is in the sprint.
            present = self._present | {from_id}
            if from_id in select_mesh(self.local_id, present, self.limit):
                self._present = present
        if remote is None:
            if self._closed or from_id not in self.selected():
                logger.debug("peer %s: ignoring signal from %s (not in mesh)", self.local_id,
                             from_id)
                return
            remote = self._create(from_id)
        remote.handle_signal(data)

    def send(self, peer_id: str, drag: Drag) -> bool:
        """Send over the data channel to ``peer_id``; False if there is none open."""
        remote = self.peers.get(peer_id)
        return remote is not None and remote.send(drag)

    async def remove(self, peer_id: str) -> None:
        """Close and forget the link to ``peer_id`` (it left or fell out of the mesh)."""
        remote = self.peers.pop(peer_id, None)
        if remote is not None:
            await remote.close()
            self._report()

    async def close(self) -> None:
        """Close every link."""
        self._closed = True
        remotes, self.peers = list(self.peers.values()), {}
        await asyncio.gather(*(r.close() for r in remotes), return_exceptions=True)
        self._report()

    def _create(self, peer_id: str) -> RemotePeer:
        remote = RemotePeer(self.local_id, peer_id, signal=self._signal,
                            on_message=self._on_message, on_link=self._link_changed,
                            ice_servers=self._ice_servers, ice_filter=self._filter,
                            timeout=self._timeout)
        self.peers[peer_id] = remote
        return remote

    def _link_changed(self, remote: RemotePeer, old: Link, new: Link) -> None:
        if self._on_link_cb is not None:
            self._on_link_cb(remote, old, new)
        self._report()

    def _report(self) -> None:
        current = frozenset(p for p, r in self.peers.items() if r.is_open)
        if current != self._open:
            self._open = current
            self._on_channels(current)
