"""Three nodes on one Redis: presence across nodes, authoritative events to every subscriber
exactly once in seq order, duplicates and gaps judged cluster-wide."""

from __future__ import annotations

import asyncio

import pytest

from tests.cluster.conftest import Clients, StartNodes, dumps, frames_until_quiet
from tests.signaling.conftest import event, event_frame, post_events

pytestmark = pytest.mark.redis


async def test_an_event_posted_to_one_node_reaches_every_subscriber_once_in_order(
        start_nodes: StartNodes, clients: Clients, sprint: int, broker: str) -> None:
    nodes = start_nodes(3, broker=broker)
    subscribers = [await clients(node, sprint) for node in nodes for _ in range(2)]
    # A newcomer sees the peers of every node (itself among them), in peer-id order.
    everyone = sorted(c.peer for c in subscribers)
    assert [p["peer"] for p in subscribers[-1].welcome["peers"]] == everyone
    for i, client in enumerate(subscribers):  # presence: every later joiner, once
        frames = await frames_until_quiet(client, quiet=0.3,
                                          at_least=int(i < len(subscribers) - 1))
        joined = [p["peer"] for f in frames for p in f["joined"]]
        assert sorted(joined) == sorted(c.peer for c in subscribers[i + 1:]), dumps(frames)
        assert {f["type"] for f in frames} <= {"presence"} and not any(f["left"] for f in frames)
        assert frames == [] or frames[-1]["count"] == len(subscribers)

    events = [event(sprint, seq, id=seq) for seq in range(1, 13)]
    for batch in (events[:5], events[5:6], events[6:]):
        status, body = await asyncio.to_thread(post_events, nodes[0], batch)
        assert status == 200, body
        assert {r["status"] for r in body["results"]} == {"accepted"}
    # Django retrying a batch on another node: duplicates; skipping one: a gap.
    status, body = await asyncio.to_thread(post_events, nodes[1], events[3:5])
    assert [r["status"] for r in body["results"]] == ["duplicate", "duplicate"]
    status, body = await asyncio.to_thread(post_events, nodes[2], [event(sprint, 14)])
    assert [r["status"] for r in body["results"]] == ["gap"]

    expected = [event_frame(e) for e in events]
    received = await asyncio.gather(*(frames_until_quiet(c, quiet=0.7, at_least=len(expected))
                                      for c in subscribers))
    for frames in received:
        assert frames == expected, dumps(frames)
    welcome = (await clients(nodes[2], sprint)).welcome
    assert welcome["seq"] == 12
