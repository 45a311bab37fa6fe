"""``POST /events/``: signatures, validation, dedupe, gaps, fan-out, and ``resume``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.servers import RealtimeServer, events_body, sign
from tests.signaling.conftest import Connect, event, event_frame, post_events


def _results(sprint: int, *triples: tuple[int, str, int | None]) -> dict[str, object]:
    return {"results": [{"sprint": sprint, "seq": s, "status": st, "latest": latest}
                        for s, st, latest in triples]}


async def test_signed_event_reaches_every_subscriber_of_the_sprint(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    zed = await connect(sprint + 100_000)
    await ana.joined()
    ev = event(sprint, 1)
    assert post_events(server, [ev]) == (200, _results(sprint, (1, "accepted", 1)))
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
    assert (status, body) == (200, _results(sprint, (2, "duplicate", 2), (3, "accepted", 3)))
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
    # ``latest`` tells the sender which events to send first.
    assert body["results"] == [{"sprint": sprint, "seq": 3, "status": "gap", "latest": 1},
                               {"sprint": sprint, "seq": 4, "status": "gap", "latest": 1},
                               {"sprint": other, "seq": 9, "status": "accepted", "latest": 9}]
    await ana.silent()
    status, body = post_events(server, [event(sprint, 2), event(sprint, 3)])
    assert body == _results(sprint, (2, "accepted", 2), (3, "accepted", 3))
    assert [(await ana.recv())["seq"] for _ in range(2)] == [2, 3]


async def test_first_event_of_an_unknown_sprint_starts_its_history(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    ana = await connect(sprint)
    assert ana.welcome["seq"] is None
    ev = event(sprint, 42, action="deleted", data=None)
    assert post_events(server, [ev]) == (200, _results(sprint, (42, "accepted", 42)))
    assert await ana.recv() == event_frame(ev)


# --- refusals: nothing delivered ----------------------------------------------------------------


@pytest.fixture
def body_for(sprint: int) -> Iterator[bytes]:
    yield events_body([event(sprint, 1)])


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
    # The nonce is what is remembered: the same body signed again is a replay too.
    later = sign(body_for, secret=server.secret, timestamp=int(time.time()) + 5)
    assert post_events(server, body=body_for, headers=later)[1]["error"] == "replayed"
    await ana.silent()


async def test_the_same_batch_signed_twice_in_one_second_is_no_replay(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    """Two delivery paths (the delivery thread and ``manage.py deliver_events``) may sign
    the same events in the same second: each attempt has a nonce of its own."""
    ana = await connect(sprint)
    events = [event(sprint, 1), event(sprint, 2)]
    now = int(time.time())
    first, second = events_body(events), events_body(events)
    assert post_events(server, body=first, headers=sign(first, timestamp=now)) == (
        200, _results(sprint, (1, "accepted", 1), (2, "accepted", 2)))
    assert post_events(server, body=second, headers=sign(second, timestamp=now)) == (
        200, _results(sprint, (1, "duplicate", 2), (2, "duplicate", 2)))
    assert [(await ana.recv())["seq"] for _ in range(2)] == [1, 2]
    await ana.silent()


async def test_a_refused_request_can_be_sent_again_as_it_is(
        connect: Connect, server: RealtimeServer, sprint: int) -> None:
    """A request refused for its content leaves no trace: sent again as it is, it is
    judged again, not called a replay."""
    body = events_body([event(sprint, 1, data={"id": 7, "x": 1e999})])
    headers = sign(body, secret=server.secret)
    assert post_events(server, body=body, headers=headers)[0] == 400
    assert post_events(server, body=body, headers=headers)[1]["error"] == "malformed"


BIG = 2**53  # one past the largest integer a browser holds exactly
DEEP: dict[str, object] = {"id": 7}
for _ in range(32):
    DEEP = {"x": DEEP}  # 33 objects deep


@pytest.mark.parametrize(("events", "error", "message", "at"), [
    (lambda s: [{**event(s, 1), "seq": 0}], "malformed",
     "events[0].seq: must be an integer from 1 to 9007199254740991", 0),
    (lambda s: [event(s, 1), {**event(s, 2), "seq": BIG}], "malformed",
     "events[1].seq: must be an integer from 1 to 9007199254740991", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "action": "exploded"}], "malformed",
     "events[1].action: must be one of created, updated, deleted, added, removed", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "model": "user"}], "malformed",
     "events[1].model: must be one of task, sprint", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "id": "12"}], "malformed",
     "events[1].id: must be an integer from 1 to 9007199254740991", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "data": [1]}], "malformed",
     "events[1].data: must be an object or null", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "data": DEEP}], "malformed",
     "events[1].data: nested deeper than 32", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "data": {"id": 7, "name": "\ud800"}}],
     "malformed", "events[1].data: not valid Unicode (a lone surrogate)", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "epoch": "not url-safe!"}], "malformed",
     "events[1].epoch: must be 1-64 URL-safe characters", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "reset": 1}], "malformed",
     "events[1].reset: must be true or false", 1),
    (lambda s: [event(s, 2), event(s, 1)], "malformed",
     "events[1].seq: events of sprint {s} must be in increasing seq order", 1),
    (lambda s: [event(s, 1), "nope"], "malformed", "events[1]: must be an object", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "sprint": 0}], "unknown_sprint",
     "events[1].sprint: must be a sprint id from 1 to 9007199254740991", 1),
    (lambda s: [event(s, 1), {k: v for k, v in event(s, 2).items() if k != "sprint"}],
     "unknown_sprint", "events[1].sprint: must be a sprint id from 1 to 9007199254740991", 1),
    (lambda s: [event(s, 1), {**event(s, 2), "sprint": "7"}], "unknown_sprint",
     "events[1].sprint: must be a sprint id from 1 to 9007199254740991", 1),
], ids=["seq", "seq-too-big", "action", "model", "id", "data", "data-too-deep",
        "lone-surrogate", "epoch", "reset", "order", "not-object", "sprint-zero",
        "sprint-missing", "sprint-string"])
async def test_bad_batch_is_400_names_the_event_and_delivers_nothing(
        connect: Connect, server: RealtimeServer, sprint: int, events: object, error: str,
        message: str, at: int) -> None:
    ana = await connect(sprint)
    status, body = post_events(server, events(sprint))  # type: ignore[operator]
    assert (status, body) == (400, {"error": error, "message": message.format(s=sprint),
                                    "event": at})
    await ana.silent()
    assert (await connect(sprint)).welcome["seq"] is None


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity",
                                    b"1" * 5000])
async def test_numbers_beyond_json_are_refused_before_anything_is_recorded(
        connect: Connect, server: RealtimeServer, sprint: int, number: bytes) -> None:
    """The number rules of client frames (protocol.decode): on main, ``1e999`` parsed as
    infinity and failed (500) after the batch's first event had been recorded."""
    ana = await connect(sprint)
    fine = json.dumps(event(sprint, 1)).encode()
    raw = (b'{"nonce": "' + b"n" * 16 + b'", "events": [' + fine + b', {"sprint": '
           + str(sprint).encode() + b', "seq": 2, "action": "updated", "model": "task", '
           b'"id": 7, "data": {"id": 7, "estimate": ' + number + b"}}]}")
    status, body = post_events(server, body=raw, headers=sign(raw, secret=server.secret))
    assert (status, body) == (400, {"error": "malformed", "message": "body is not valid JSON"})
    await ana.silent()
    assert post_events(server, [event(sprint, 1)]) == (200, _results(sprint, (1, "accepted", 1)))


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"events": 3}', b"{}", b"\xff\xfe",
                                 b'{"events": []}', b'{"nonce": "short", "events": []}',
                                 b'{"nonce": "' + b"/" * 20 + b'", "events": []}',
                                 b'{"nonce": 12345678901234567890, "events": []}',
                                 b"[" * 100_000 + b"]" * 100_000])
async def test_malformed_body_is_400(server: RealtimeServer, raw: bytes) -> None:
    status, body = post_events(server, body=raw, headers=sign(raw, secret=server.secret))
    assert (status, body["error"]) == (400, "malformed")
    assert "event" not in body  # the request as a whole is at fault


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
