"""Replays of ``POST /events/`` with the Redis broker: the nonces live in Redis, shared by
every node and kept across their restarts; when Redis itself loses them (restarted empty),
what was signed before is refused."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.cluster.conftest import Clients, StartNodes, healthz, until_async
from tests.redis_util import RedisServer
from tests.servers import RealtimeServer, events_body, next_second, sign
from tests.signaling.conftest import event, post_events

pytestmark = pytest.mark.redis


def captured(sprint: int, seq: int) -> tuple[bytes, dict[str, str]]:
    """A signed request as it goes over the wire (and an eavesdropper keeps it)."""
    body = events_body([event(sprint, seq)])
    return body, sign(body)


async def post(node: RealtimeServer, body: bytes, headers: dict[str, str]
               ) -> tuple[int, dict[str, Any]]:
    return await asyncio.to_thread(post_events, node, body=body, headers=headers)


async def health_becomes(node: RealtimeServer, status: int) -> None:
    async def check() -> bool:
        return (await healthz(node))[0] == status
    await until_async(check, 15, f"/healthz {status}")


async def test_a_replay_is_refused_by_every_node_and_after_a_restart(
        start_nodes: StartNodes, sprint: int, broker: str) -> None:
    """On main each node remembered only its own requests, in its memory."""
    node1, node2 = start_nodes(2, broker=broker)
    body, headers = captured(sprint, 1)
    assert (await post(node1, body, headers))[0] == 200
    assert (await post(node2, body, headers))[1]["error"] == "replayed"
    node1.stop()
    node1.start()
    assert (await post(node1, body, headers))[1]["error"] == "replayed"


async def test_a_replay_after_redis_restarted_empty_is_refused(
        redis_server: RedisServer, start_nodes: StartNodes, clients: Clients,
        sprint: int) -> None:
    """On main the replay was accepted as the sprint's new start (Redis had forgotten
    it), its stale event delivered, and the sprint's next true event answered ``gap``."""
    (node,) = start_nodes(1, broker=redis_server.url)
    body, headers = captured(sprint, 1)
    assert (await post(node, body, headers))[0] == 200
    redis_server.stop()
    await health_becomes(node, 503)
    await asyncio.to_thread(next_second)
    redis_server.start()  # empty: no history, no nonces
    await health_becomes(node, 200)
    client = await clients(node, sprint)
    status, answer = await post(node, body, headers)
    assert (status, answer["error"]) == (401, "stale"), answer
    await client.silent()
    fresh = events_body([event(sprint, 2)])
    status, answer = await post(node, fresh, sign(fresh))
    assert answer["results"][0]["status"] == "accepted", answer
    assert (await client.recv())["seq"] == 2


async def test_a_request_refused_with_503_may_be_sent_again_as_it_is(
        redis_server: RedisServer, start_nodes: StartNodes, sprint: int) -> None:
    """nginx sends a 503'd ``POST /events/`` to the next node as it is. On main the first
    node had recorded its signature before failing: the retry was a "replay"."""
    (node,) = start_nodes(1, broker=redis_server.url)
    body = events_body([event(sprint, 1)])
    headers = sign(body, timestamp=int(time.time()) + 30)  # a sender's clock a bit ahead
    redis_server.stop()
    await health_becomes(node, 503)
    assert (await post(node, body, headers))[0] == 503
    redis_server.start()
    await health_becomes(node, 200)
    status, answer = await post(node, body, headers)
    assert (status, answer["results"][0]["status"]) == (200, "accepted"), answer
