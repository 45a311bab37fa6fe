"""Relay and signal routing: who gets what, ``from`` stamped, every refusal."""

from __future__ import annotations

from tests.servers import RealtimeServer
from tests.signaling.conftest import Client, Connect, settle

DRAG = {"type": "drag", "seq": 1, "task": 7, "phase": "start", "status": "testing", "index": 2}


async def _settle(*clients: Client) -> None:
    """Wait until every client sees the others (their presence frames read)."""
    await settle(*clients)


async def test_relay_goes_to_every_other_peer_with_from_stamped(connect: Connect,
                                                               sprint: int) -> None:
    ana, ben, cid = await connect(sprint), await connect(sprint), await connect(sprint)
    await _settle(ana, ben, cid)
    await ana.send({"type": "relay", "data": DRAG})
    expected = {"type": "relay", "from": ana.peer, "data": DRAG}
    assert await ben.recv() == expected
    assert await cid.recv() == expected
    await ana.silent()


async def test_relay_to_named_peers_only(connect: Connect, sprint: int) -> None:
    ana, ben, cid = await connect(sprint), await connect(sprint), await connect(sprint)
    await _settle(ana, ben, cid)
    await ana.send({"type": "relay", "to": [cid.peer], "data": DRAG})
    assert await cid.recv() == {"type": "relay", "from": ana.peer, "data": DRAG}
    await ben.silent()
    await ana.silent()


async def test_relay_does_not_cross_sprints(connect: Connect, sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    zed = await connect(sprint + 100_000)
    await _settle(ana, ben)
    await ana.send({"type": "relay", "data": DRAG})
    assert (await ben.recv())["type"] == "relay"
    await zed.silent()


async def test_relay_to_a_peer_of_another_sprint_is_unknown_peer(connect: Connect,
                                                                 sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    zed = await connect(sprint + 100_000)
    await _settle(ana, ben)
    await ana.send({"type": "relay", "to": [ben.peer, zed.peer], "data": DRAG})
    error = await ana.recv()
    assert error["type"] == "error" and error["code"] == "unknown_peer"
    assert error["field"] == "to"
    await ben.silent()
    await zed.silent()


async def test_relay_from_field_is_refused(connect: Connect, sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    await _settle(ana, ben)
    await ana.send({"type": "relay", "from": ben.peer, "data": DRAG})
    assert await ana.recv() == {"type": "error", "code": "bad_field",
                                "message": "from: unknown field", "field": "from"}
    await ben.silent()


async def test_signal_reaches_only_its_peer(connect: Connect, sprint: int) -> None:
    ana, ben, cid = await connect(sprint), await connect(sprint), await connect(sprint)
    await _settle(ana, ben, cid)
    offer = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
    await ana.send({"type": "signal", "to": ben.peer, "data": offer})
    assert await ben.recv() == {"type": "signal", "from": ana.peer, "data": offer}
    await ben.send({"type": "signal", "to": ana.peer, "data": {"candidate": None}})
    assert await ana.recv() == {"type": "signal", "from": ben.peer,
                                "data": {"candidate": None}}
    await cid.silent()


async def test_signal_refusals(connect: Connect, sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    zed = await connect(sprint + 100_000)
    await _settle(ana, ben)
    data = {"candidate": None}
    for to in ("no-such-peer", zed.peer, ana.peer):
        await ana.send({"type": "signal", "to": to, "data": data})
        error = await ana.recv()
        assert error["code"] == "unknown_peer", error
        assert error["field"] == "to"
    await ana.send({"type": "signal", "to": ben.peer, "from": zed.peer, "data": data})
    assert await ana.recv() == {"type": "error", "code": "bad_field",
                                "message": "from: unknown field", "field": "from"}
    await ben.silent()
    await zed.silent()


async def test_relay_metrics_move(connect: Connect, sprint: int, server: RealtimeServer
                                  ) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    await _settle(ana, ben)
    before = server.metrics()
    key = f'watercooler_relayed_total{{sprint="{sprint}"}}'
    await ana.send({"type": "relay", "data": DRAG})
    await ben.recv()
    after = server.metrics()
    assert after[key] == 1
    assert (after["watercooler_relay_deliveries_total"]
            == before["watercooler_relay_deliveries_total"] + 1)
    assert (after['watercooler_frames_in_total{type="relay"}']
            == before.get('watercooler_frames_in_total{type="relay"}', 0) + 1)
    await ana.close()
    await ben.close()
    assert await _eventually_gone(server, key)


async def _eventually_gone(server: RealtimeServer, key: str) -> bool:
    import asyncio

    for _ in range(100):
        if key not in server.metrics():
            return True
        await asyncio.sleep(0.05)
    return False
