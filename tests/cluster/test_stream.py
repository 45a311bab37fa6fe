"""SSE streams across nodes: an event posted to one node reaches a stream on another, the
replay after ``since`` comes from the shared history, and presence is the cluster's."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.cluster.conftest import Clients, StartNodes, ticket
from tests.signaling.conftest import event, event_frame, post_events
from tests.sse_client import open_stream

pytestmark = pytest.mark.redis


async def test_a_stream_on_one_node_gets_events_and_presence_from_another(
        start_nodes: StartNodes, broker: str, sprint: int, clients: Clients) -> None:
    one, two = start_nodes(2, broker=broker)
    status, _ = await asyncio.to_thread(post_events, one, [event(sprint, s) for s in (1, 2)])
    assert status == 200
    async with open_stream(two.http_url, sprint, ticket(two, sprint), since=1) as stream:
        assert (await stream.next_of("presence"))["peers"] == []
        replayed = await stream.next()  # from the shared history
        ana = await clients(one, sprint)
        joined = await stream.next_of("presence")
        status, _ = await asyncio.to_thread(post_events, one, [event(sprint, 3)])
        assert status == 200
        live = await stream.next()
    assert (replayed.id, live.id) == ("2", "3")
    assert [p["peer"] for p in joined["joined"]] == [ana.peer]
    assert joined["count"] == 1
    assert json.loads(live.data) == event_frame(event(sprint, 3))
