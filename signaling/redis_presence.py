"""The Redis broker's presence: who is in each sprint on every node, and the heartbeat.

Presence is a hash per sprint (peer id -> ``{"n": node, "g": generation, "u": user, "t":
joined}``) with a sorted set of its peer ids beside it (the first K and a page after a
cursor without reading the hash: ``presence_page``), plus a set per node of the sprints it
has peers in. This node's own peers
(``local``) are the truth: ``register`` makes Redis match them after every (re)connect and
announces what changed to the other nodes. Each node refreshes a heartbeat key whose TTL is
``presence_ttl`` every third of it; a heartbeat found lapsed gives the node a new generation
and registers its peers again under it (a survivor may be reaping the old one's: see
``signaling.redis_reaper``). On the same tick it looks for registered nodes whose heartbeat
expired and reaps them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any

from signaling.auth import User
from signaling.broker import Envelope, Member, PresencePage
from signaling.protocol import encode, peer_joined_frame
from signaling.redis_connection import ERRORS, RedisLink
from signaling.redis_fanout import RedisFanout
from signaling.redis_reaper import Reaper, left_envelope, owner
from signaling.redis_scripts import (
    BEAT,
    JOIN_PEER,
    LEAVE_PEERS,
    PRESENCE_PAGE,
    REGISTER_SPRINT,
)

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
        #: When each of them joined (kept across re-registrations: the peers' order).
        self.joined: dict[str, float] = {}
        #: This node's generation in Redis (None until the first heartbeat).
        self.generation: str | None = None
        self.reaper = Reaper(link, fanout, lease=presence_ttl)
        self._beat = link.redis.register_script(BEAT)
        self._register = link.redis.register_script(REGISTER_SPRINT)
        self._join = link.redis.register_script(JOIN_PEER)
        self._leave = link.redis.register_script(LEAVE_PEERS)
        self._page = link.redis.register_script(PRESENCE_PAGE)

    def _entry(self, member: Member) -> str:
        return json.dumps({"n": self.link.node_id, "g": self.generation or "",
                           "u": member.user.to_wire(), "t": self.joined[member.peer]},
                          separators=(",", ":"))

    async def join(self, sprint: int, member: Member) -> None:
        members = self.local.setdefault(sprint, {})
        members[member.peer] = member
        self.joined[member.peer] = time.time()
        if not self.link.up:
            return  # registered on reconnect
        redis, keys = self.link.redis, self.link.keys
        try:
            # The sprint is in the node's set before its first peer is listed: a node that
            # dies between the two leaves nothing the reaper cannot find.
            if len(members) == 1:
                await redis.sadd(keys.node_sprints(self.link.node_id), sprint)
            await self._join(keys=[keys.presence(sprint), keys.peer_ids(sprint)],
                             args=[member.peer, self._entry(member)])
        except ERRORS as exc:
            self.link.down(exc)

    async def leave(self, sprint: int, peer: str) -> None:
        members = self.local.get(sprint)
        if members is not None:
            members.pop(peer, None)
            if not members:
                del self.local[sprint]
        self.joined.pop(peer, None)
        if not self.link.up:
            return  # unregistered on reconnect
        redis, keys = self.link.redis, self.link.keys
        try:  # the peer first, then the sprint from the node's set (as join, reversed)
            await self._leave(keys=[keys.presence(sprint), keys.peer_ids(sprint)], args=[peer])
            if sprint not in self.local:
                await redis.srem(keys.node_sprints(self.link.node_id), sprint)
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
            read = _read_entry(peer, raw)
            if read is not None:
                found.append((read[0], peer, read[1]))
        return [member for _, _, member in sorted(found, key=lambda f: (f[0], f[1]))]

    async def presence_page(self, sprint: int, after: str | None, limit: int) -> PresencePage:
        """One script on the sprint's slot; only this node's peers while Redis is down."""
        keys = self.link.keys
        found = await self.link.read(lambda: self._page(
            keys=[keys.peer_ids(sprint), keys.presence(sprint)],
            args=["-" if after is None else f"({after}", limit]), None)
        if found is None:
            ordered = sorted(p for p in self.local.get(sprint, {}) if after is None or p > after)
            local = self.local.get(sprint, {})
            return PresencePage([local[p] for p in ordered[:limit]], len(local),
                                len(ordered) > limit)
        count, ids, entries = found
        members = []
        for raw_peer, raw in zip(ids[:limit], entries, strict=False):
            read = _read_entry(raw_peer.decode(), raw)
            if read is not None:
                members.append(read[1])
        return PresencePage(members, int(count), len(ids) > limit)

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
    async def beat(self) -> bool:
        """Refresh the heartbeat; True if it had lapsed (the node has a new generation)."""
        keys, node = self.link.keys, self.link.node_id
        gen = (await self._beat(keys=[keys.alive(node), keys.generation(node)],
                                args=[int(self.presence_ttl * 1000), secrets.token_hex(6)]
                                )).decode()
        lapsed, self.generation = gen != self.generation, gen
        return lapsed

    async def register(self) -> None:
        """(Re-)register this node and make Redis's presence match its peers.

        Every peer of this node is written again (under its generation, which is new if the
        heartbeat had lapsed); peers that joined or left while Redis was unreachable (or
        that a survivor reaped meanwhile) are announced to the other nodes.
        """
        keys, node, redis = self.link.keys, self.link.node_id, self.link.redis
        await self.beat()
        async with redis.pipeline(transaction=False) as pipe:
            pipe.sadd(keys.nodes, node)
            pipe.smembers(keys.node_sprints(node))
            _, listed = await pipe.execute()
        sprints = sorted({int(s) for s in listed} | set(self.local))
        async with redis.pipeline(transaction=False) as pipe:
            for sprint in sprints:
                pipe.hgetall(keys.presence(sprint))
            tables = await pipe.execute()
        announce: list[Envelope] = []
        for sprint, table in zip(sprints, tables, strict=True):
            local = dict(self.local.get(sprint, {}))  # as written (peers may leave meanwhile)
            stale = [p.decode() for p, raw in table.items()
                     if owner(raw)[0] == node and p.decode() not in local]
            if local or stale:
                args: list[Any] = [node, len(local)]
                for peer, member in local.items():
                    args += [peer, self._entry(member)]
                added, removed = await self._register(
                    keys=[keys.presence(sprint), keys.peer_ids(sprint)], args=[*args, *stale])
                # Peers that left while the script ran (a heartbeat's register runs with
                # the link up): written back by it, so removed again and not announced.
                now = self.local.get(sprint, {})
                if gone := [p for p in local if p not in now]:
                    await self._leave(keys=[keys.presence(sprint), keys.peer_ids(sprint)],
                                      args=gone)
                announce += [left_envelope(sprint, p.decode()) for p in removed]
                announce += [_joined_envelope(sprint, local[p.decode()]) for p in added
                             if p.decode() in now]
        async with redis.pipeline(transaction=False) as pipe:
            for sprint in sprints:
                if sprint in self.local:
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
                if await self.beat():  # too slow for a whole TTL: maybe reaped meanwhile
                    log.warning("broker %s: node %s's heartbeat had lapsed; re-registering",
                                self.link.label, node)
                    await self.register()
                async with self.link.redis.pipeline(transaction=False) as pipe:
                    pipe.sadd(keys.nodes, node)
                    pipe.smembers(keys.nodes)
                    _, members = await pipe.execute()
                others = sorted(m.decode() for m in members if m.decode() != node)
                if others:
                    async with self.link.redis.pipeline(transaction=False) as pipe:
                        for other in others:
                            pipe.exists(keys.alive(other))
                        alive = await pipe.execute()
                    for other, is_alive in zip(others, alive, strict=True):
                        if not is_alive:
                            await self.reaper.reap(other)
            except ERRORS as exc:
                self.link.down(exc)


def _read_entry(peer: str, raw: bytes | None) -> tuple[float, Member] | None:
    """When a presence entry's peer joined, and the member; None if it is unreadable."""
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
        user = User(id=entry["u"].get("id"), username=str(entry["u"]["username"]))
        return float(entry.get("t", 0)), Member(peer, user)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _joined_envelope(sprint: int, member: Member) -> Envelope:
    frame = encode(peer_joined_frame(member.peer, member.user.to_wire())).encode()
    return Envelope(sprint, frame, "presence", exclude=member.peer)
