"""Every kind of bad client frame gets its exact error frame, and the connection stays usable."""

from __future__ import annotations

import pytest

from tests.servers import RealtimeServer
from tests.signaling.conftest import Client, Connect

CASES = [
    ("not json", "bad_json", "frame is not valid JSON", None),
    ("[1, 2]", "bad_message", "frame must be a JSON object with a 'type'", None),
    ('"relay"', "bad_message", "frame must be a JSON object with a 'type'", None),
    ('{"data": {}}', "bad_message", "frame must be a JSON object with a 'type'", None),
    ('{"type": 5}', "bad_message", "frame must be a JSON object with a 'type'", None),
    ('{"type": "welcome"}', "unknown_type",
     "unknown type 'welcome'; expected one of channels, peers, relay, resume, signal", None),
    ('{"type": "relay"}', "bad_field", "data: must be an object", "data"),
    ('{"type": "relay", "data": []}', "bad_field", "data: must be an object", "data"),
    ('{"type": "relay", "data": {}, "to": []}', "bad_field",
     "to: must be a non-empty list of at most 64 peer ids", "to"),
    ('{"type": "relay", "data": {}, "to": [5]}', "bad_field",
     "to: must be a peer id (1-64 of A-Z a-z 0-9 _ -)", "to"),
    ('{"type": "relay", "data": {}, "extra": 1}', "bad_field", "extra: unknown field", "extra"),
    ('{"type": "signal", "data": {}}', "bad_field",
     "to: must be a peer id (1-64 of A-Z a-z 0-9 _ -)", "to"),
    ('{"type": "signal", "to": "x", "data": "sdp"}', "bad_field", "data: must be an object",
     "data"),
    ('{"type": "resume"}', "bad_field", "since: must be an integer >= 0", "since"),
    ('{"type": "resume", "since": -1}', "bad_field", "since: must be an integer >= 0", "since"),
    ('{"type": "resume", "since": true}', "bad_field", "since: must be an integer >= 0",
     "since"),
    ('{"type": "resume", "since": 1.5}', "bad_field", "since: must be an integer >= 0",
     "since"),
    ('{"type": "channels", "peers": "x"}', "bad_field",
     "peers: must be a list of at most 64 peer ids",
     "peers"),
    ('{"type": "channels", "peers": [""]}', "bad_field",
     "peers: must be a peer id (1-64 of A-Z a-z 0-9 _ -)", "peers"),
    ('{"type": "relay", "data": {"x": 1e999}}', "bad_json", "frame is not valid JSON", None),
    ('{"type": "relay", "data": {"a": ' + "[" * 40 + "]" * 40 + "}}", "bad_field",
     "data: nested deeper than 32", "data"),
    ('{"type": "signal", "to": "x", "data": {"a": ' + "[" * 40 + "]" * 40 + "}}", "bad_field",
     "data: nested deeper than 32", "data"),
    ('{"type": "relay", "data": {"pad": "' + "x" * 4096 + '"}}', "bad_field",
     "data: a relay frame is at most 4096 characters", "data"),
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
    await ana.joined()
    await ana.send(_carrying(kind, f'{{"label": {LONE_SURROGATE}}}', to=ben.peer))
    assert await ana.recv() == UNFORWARDABLE
    await _nothing_broke(ana, ben, server)


def _carrying(kind: str, data: str, *, to: str) -> str:
    """A frame of ``kind`` whose ``data`` is the JSON text ``data``."""
    return {"relay to all": f'{{"type": "relay", "data": {data}}}',
            "relay to a peer": f'{{"type": "relay", "to": ["{to}"], "data": {data}}}',
            "signal": f'{{"type": "signal", "to": "{to}", "data": {data}}}'}[kind]


async def _nothing_broke(ana: Client, ben: Client, server: RealtimeServer) -> None:
    """ben got nothing of what ana was refused, ana still relays, and no traceback."""
    await ben.silent()
    await ana.send({"type": "relay", "data": {"ok": 1}})
    assert (await ben.recv_type("relay"))["data"] == {"ok": 1}
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "Uncaught exception" not in log


async def test_surrogate_pairs_and_deep_but_legal_data_are_forwarded(connect: Connect,
                                                                     sprint: int) -> None:
    """The checks refuse only what cannot be sent on: an escaped pair is one character."""
    ana, ben = await connect(sprint), await connect(sprint)
    await ana.joined()
    deep = "[" * 31 + "]" * 31
    await ana.send(f'{{"type": "relay", "data": {{"emoji": "\\ud83d\\ude00", "a": {deep}}}}}')
    data = (await ben.recv_type("relay"))["data"]
    assert data["emoji"] == "\U0001f600"
    await ana.silent()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


TOO_DEEP = {"type": "error", "code": "bad_field", "message": "data: nested deeper than 32",
            "field": "data"}
UNPARSABLE = {"type": "error", "code": "bad_json", "message": "frame nests too deep to parse"}


@pytest.mark.parametrize("kind", ["relay to all", "relay to a peer", "signal"])
@pytest.mark.parametrize(("depth", "expected"), [
    (40, TOO_DEEP), (490, TOO_DEEP), (700, TOO_DEEP), (974, TOO_DEEP),
    (5_000, UNPARSABLE), (30_000, UNPARSABLE)])
async def test_deep_data_gets_an_error_never_a_traceback(
        connect: Connect, sprint: int, server: RealtimeServer, kind: str, depth: int,
        expected: dict[str, str]) -> None:
    """Nesting the parser accepts is refused by an iterative check; deeper, by the parser."""
    ana, ben = await connect(sprint), await connect(sprint)
    await ana.joined()
    for _ in range(3):
        await ana.send(_carrying(kind, f'{{"a": {_nested(depth - 1)}}}', to=ben.peer))
        assert await ana.recv() == expected
    await _nothing_broke(ana, ben, server)


@pytest.mark.parametrize(("text", "field"), [
    # names echoed in an error frame must be sendable: a lone surrogate is not
    ('{"type": "resume", "since": 0, "\\ud800x": 1}', "\\ud800x"),
    ('{"type": "resume", "since": 0, "' + "k" * 5000 + '": 1}', "k" * 40),
])
async def test_unknown_field_names_are_echoed_short_and_sendable(
        connect: Connect, sprint: int, server: RealtimeServer, text: str, field: str) -> None:
    client = await connect(sprint)
    await client.send(text)
    assert await client.recv() == {"type": "error", "code": "bad_field", "field": field,
                                   "message": f"{field}: unknown field"}
    await client.send({"type": "resume", "since": 0})
    assert (await client.recv())["type"] == "resync"
    assert "Traceback" not in server.log_path.read_text(errors="replace")


@pytest.mark.parametrize("peer", ["\\ud800", "a b", "x" * 65, "peer/1", "é"])
async def test_what_cannot_be_a_peer_id_is_refused_before_it_is_looked_up(
        connect: Connect, sprint: int, peer: str) -> None:
    client = await connect(sprint)
    message = {"type": "error", "code": "bad_field", "field": "to",
               "message": "to: must be a peer id (1-64 of A-Z a-z 0-9 _ -)"}
    await client.send(f'{{"type": "signal", "to": "{peer}", "data": {{}}}}')
    assert await client.recv() == message
    await client.send(f'{{"type": "relay", "to": ["{peer}"], "data": {{}}}}')
    assert await client.recv() == message


async def test_a_since_beyond_64_bits_is_refused(connect: Connect, sprint: int) -> None:
    client = await connect(sprint)
    await client.send('{"type": "resume", "since": ' + "9" * 4000 + "}")
    assert await client.recv() == {"type": "error", "code": "bad_field", "field": "since",
                                   "message": "since: must be an integer >= 0"}


async def test_error_frames_are_all_sent_but_only_a_sample_is_logged(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    """A client earning hundreds of errors a second must not fill the node's log."""
    def logged() -> int:
        return server.log_path.read_text(errors="replace").count(": error bad_json:")

    client = await connect(sprint)
    before = logged()
    for _ in range(300):
        await client.send("not json")
    for _ in range(300):
        assert (await client.recv())["code"] == "bad_json"
    await client.send({"type": "resume", "since": 0})
    assert (await client.recv())["type"] == "resync"
    assert logged() - before <= 100
    assert server.metric('watercooler_errors_total{code="bad_json"}') >= 300
