"""Every kind of bad client frame gets its exact error frame, and the connection stays usable."""

from __future__ import annotations

import pytest

from tests.servers import RealtimeServer
from tests.signaling.conftest import Connect

CASES = [
    ("not json", "bad_json", "frame is not valid JSON", None),
    ("[1, 2]", "bad_message", "frame must be a JSON object with a 'type'", None),
    ('"relay"', "bad_message", "frame must be a JSON object with a 'type'", None),
    ('{"data": {}}', "bad_message", "frame must be a JSON object with a 'type'", None),
    ('{"type": 5}', "bad_message", "frame must be a JSON object with a 'type'", None),
    ('{"type": "welcome"}', "unknown_type",
     "unknown type 'welcome'; expected one of channels, relay, resume, signal", None),
    ('{"type": "relay"}', "bad_field", "data: must be an object", "data"),
    ('{"type": "relay", "data": []}', "bad_field", "data: must be an object", "data"),
    ('{"type": "relay", "data": {}, "to": []}', "bad_field",
     "to: must be a non-empty list of at most 64 peer ids", "to"),
    ('{"type": "relay", "data": {}, "to": [5]}', "bad_field",
     "to: must be a peer id (non-empty string)", "to"),
    ('{"type": "relay", "data": {}, "extra": 1}', "bad_field", "extra: unknown field", "extra"),
    ('{"type": "signal", "data": {}}', "bad_field",
     "to: must be a peer id (non-empty string)", "to"),
    ('{"type": "signal", "to": "x", "data": "sdp"}', "bad_field", "data: must be an object",
     "data"),
    ('{"type": "resume"}', "bad_field", "since: must be an integer >= 0", "since"),
    ('{"type": "resume", "since": -1}', "bad_field", "since: must be an integer >= 0", "since"),
    ('{"type": "resume", "since": true}', "bad_field", "since: must be an integer >= 0",
     "since"),
    ('{"type": "resume", "since": 1.5}', "bad_field", "since: must be an integer >= 0",
     "since"),
    ('{"type": "channels", "peers": "x"}', "bad_field", "peers: must be a list of peer ids",
     "peers"),
    ('{"type": "channels", "peers": [""]}', "bad_field",
     "peers: must be a peer id (non-empty string)", "peers"),
    ('{"type": "relay", "data": {"x": 1e999}}', "bad_json", "frame is not valid JSON", None),
    ('{"type": "relay", "data": {"a": ' + "[" * 40 + "]" * 40 + "}}", "bad_field",
     "data: nested deeper than 32", "data"),
    ('{"type": "signal", "to": "x", "data": {"a": ' + "[" * 40 + "]" * 40 + "}}", "bad_field",
     "data: nested deeper than 32", "data"),
]


@pytest.mark.parametrize(("text", "code", "message", "field"), CASES,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
async def test_bad_frame_gets_its_error_and_the_connection_stays(
        connect: Connect, sprint: int, text: str, code: str, message: str,
        field: str | None) -> None:
    client = await connect(sprint)
    await client.send(text)
    expected = {"type": "error", "code": code, "message": message}
    if field is not None:
        expected["field"] = field
    assert await client.recv() == expected
    await client.send({"type": "resume", "since": 0})
    assert await client.recv() == {"type": "resync", "latest": None}


async def test_binary_frame_is_refused(connect: Connect, sprint: int) -> None:
    client = await connect(sprint)
    await client.send(b'{"type": "resume", "since": 0}')
    assert await client.recv() == {"type": "error", "code": "binary_unsupported",
                                   "message": "binary frames are not accepted"}
    await client.send({"type": "resume", "since": 0})
    assert (await client.recv())["type"] == "resync"


async def test_channels_is_accepted_silently(connect: Connect, sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    await ana.recv()
    await ana.send({"type": "channels", "peers": [ben.peer]})
    await ana.silent()


async def test_nan_is_not_json(connect: Connect, sprint: int) -> None:
    client = await connect(sprint)
    await client.send('{"type": "relay", "data": {"x": NaN}}')
    assert (await client.recv())["code"] == "bad_json"


async def test_signal_over_the_rate_is_rate_limited(connect: Connect, sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    await ana.recv()
    for _ in range(150):
        await ana.send({"type": "signal", "to": ben.peer, "data": {"candidate": None}})
    frame = await ana.recv()
    assert frame == {"type": "error", "code": "rate_limited",
                     "message": "signal over 60 frames/s dropped"}
    signals = 0
    while True:
        try:
            await ben.recv(timeout=0.3)
        except TimeoutError:
            break
        signals += 1
    assert 120 <= signals < 135


UNFORWARDABLE = {"type": "error", "code": "bad_field",
                 "message": "data: cannot be forwarded (not valid Unicode)", "field": "data"}
LONE_SURROGATE = '"\\ud800"'  # valid JSON, decodes to a str that UTF-8 cannot encode


@pytest.mark.parametrize("kind", ["relay to all", "relay to a peer", "signal"])
async def test_data_that_cannot_be_encoded_again_is_refused_and_nothing_breaks(
        connect: Connect, sprint: int, server: RealtimeServer, kind: str) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    await ana.recv_type("peer_joined")
    bad = f'{{"label": {LONE_SURROGATE}}}'
    text = {"relay to all": f'{{"type": "relay", "data": {bad}}}',
            "relay to a peer": f'{{"type": "relay", "to": ["{ben.peer}"], "data": {bad}}}',
            "signal": f'{{"type": "signal", "to": "{ben.peer}", "data": {bad}}}'}[kind]
    await ana.send(text)
    assert await ana.recv() == UNFORWARDABLE
    await ben.silent()
    await ana.send({"type": "relay", "data": {"ok": 1}})  # still connected, still relaying
    assert (await ben.recv_type("relay"))["data"] == {"ok": 1}
    assert "Uncaught exception" not in server.log_path.read_text(errors="replace")


async def test_surrogate_pairs_and_deep_but_legal_data_are_forwarded(connect: Connect,
                                                                     sprint: int) -> None:
    """The checks refuse only what cannot be sent on: an escaped pair is one character."""
    ana, ben = await connect(sprint), await connect(sprint)
    await ana.recv_type("peer_joined")
    deep = "[" * 31 + "]" * 31
    await ana.send(f'{{"type": "relay", "data": {{"emoji": "\\ud83d\\ude00", "a": {deep}}}}}')
    data = (await ben.recv_type("relay"))["data"]
    assert data["emoji"] == "\U0001f600"
    await ana.silent()
