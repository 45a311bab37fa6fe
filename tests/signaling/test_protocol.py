"""``signaling.protocol``: decode refuses every bad frame with the right code; builders' shapes."""

from __future__ import annotations

import pytest

from signaling.protocol import (
    Channels,
    ErrorCode,
    ProtocolError,
    Relay,
    Resume,
    Signal,
    decode,
    encode,
    event_frame,
    welcome_frame,
)


def test_decodes_every_client_message() -> None:
    assert decode('{"type":"relay","data":{"a":1}}') == Relay(data={"a": 1})
    assert decode('{"type":"relay","to":["p"],"data":{}}') == Relay(data={}, to=("p",))
    assert decode('{"type":"signal","to":"p","data":{"candidate":null}}') == Signal(
        to="p", data={"candidate": None})
    assert decode('{"type":"resume","since":0}') == Resume(since=0)
    assert decode('{"type":"channels","peers":["a","b"]}') == Channels(peers=("a", "b"))


@pytest.mark.parametrize(("frame", "code", "field"), [
    (b"{}", ErrorCode.BINARY_UNSUPPORTED, None),
    ("{", ErrorCode.BAD_JSON, None),
    ("[" * 100_000, ErrorCode.BAD_JSON, None),
    ("null", ErrorCode.BAD_MESSAGE, None),
    ('{"type": null}', ErrorCode.BAD_MESSAGE, None),
    ('{"type": "event"}', ErrorCode.UNKNOWN_TYPE, None),
    ('{"type": "relay", "data": 1}', ErrorCode.BAD_FIELD, "data"),
    ('{"type": "relay", "data": {}, "from": "x"}', ErrorCode.BAD_FIELD, "from"),
    ('{"type": "relay", "data": {}, "to": ["' + "x" * 65 + '"]}', ErrorCode.BAD_FIELD, "to"),
    ('{"type": "relay", "data": {}, "to": ' + str(["p"] * 65).replace("'", '"') + "}",
     ErrorCode.BAD_FIELD, "to"),
    ('{"type": "signal", "to": "p", "data": {}, "from": "q"}', ErrorCode.BAD_FIELD, "from"),
    ('{"type": "signal", "to": "", "data": {}}', ErrorCode.BAD_FIELD, "to"),
    ('{"type": "resume", "since": "3"}', ErrorCode.BAD_FIELD, "since"),
    ('{"type": "channels"}', ErrorCode.BAD_FIELD, "peers"),
])
def test_decode_refusals(frame: str | bytes, code: ErrorCode, field: str | None) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(frame)
    assert info.value.code is code
    assert info.value.field == field
    wire = info.value.to_wire()
    assert wire["type"] == "error" and wire["code"] == str(code)
    assert ("field" in wire) == (field is not None)


def test_encode_is_compact_and_keeps_unicode() -> None:
    assert encode({"type": "x", "name": "café"}) == '{"type":"x","name":"café"}'


def test_frame_builders_keep_the_documented_key_order() -> None:
    frame = event_frame(sprint=7, seq=43, action="updated", model="task", id=12, data=None)
    assert list(frame) == ["type", "sprint", "seq", "action", "model", "id", "data"]
    welcome = welcome_frame(peer="p", sprint=7, user={}, peers=[], count=1, ice_servers=[],
                            seq=None, limits={})
    assert list(welcome) == ["type", "protocol", "peer", "sprint", "user", "peers", "count",
                             "ice_servers", "seq", "limits"]
    assert welcome["protocol"] == 2
