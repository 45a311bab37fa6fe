"""The Redis broker's presence: who is in each sprint on every node, and dead nodes reaped.

Presence is a hash per sprint (peer id -> ``{"n": node, "u": user, "t": joined}``) plus a
set per node of the sprints it has peers in. This node's own peers (``local``) are the
truth: ``register`` makes Redis match them after every (re)connect and announces what
changed to the other nodes. Each node refreshes a heartbeat key whose TTL is
``presence_ttl`` every third of it and, on the same tick, looks for registered nodes whose
heartbeat expired: the reap script lets exactly one survivor claim such a node, removes its
peers and returns them, and the winner publishes ``peer_left`` for each, once cluster-wide.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from signaling.auth import User
from signaling.broker import Envelope, Member
from signaling.protocol import encode, peer_joined_frame, peer_left_frame
from signaling.redis_connection import ERRORS, RedisLink
from signaling.redis_fanout import RedisFanout
from signaling.redis_scripts import REAP_NODE

__all__ = ["RedisPresence"]

log = logging.getLogger(__name__)


class RedisPresence:
    """Presence in Redis for one node: join, leave, lists, the heartbeat and the reaper."""

    def __init__(self, link: RedisLink, fanout: RedisFanout, *, presence_ttl: float) -> None:
        self.link = link
        self.fanout = fanout
        self.presence_ttl = presence_ttl
        #: This node's own peers per sprint: the truth re-registered after an outage.
        self.local: dict[int, dict[str, Member]] = {}
        self._reap = link.redis.register_script(REAP_NODE)

    def _entry(self, member: Member) -> str:
        return json.dumps({"n": self.link.node_id, "u": member.user.to_wire(), "t": time.time()},
                          separators=(",", ":"))

    async def join(self, sprint: int, member: Member) -> None:
        self.local.setdefault(sprint, {})[member.peer] = member
        if not self.link.up:
            return  # registered on reconnect
        try:
            async with self.link.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.link.keys.presence(sprint), member.peer, self._entry(member))
                pipe.sadd(self.link.keys.node_sprints(self.link.node_id), sprint)
                await pipe.execute()
        except ERRORS as exc:
            self.link.down(exc)

    async def leave(self, sprint: int, peer: str) -> None:
        members = self.local.get(sprint)
        if members is not None:
            members.pop(peer, None)
            if not members:
                del self.local[sprint]
        if not self.link.up:
            return  # unregistered on reconnect
        try:
            async with self.link.redis.pipeline(transaction=True) as pipe:
                pipe.hdel(self.link.keys.presence(sprint), peer)
                if sprint not in self.local:
                    pipe.srem(self.link.keys.node_sprints(self.link.node_id), sprint)
                await pipe.execute()
        except ERRORS as exc:
            self.link.down(exc)

    async def peers(self, sprint: int) -> list[Member]:
        """Every node's peers in join order; only this node's while Redis is down."""
        local = list(self.local.get(sprint, {}).values())
        key = self.link.keys.presence(sprint)
        entries = await self.link.read(lambda: self.link.redis.hgetall(key), None)
        if entries is None:
            return local
        found: list[tuple[float, str, Member]] = []
        for raw_peer, raw in entries.items():
            peer = raw_peer.decode() if isinstance(raw_peer, bytes) else str(raw_peer)
            try:
                entry = json.loads(raw)
                user = User(id=entry["u"].get("id"), username=str(entry["u"]["username"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            found.append((float(entry.get("t", 0)), peer, Member(peer, user)))
        return [member for _, _, member in sorted(found, key=lambda f: (f[0], f[1]))]

    async def missing_peers(self, sprint: int, peers: Iterable[str]) -> list[str]:
        peers = list(peers)
        local = self.local.get(sprint, {})
        others = [p for p in peers if p not in local]
        if not others:
            return []
        key = self.link.keys.presence(sprint)
        entries = await self.link.read(lambda: self.link.redis.hmget(key, others), None)
        if entries is None:
            return others
        return [p for p, raw in zip(others, entries, strict=True) if raw is None]

    async def nodes_of(self, sprint: int, peers: list[str]) -> dict[str, list[str]]:
        """The node holding each of ``peers`` (others' peers), grouped by node."""
        if not peers:
            return {}
        key = self.link.keys.presence(sprint)
        entries = await self.link.read(lambda: self.link.redis.hmget(key, peers), None)
        by_node: dict[str, list[str]] = {}
        for peer, raw in zip(peers, entries or [None] * len(peers), strict=True):
            if raw is not None:
                by_node.setdefault(json.loads(raw)["n"], []).append(peer)
        return by_node

    # the node's registration ------------------------------------------------------------------
    async def register(self) -> None:
        """(Re-)register this node and make Redis's presence match its peers.

        Peers that joined or left while Redis was unreachable (or that a survivor reaped
        meanwhile) are added or removed, and announced to the other nodes.
        """
        keys, node = self.link.keys, self.link.node_id
        redis = self.link.redis
        async with redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.alive(node), "1", px=int(self.presence_ttl * 1000))
            pipe.sadd(keys.nodes, node)
            pipe.smembers(keys.node_sprints(node))
            *_, listed = await pipe.execute()
        sprints = sorted({int(s) for s in listed} | set(self.local))
        async with redis.pipeline(transaction=False) as pipe:
            for sprint in sprints:
                pipe.hgetall(keys.presence(sprint))
            tables = await pipe.execute()
        announce: list[Envelope] = []
        async with redis.pipeline(transaction=False) as pipe:
            for sprint, table in zip(sprints, tables, strict=True):
                mine = {p.decode() for p, raw in table.items() if _node_of(raw) == node}
                local = self.local.get(sprint, {})
                for peer in mine - local.keys():
                    pipe.hdel(keys.presence(sprint), peer)
                    announce.append(Envelope(sprint, _frame(peer_left_frame(peer)), "presence",
                                             exclude=peer))
                for peer in local.keys() - mine:
                    pipe.hset(keys.presence(sprint), peer, self._entry(local[peer]))
                    frame = _frame(peer_joined_frame(peer, local[peer].user.to_wire()))
                    announce.append(Envelope(sprint, frame, "presence", exclude=peer))
                if local:
                    pipe.sadd(keys.node_sprints(node), sprint)
                else:
                    pipe.srem(keys.node_sprints(node), sprint)
            await pipe.execute()
        self.fanout.send_on_connect(announce)
        if announce:
            log.info("broker %s: re-registered presence, %d changes announced",
                     self.link.label, len(announce))

    async def heartbeat(self) -> None:
        """Refresh this node's heartbeat and reap the nodes whose heartbeat expired."""
        keys, node = self.link.keys, self.link.node_id
        while not self.link.closing:
            await asyncio.sleep(self.presence_ttl / 3)
            if not self.link.up:
                continue
            try:
                async with self.link.redis.pipeline(transaction=False) as pipe:
                    pipe.set(keys.alive(node), "1", px=int(self.presence_ttl * 1000))
                    pipe.sadd(keys.nodes, node)
                    pipe.smembers(keys.nodes)
                    _, added, members = await pipe.execute()
                if added:  # reaped while we were too slow: our peers are gone from Redis
                    log.warning("broker %s: node %s was reaped; re-registering",
                                self.link.label, node)
                    await self.register()
                others = sorted(m.decode() for m in members if m.decode() != node)
                if others:
                    async with self.link.redis.pipeline(transaction=False) as pipe:
                        for other in others:
                            pipe.exists(keys.alive(other))
                        alive = await pipe.execute()
                    for other, is_alive in zip(others, alive, strict=True):
                        if not is_alive:
                            await self.reap(other)
            except ERRORS as exc:
                self.link.down(exc)

    async def reap(self, dead: str) -> None:
        """Claim a dead node; if this node won, publish ``peer_left`` for each of its peers.

        A node leaving cleanly reaps itself: its peers leave at once, everywhere.
        """
        gone = await self._reap(args=[self.link.keys.prefix, dead])
        pairs = [(int(gone[i]), gone[i + 1].decode()) for i in range(0, len(gone), 2)]
        if dead != self.link.node_id:
            log.warning("broker %s: node %s is gone; %d of its peers removed",
                        self.link.label, dead, len(pairs))
        if self.link.metrics is not None and dead != self.link.node_id:
            self.link.metrics.broker_reaped.inc(len(pairs))
        for sprint, peer in pairs:
            self.fanout.publish_now(Envelope(sprint, _frame(peer_left_frame(peer)), "presence",
                                             exclude=peer))
        if dead == self.link.node_id:
            await self.fanout.flush()


def _frame(message: dict[str, Any]) -> bytes:
    return encode(message).encode()


def _node_of(raw: bytes) -> str | None:
    try:
        node = json.loads(raw).get("n")
    except (ValueError, AttributeError):
        return None
    return node if isinstance(node, str) else None
