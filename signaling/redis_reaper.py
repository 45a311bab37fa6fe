"""The Redis broker's reaper: the peers of a dead node removed, and announced, exactly once.

A node's keys live in its slot and a sprint's in the sprint's, so the reap cannot be one
script (Redis Cluster runs a script on one slot): it goes in steps of one slot each.

1. **Claim** (the dead node's slot): unless its heartbeat is back, a survivor takes the
   reaper lease (one at a time) and reads the node's generation and the sprints it had
   peers in.
2. **Each sprint** (the sprint's slot): the peers still listed for that node *and that
   generation* are removed, and each one's ``peer_left`` is published in the same script:
   whoever removes a peer announces it, so every peer leaves once, whatever fails around it.
   The sprint is then crossed off the node's set and the lease renewed; a node that came
   back meanwhile has a new generation (its heartbeat lapsed: ``redis_presence``) and the
   reap stops there, its peers its own again.
3. **Done**: the node's keys are deleted and it leaves the registry.

A survivor that dies midway leaves the lease to expire and the node registered: the next
survivor to see the silent heartbeat claims it and finishes the sprints left.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from signaling.broker import Envelope
from signaling.protocol import encode, peer_left_frame
from signaling.redis_connection import RedisLink
from signaling.redis_fanout import RedisFanout
from signaling.redis_scripts import CLAIM_REAP, REAP_SPRINT, REAP_STEP

__all__ = ["Reaper", "owner"]

log = logging.getLogger(__name__)

#: The shortest reaper lease (s): renewed at every sprint, so it outlasts a slow one.
MIN_LEASE = 5.0


def owner(raw: bytes | str | None) -> tuple[str | None, str]:
    """The node and generation of a presence entry (None for an unreadable one)."""
    try:
        entry = json.loads(raw or b"")
        node, gen = entry.get("n"), entry.get("g", "")
    except (ValueError, AttributeError):
        return None, ""
    return (node if isinstance(node, str) else None), (gen if isinstance(gen, str) else "")


def left_envelope(sprint: int, peer: str) -> Envelope:
    return Envelope(sprint, encode(peer_left_frame(peer)).encode(), "presence", exclude=peer)


class Reaper:
    """Reaps dead nodes (and this one, when it leaves cleanly), in steps of one slot."""

    def __init__(self, link: RedisLink, fanout: RedisFanout, *, lease: float) -> None:
        self.link = link
        self.fanout = fanout
        self.lease_ms = int(max(lease, MIN_LEASE) * 1000)
        self._claim = link.redis.register_script(CLAIM_REAP)
        self._sprint = link.redis.register_script(REAP_SPRINT)
        self._step = link.redis.register_script(REAP_STEP)

    async def reap(self, dead: str) -> int:
        """Reap ``dead`` if it is silent and nobody else is at it; the peers this node
        removed (and announced)."""
        keys, me = self.link.keys, self.link.node_id
        claim = await self._claim(keys=[keys.alive(dead), keys.node_sprints(dead),
                                        keys.generation(dead), keys.reaper(dead)],
                                  args=[me, self.lease_ms])
        if claim is None:
            return 0
        gen, sprints = claim[0].decode(), sorted(int(s) for s in claim[1])
        removed = 0
        for sprint in [*sprints, None]:
            if sprint is not None:
                removed += await self._reap_sprint(dead, gen, sprint)
            status = await self._step(
                keys=[keys.generation(dead), keys.node_sprints(dead), keys.reaper(dead)],
                args=[gen, me, self.lease_ms, "" if sprint is None else sprint])
            if status not in (b"ok", b"done"):
                log.warning("broker %s: reap of node %s stopped (%s)", self.link.label, dead,
                            status.decode())
                break
            if status == b"done":
                await self._unregister(dead)
        if dead != me:
            log.warning("broker %s: node %s is gone; %d of its peers removed", self.link.label,
                        dead, removed)
            if self.link.metrics is not None:
                self.link.metrics.broker_reaped.inc(removed)
        return removed

    async def _reap_sprint(self, dead: str, gen: str, sprint: int) -> int:
        keys = self.link.keys
        table = await self.link.redis.hgetall(keys.presence(sprint))
        left = {peer.decode(): left_envelope(sprint, peer.decode())
                for peer, raw in table.items() if owner(raw) == (dead, gen)}
        if not left:
            return 0
        args: list[Any] = [dead, gen]
        for peer, envelope in left.items():
            args += [peer, envelope.pack(self.link.node_id)]
        removed = await self._sprint(keys=[keys.presence(sprint), keys.sprint_channel(sprint)],
                                     args=args)
        for peer in removed:  # the other nodes had it from the script; this node's own now
            self.fanout.deliver_local(left[peer.decode()])
        return len(removed)

    async def _unregister(self, dead: str) -> None:
        """Out of the registry; back in if it came back meanwhile (its heartbeat then adds
        it again too, but a node must not stay out of it for a beat and die unseen)."""
        keys = self.link.keys
        await self.link.redis.srem(keys.nodes, dead)
        if await self.link.redis.exists(keys.alive(dead)):
            await self.link.redis.sadd(keys.nodes, dead)
