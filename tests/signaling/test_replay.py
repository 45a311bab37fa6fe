"""Replays of ``POST /events/`` with the memory broker: refused across a restart too.

The node's replay memory (the nonces it has seen) starts empty at each start, so a node
refuses every request signed before it started: nothing could tell it from a replay.
"""

from __future__ import annotations

from tests.servers import RealtimeServer, events_body, next_second, sign
from tests.signaling.conftest import Connect, event, event_frame, post_events


async def test_a_request_replayed_after_a_restart_is_refused(connect: Connect,
                                                             sprint: int) -> None:
    """On main the replay was accepted as the sprint's new start and its stale event
    delivered; then the sprint's next true event answered ``gap`` until the next restart."""
    server = RealtimeServer().start()
    try:
        captured = events_body([event(sprint, 1)])
        headers = sign(captured)
        assert post_events(server, body=captured, headers=headers)[0] == 200
        server.stop()
        next_second()  # (within its signature's second, a restart cannot tell: protocol §7)
        server.start()
        client = await connect(sprint, server=server)
        status, body = post_events(server, body=captured, headers=headers)
        assert (status, body["error"]) == (401, "stale"), body
        assert "replay memory" in body["message"]
        await client.silent()
        # Django signs every attempt afresh: its next event is taken as the new start.
        ev = event(sprint, 2)
        assert post_events(server, [ev])[1]["results"][0]["status"] == "accepted"
        assert await client.recv() == event_frame(ev)
    finally:
        server.stop()
