"""``POST /events/``: signatures, validation, dedupe, gaps, fan-out, and ``resume``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.servers import RealtimeServer, sign
from tests.signaling.conftest import Connect, event, event_frame, post_events


def _results(sprint: int, *pairs: tuple[int, str]) -> dict[str, object]:
    return {"results": [{"sprint": sprint, "seq": s, "status": st} for s, st in pairs]}


async def test_signed_event_reaches_every_subscriber_of_the_sprint(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    zed = await connect(sprint + 100_000)
    await ana.recv_type("peer_joined")
    ev = event(sprint, 1)
    assert post_events(server, [ev]) == (200, _results(sprint, (1, "accepted")))
    assert await ana.recv() == event_frame(ev)
    assert await ben.recv() == event_frame(ev)
    await zed.silent()
    newcomer = await connect(sprint)
    assert newcomer.welcome["seq"] == 1


async def test_duplicates_are_dropped(connect: Connect, server: RealtimeServer,
                                      sprint: int) -> None:
    ana = await connect(sprint)
    first = [event(sprint, 1), event(sprint, 2)]
    post_events(server, first)
    assert [(await ana.recv())["seq"] for _ in range(2)] == [1, 2]
    before = server.metric("watercooler_event_duplicates_total")
    status, body = post_events(server, [event(sprint, 2), event(sprint, 3)])
    assert (status, body) == (200, _results(sprint, (2, "duplicate"), (3, "accepted")))
    assert (await ana.recv())["seq"] == 3
    await ana.silent()
    assert server.metric("watercooler_event_duplicates_total") == before + 1


async def test_gap_is_refused_with_the_rest_of_its_sprint(connect: Connect,
                                                          server: RealtimeServer,
                                                          sprint: int) -> None:
    other = sprint + 100_000
    ana = await connect(sprint)
    post_events(server, [event(sprint, 1)])
    await ana.recv()
    status, body = post_events(server, [event(sprint, 3), event(sprint, 4), event(other, 9)])
    assert status == 200
    assert body["results"] == [{"sprint": sprint, "seq": 3, "status": "gap"},
                               {"sprint": sprint, "seq": 4, "status": "gap"},
                               {"sprint": other, "seq": 9, "status": "accepted"}]
    await ana.silent()
    status, body = post_events(server, [event(sprint, 2), event(sprint, 3)])
    assert body == _results(sprint, (2, "accepted"), (3, "accepted"))
    assert [(await ana.recv())["seq"] for _ in range(2)] == [2, 3]


async def test_first_event_of_an_unknown_sprint_starts_its_history(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    ana = await connect(sprint)
    assert ana.welcome["seq"] is None
    ev = event(sprint, 42, action="deleted", data=None)
    assert post_events(server, [ev]) == (200, _results(sprint, (42, "accepted")))
    assert await ana.recv() == event_frame(ev)


# --- refusals: nothing delivered ----------------------------------------------------------------


@pytest.fixture
def body_for(sprint: int) -> Iterator[bytes]:
    yield json.dumps({"events": [event(sprint, 1)]}).encode()


@pytest.mark.parametrize(("headers", "error"), [
    pytest.param(lambda body: {"Content-Type": "application/json"}, "missing_signature",
                 id="missing"),
    pytest.param(lambda body: sign(body, secret="wrong-secret-but-long-enough-for-hmac"),
                 "bad_signature", id="bad-signature"),
    pytest.param(lambda body: {**sign(body), "X-Watercooler-Signature": "v2=00"},
                 "bad_signature", id="bad-scheme"),
    pytest.param(lambda body: sign(body + b" "), "bad_signature", id="other-body"),
    pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 301), "stale",
                 id="stale"),
    pytest.param(lambda body: sign(body, timestamp=int(time.time()) + 400), "stale",
                 id="future"),
])
async def test_bad_signature_is_401_and_delivers_nothing(
        connect: Connect, server: RealtimeServer, sprint: int, body_for: bytes,
        headers: object, error: str) -> None:
    ana = await connect(sprint)
    status, body = post_events(server, body=body_for, headers=headers(body_for))  # type: ignore[operator]
    assert status == 401
    assert body["error"] == error and body["message"]
    await ana.silent()


async def test_replayed_request_is_401(connect: Connect, server: RealtimeServer,
                                       sprint: int, body_for: bytes) -> None:
    ana = await connect(sprint)
    headers = sign(body_for, secret=server.secret)
    assert post_events(server, body=body_for, headers=headers)[0] == 200
    await ana.recv()
    status, body = post_events(server, body=body_for, headers=headers)
    assert (status, body["error"]) == (401, "replayed")
    await ana.silent()


@pytest.mark.parametrize(("events", "error", "message"), [
    (lambda s: [{**event(s, 1), "seq": 0}], "malformed", "events[0].seq: must be an integer >= 1"),
    (lambda s: [event(s, 1), {**event(s, 2), "action": "exploded"}], "malformed",
     "events[1].action: must be one of created, updated, deleted, added, removed"),
    (lambda s: [event(s, 1), {**event(s, 2), "model": "user"}], "malformed",
     "events[1].model: must be one of task, sprint"),
    (lambda s: [event(s, 1), {**event(s, 2), "id": "12"}], "malformed",
     "events[1].id: must be an integer >= 1"),
    (lambda s: [event(s, 1), {**event(s, 2), "data": [1]}], "malformed",
     "events[1].data: must be an object or null"),
    (lambda s: [event(s, 2), event(s, 1)], "malformed",
     "events[1].seq: events of sprint {s} must be in increasing seq order"),
    (lambda s: [event(s, 1), "nope"], "malformed", "events[1]: must be an object"),
    (lambda s: [event(s, 1), {**event(s, 2), "sprint": 0}], "unknown_sprint",
     "events[1].sprint: must be a sprint id >= 1"),
    (lambda s: [event(s, 1), {k: v for k, v in event(s, 2).items() if k != "sprint"}],
     "unknown_sprint", "events[1].sprint: must be a sprint id >= 1"),
    (lambda s: [event(s, 1), {**event(s, 2), "sprint": "7"}], "unknown_sprint",
     "events[1].sprint: must be a sprint id >= 1"),
], ids=["seq", "action", "model", "id", "data", "order", "not-object", "sprint-zero",
        "sprint-missing", "sprint-string"])
async def test_bad_batch_is_400_and_delivers_nothing(
        connect: Connect, server: RealtimeServer, sprint: int, events: object, error: str,
        message: str) -> None:
    ana = await connect(sprint)
    status, body = post_events(server, events(sprint))  # type: ignore[operator]
    assert (status, body) == (400, {"error": error, "message": message.format(s=sprint)})
    await ana.silent()
    assert (await connect(sprint)).welcome["seq"] is None


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"events": 3}', b"{}"])
async def test_malformed_body_is_400(server: RealtimeServer, raw: bytes) -> None:
    status, body = post_events(server, body=raw, headers=sign(raw, secret=server.secret))
    assert (status, body["error"]) == (400, "malformed")


async def test_too_many_events_is_413(connect: Connect, server: RealtimeServer,
                                      sprint: int) -> None:
    ana = await connect(sprint)
    status, body = post_events(server, [event(sprint, n) for n in range(1, 502)])
    assert (status, body["error"]) == (413, "too_large")
    await ana.silent()


async def test_body_over_one_mib_is_413(connect: Connect, server: RealtimeServer,
                                        sprint: int) -> None:
    ana = await connect(sprint)
    big = event(sprint, 1, data={"id": 7, "description": "x" * (1024 * 1024)})
    status, body = post_events(server, [big])
    assert (status, body["error"]) == (413, "too_large")
    await ana.silent()


async def test_event_metrics_move(server: RealtimeServer, sprint: int) -> None:
    before = server.metric("watercooler_events_delivered_total")
    post_events(server, [event(sprint, 1), event(sprint, 2)])
    assert server.metric("watercooler_events_delivered_total") == before + 2
