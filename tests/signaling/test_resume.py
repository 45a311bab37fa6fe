"""``resume``: exactly the missed events in order, or ``resync`` when history cannot cover."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import RealtimeServer
from tests.signaling.conftest import Connect, event, event_frame, post_events


@pytest.fixture(scope="module")
def small_history() -> Iterator[RealtimeServer]:
    with RealtimeServer("--history-size=10") as srv:
        yield srv


async def test_resume_sends_exactly_the_missed_events_in_order(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    events = [event(sprint, n, id=n) for n in range(1, 31)]
    post_events(server, events[:10])
    client = await connect(sprint)
    assert client.welcome["seq"] == 10
    post_events(server, events[10:])
    got = [await client.recv() for _ in range(20)]  # live, after the welcome
    assert got == [event_frame(e) for e in events[10:]]
    late = await connect(sprint)
    assert late.welcome["seq"] == 30
    await late.send({"type": "resume", "since": 10})
    assert [await late.recv() for _ in range(20)] == [event_frame(e) for e in events[10:]]
    await late.silent()


async def test_resume_at_or_past_latest_sends_nothing(connect: Connect,
                                                      server: RealtimeServer,
                                                      sprint: int) -> None:
    post_events(server, [event(sprint, 1), event(sprint, 2)])
    client = await connect(sprint)
    for since in (2, 5):
        await client.send({"type": "resume", "since": since})
    await client.silent()


async def test_resume_of_an_unknown_sprint_is_resync_null(connect: Connect,
                                                          sprint: int) -> None:
    client = await connect(sprint)
    await client.send({"type": "resume", "since": 0})
    assert await client.recv() == {"type": "resync", "latest": None}


async def test_resume_past_the_history_is_resync(small_history: RealtimeServer,
                                                 connect: Connect, sprint: int) -> None:
    post_events(small_history, [event(sprint, n) for n in range(1, 26)])
    client = await connect(sprint, server=small_history)
    assert client.welcome["seq"] == 25
    await client.send({"type": "resume", "since": 14})
    assert await client.recv() == {"type": "resync", "latest": 25}
    await client.send({"type": "resume", "since": 15})  # 16..25: exactly the last 10
    assert [(await client.recv())["seq"] for _ in range(10)] == list(range(16, 26))
    await client.silent()


async def test_resume_after_restart_started_midway_is_resync(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    post_events(server, [event(sprint, 40), event(sprint, 41)])  # history starts at 40
    client = await connect(sprint)
    await client.send({"type": "resume", "since": 38})
    assert await client.recv() == {"type": "resync", "latest": 41}
    await client.send({"type": "resume", "since": 39})
    assert [(await client.recv())["seq"] for _ in range(2)] == [40, 41]
