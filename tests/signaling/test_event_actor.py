"""``actor`` in ``POST /events/``: checked, and passed into the ``event`` frame as given
(docs/protocol.md §3 ``event``, §7)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.servers import RealtimeServer
from tests.signaling.conftest import Connect, event, event_frame, post_events

ANA = {"id": 3, "username": "ana"}


async def test_the_actor_reaches_subscribers_and_late_joiners_in_the_frame(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    ana = await connect(sprint)
    first, second = event(sprint, 1, actor=ANA), event(sprint, 2, actor=None)
    assert post_events(server, [first, second])[0] == 200
    assert await ana.recv() == {**event_frame(first), "actor": ANA}
    assert await ana.recv() == {**event_frame(second), "actor": None}
    late = await connect(sprint)
    await late.send({"type": "resume", "since": 0})
    assert (await late.recv())["actor"] == ANA  # replayed from the history as sent


async def test_only_id_and_username_are_carried(connect: Connect, server: RealtimeServer,
                                               sprint: int) -> None:
    ana = await connect(sprint)
    ev = event(sprint, 1, actor={**ANA, "email": "ana@example.org", "is_staff": True})
    assert post_events(server, [ev])[0] == 200
    assert (await ana.recv())["actor"] == ANA


async def test_an_event_without_actor_has_none_in_its_frame(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    """A sender that does not know of ``actor`` (an older Django) is still understood."""
    ana = await connect(sprint)
    ev = event(sprint, 1)
    assert post_events(server, [ev])[0] == 200
    assert "actor" not in await ana.recv()


@pytest.mark.parametrize("actor", [
    "ana", 3, [], {}, {"id": 3}, {"username": "ana"}, {"id": 0, "username": "ana"},
    {"id": "3", "username": "ana"}, {"id": True, "username": "ana"},
    {"id": 2**53, "username": "ana"}, {"id": 3, "username": ""},
    {"id": 3, "username": "a" * 151}, {"id": 3, "username": "ana\n"},
    {"id": 3, "username": None},
])
async def test_a_bad_actor_refuses_the_batch_naming_the_event(
        connect: Connect, server: RealtimeServer, sprint: int, actor: Any) -> None:
    ana = await connect(sprint)
    status, body = post_events(server, [event(sprint, 1), event(sprint, 2, actor=actor)])
    assert status == 400
    assert (body["error"], body["event"]) == ("malformed", 1)
    assert body["message"].startswith("events[1].actor: must be null or {id, username}")
    await ana.silent()
