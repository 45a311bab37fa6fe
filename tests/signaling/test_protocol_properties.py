"""Property tests of ``signaling.protocol.decode``: any input is a message or a documented error.

Whatever a client sends, ``decode`` returns a client message or raises ``ProtocolError``
with a code of docs/protocol.md §3's error table, never another exception; an error frame
can always be sent; and what ``decode`` returns can always be encoded again, as the server
does when it forwards a relay or a signal. Inputs: arbitrary text and bytes, arbitrary JSON
values, well-shaped frames with arbitrary fields, and hostile JSON (nesting near and over
the limits, lone surrogate escapes, huge numbers, NaN/Infinity, long strings, repeated keys).
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from signaling.protocol import (
    MAX_DATA_DEPTH,
    Channels,
    ErrorCode,
    ProtocolError,
    Relay,
    Resume,
    Signal,
    decode,
    encode,
    relay_frame,
    signal_frame,
)
from tests.servers import ROOT

#: Bounded: the suite stays quick (make test), each property still sees hundreds of inputs.
BOUNDED = settings(max_examples=200, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_DOC = (ROOT / "docs" / "protocol.md").read_text()
_ERROR_TABLE = _DOC[_DOC.index("### `error`"):_DOC.index("## 4.")]
DOCUMENTED_CODES = set(re.findall(r"^\| `([a-z_]+)` \|", _ERROR_TABLE, re.MULTILINE))

#: Any character, lone surrogates included (a str built in Python can hold them).
ANY_CHAR = st.characters(exclude_categories=())
KEYS = st.one_of(st.sampled_from(["type", "to", "data", "since", "peers", "from", "x"]),
                 st.text(ANY_CHAR, max_size=8))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(ANY_CHAR, max_size=20),
                    st.floats(allow_nan=False, allow_infinity=False))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=5)), max_leaves=30)
PEER_IDS = st.one_of(st.sampled_from(["p", "Zr4o0b8kFhS2aLw9", "a" * 64, "a" * 65, "", "é",
                                      "\ud800", "a b"]), st.text(ANY_CHAR, max_size=70))


def check(text: str | bytes) -> None:
    """The property: a message that encodes again, or a documented, sendable error."""
    try:
        message = decode(text)
    except ProtocolError as exc:
        assert isinstance(exc.code, ErrorCode)
        assert str(exc.code) in DOCUMENTED_CODES, exc.code
        encode(exc.to_wire()).encode()  # the error frame itself can be sent
        return
    assert isinstance(message, Relay | Signal | Resume | Channels)
    again = encode(message.to_wire())
    again.encode()
    assert decode(again) == message
    if isinstance(message, Relay | Signal):
        builder = relay_frame if isinstance(message, Relay) else signal_frame
        encode(builder("Zr4o0b8kFhS2aLw9", message.data)).encode()
    if isinstance(message, Relay) and message.to is not None:
        assert len(set(message.to)) == len(message.to) <= 64


def test_the_documented_error_codes_are_the_codes() -> None:
    assert {str(c) for c in ErrorCode} == DOCUMENTED_CODES


@BOUNDED
@given(st.text(ANY_CHAR))
@example('{"type": "relay", "data": {"label": "\ud800"}}')  # a raw lone surrogate
@example('{"type": "relay", "to": ["p", "p", "p"], "data": {}}')
@example('{"type": "channels", "peers": ["p", "p"]}')
def test_any_text(text: str) -> None:
    check(text)


@BOUNDED
@given(st.binary())
def test_any_bytes(data: bytes) -> None:
    with_text = data.decode("utf-8", "replace")
    check(data)
    check(with_text)


@BOUNDED
@given(JSON_VALUES)
def test_any_json_value(value: Any) -> None:
    check(json.dumps(value))
    check(json.dumps(value, ensure_ascii=False))


FRAMES = st.fixed_dictionaries(
    {"type": st.sampled_from(["relay", "signal", "resume", "channels", "welcome", ""])},
    optional={"to": st.one_of(PEER_IDS, st.lists(PEER_IDS, max_size=70), JSON_VALUES),
              "data": JSON_VALUES,
              "since": st.one_of(st.integers(min_value=-2, max_value=2**64), JSON_VALUES),
              "peers": st.one_of(st.lists(PEER_IDS, max_size=70), JSON_VALUES),
              "from": PEER_IDS})


@BOUNDED
@given(FRAMES)
def test_frames_of_every_type_with_any_fields(frame: dict[str, Any]) -> None:
    check(json.dumps(frame))


def _nest(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"k":': "}"}[opener]
    return opener * depth + "0" + closer * depth


@BOUNDED
@given(st.sampled_from(["relay", "signal"]),
       st.one_of(st.integers(MAX_DATA_DEPTH - 3, MAX_DATA_DEPTH + 3), st.integers(1, 3000),
                 st.sampled_from([490, 974, 999, 1000, 1001, 20_000])),
       st.sampled_from(["[", '{"k":']))
def test_nesting_near_and_over_the_limits(kind: str, depth: int, opener: str) -> None:
    to = '"to": "p", ' if kind == "signal" else ""
    check(f'{{"type": "{kind}", {to}"data": {{"a": {_nest(depth, opener)}}}}}')
    check(f'{{"type": "resume", "since": {_nest(depth, opener)}}}')


HOSTILE_SCALARS = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "1E400",
                     "0.0000000000000000000000001", "-0", "1" * 4300, "1" * 4301, "9" * 20000,
                     '"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', '"\\ud83d"', '"\\u0000"',
                     '"' + "x" * 60_000 + '"', "true", "null"]),
    st.integers().map(str),
    st.from_regex(r'"(\\u[dD][89a-fA-F][0-9a-fA-F]{2}|[a-z]){0,6}"', fullmatch=True))


@BOUNDED
@given(st.sampled_from(["relay", "signal", "resume", "channels"]), HOSTILE_SCALARS,
       st.sampled_from(["data", "since", "to", "peers", "key"]))
def test_hostile_scalars_in_every_place(kind: str, scalar: str, where: str) -> None:
    fields = {"data": f'"data": {{"v": {scalar}}}', "since": f'"since": {scalar}',
              "to": f'"to": [{scalar}]', "peers": f'"peers": [{scalar}]',
              "key": f'"data": {{{scalar}: 1}}, "to": "p"'}
    check(f'{{"type": "{kind}", {fields[where]}}}')
    check(f'{{"type": "{kind}", "to": "p", "data": {{"v": [{scalar}, {scalar}]}}}}')


@BOUNDED
@given(st.lists(st.tuples(KEYS, JSON_VALUES), min_size=1, max_size=6))
def test_repeated_keys_last_one_wins_and_still_holds(pairs: list[tuple[str, Any]]) -> None:
    body = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs)
    check(f'{{"type": "relay", "type": "resume", {body}}}')
    check(f'{{"type": "relay", "data": {{}}, {body}, "data": {{"x": 1}}}}')
