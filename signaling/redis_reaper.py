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
from dataclasses import dataclass
from typing import Any

from signaling.broker import Envelope
from signaling.protocol import encode, peer_left_frame
from signaling.redis_connection import RedisLink
from signaling.redis_fanout import RedisFanout
from signaling.redis_scripts import CLAIM_REAP, REAP_SPRINT, REAP_STEP

__all__ = ["Claim", "Reaper", "left_envelope", "owner"]

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


@dataclass(frozen=True, slots=True)
class Claim:
    """A dead node claimed by this one: its dead generation and the sprints to sweep."""

    node: str
    generation: str
    sprints: tuple[int, ...]


class Reaper:
    """Reaps dead nodes (and this one, when it leaves cleanly), in steps of one slot."""

    def __init__(self, link: RedisLink, fanout: RedisFanout, *, lease: float) -> None:
        self.link = link
        self.fanout = fanout
        #: How long a claim holds without progress before another survivor may take over.
        self.lease_ms = int(max(lease, MIN_LEASE) * 1000)
        self._claim = link.redis.register_script(CLAIM_REAP)
        self._sweep = link.redis.register_script(REAP_SPRINT)
        self._step = link.redis.register_script(REAP_STEP)

    async def reap(self, dead: str) -> int:
        """Reap ``dead`` if it is silent and nobody else is at it; the peers this node
        removed (and announced)."""
        claim = await self.claim(dead)
        if claim is None:
            return 0
        removed = 0
        for sprint in claim.sprints:
            removed += await self.sweep(claim, sprint)
            status = await self.advance(claim, sprint)
            if status != "ok":
                log.warning("broker %s: reap of node %s stopped (%s)", self.link.label, dead,
                            status)
                break
        else:
            await self.advance(claim, None)
        if dead != self.link.node_id:
            log.warning("broker %s: node %s is gone; %d of its peers removed", self.link.label,
                        dead, removed)
            if self.link.metrics is not None:
                self.link.metrics.broker_reaped.inc(removed)
        return removed

    async def claim(self, dead: str) -> Claim | None:
        """Step 1: the lease on ``dead``, unless it is alive or another survivor has it."""
        keys = self.link.keys
        found = await self._claim(keys=[keys.alive(dead), keys.node_sprints(dead),
                                        keys.generation(dead), keys.reaper(dead)],
                                  args=[self.link.node_id, self.lease_ms])
        if found is None:
            return None
        return Claim(dead, found[0].decode(), tuple(sorted(int(s) for s in found[1])))

    async def sweep(self, claim: Claim, sprint: int) -> int:
        """Step 2: remove and announce the claimed node's peers of ``sprint``; how many."""
        keys = self.link.keys
        table = await self.link.redis.hgetall(keys.presence(sprint))
        left = {peer.decode(): left_envelope(sprint, peer.decode())
                for peer, raw in table.items() if owner(raw) == (claim.node, claim.generation)}
        if not left:
            return 0
        args: list[Any] = [claim.node, claim.generation]
        for peer, envelope in left.items():
            args += [peer, envelope.pack(self.link.node_id)]
        removed = await self._sweep(keys=[keys.presence(sprint), keys.sprint_channel(sprint),
                                          keys.peer_ids(sprint)], args=args)
        for peer in removed:  # the other nodes had it from the script; this node's own now
            self.fanout.deliver_local(left[peer.decode()])
        return len(removed)

    async def advance(self, claim: Claim, sprint: int | None) -> str:
        """Step 3: ``sprint`` crossed off (None: all done, the node forgotten). "ok" or
        "done"; "revived" or "lost" when this node must stop (see ``REAP_STEP``)."""
        keys, dead = self.link.keys, claim.node
        status = (await self._step(
            keys=[keys.generation(dead), keys.node_sprints(dead), keys.reaper(dead)],
            args=[claim.generation, self.link.node_id, self.lease_ms,
                  "" if sprint is None else sprint])).decode()
        if status == "done":
            # Out of the registry; back in if it came back meanwhile (its heartbeat adds it
            # again too, but it must not stay out for a beat and die unseen).
            await self.link.redis.srem(keys.nodes, dead)
            if await self.link.redis.exists(keys.alive(dead)):
                await self.link.redis.sadd(keys.nodes, dead)
        return status
