"""Watercooler's headless peer: a Python client of a sprint's realtime channel.

Joins a sprint, follows its authoritative events (protocol §6), opens WebRTC data
channels to the other peers and shows and sends drag state over them, with the
websocket relay as fallback (protocol §8), and moves tasks through the API's move
operation, naming the version it moved from. ``python -m peer --help`` for the CLI.
"""

import logging

from peer.api import KEEP, ApiClient, ApiError, Conflict, Keep, LogGone, Snapshot, Ticket
from peer.client import OtherPeer, Peer, Presence, ReceivedDrag, join
from peer.drag import GHOST_TTL, DragReceiver, DragSequence, Ghost
from peer.event_stream import Board, EventStream, Outcome, board_order
from peer.ice import block_all
from peer.mesh import DEFAULT_MESH_LIMIT, Mesh, select_mesh
from peer.remote import Link, RemotePeer
from peer.websocket import SignalingConnection, SignalingError, State

__all__ = [
    "DEFAULT_MESH_LIMIT",
    "GHOST_TTL",
    "KEEP",
    "ApiClient",
    "ApiError",
    "Board",
    "Conflict",
    "DragReceiver",
    "DragSequence",
    "EventStream",
    "Ghost",
    "Keep",
    "Link",
    "LogGone",
    "Mesh",
    "OtherPeer",
    "Outcome",
    "Peer",
    "Presence",
    "ReceivedDrag",
    "RemotePeer",
    "SignalingConnection",
    "SignalingError",
    "Snapshot",
    "State",
    "Ticket",
    "block_all",
    "board_order",
    "join",
    "select_mesh",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
