"""The protocol's examples, once (docs/protocol/examples.json), against everything that speaks it.

``signaling.protocol`` decodes and encodes every frame exactly, the error examples are the
very frames the server sends, ``POST /events/``'s answers come from the server's own code,
the enum lists match the API's models, and docs/protocol.md shows these examples and no
others. web/tests/protocol.test.js checks ``web/protocol.js`` against the same file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from api.board.models import Task
from api.realtime.models import OutboxEvent
from api.realtime.transport import Outgoing, encode_body
from api.realtime.views import TicketSerializer
from peer.sse import SseParser, stream_url
from signaling import protocol
from signaling.auth import SignatureError, verify_signature
from signaling.broker import BrokerUnavailable
from signaling.config import Config
from signaling.history import History
from signaling.ingest import BatchError, deliver_batch, parse_batch
from signaling.memory_broker import MemoryBroker
from signaling.metrics import Metrics
from signaling.protocol import Close, ErrorCode, ProtocolError, decode, decode_drag, encode
from signaling.redis_broker import RedisBroker
from signaling.sse import classify, sse_message
from signaling.turn import turn_ice_servers
from tests.signaling.conftest import Connect

ROOT = Path(__file__).resolve().parents[2]
GOLDEN: dict[str, Any] = json.loads((ROOT / "docs/protocol/examples.json").read_text())
DOC = (ROOT / "docs/protocol.md").read_text()
Frame = dict[str, Any]


def _canon(value: Any) -> str:
    """One spelling of a JSON value: key order kept (the wire's order is part of it)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- signaling/protocol.py -------------------------------------------------------------------


def test_the_enums_are_the_modules_and_the_apis() -> None:
    enums = GOLDEN["enums"]
    assert {c.name: int(c) for c in Close} == enums["close_codes"]
    assert {c.name: str(c) for c in ErrorCode} == enums["error_codes"]
    assert sorted(protocol.CLIENT_MESSAGES) == sorted(enums["client_types"])
    assert list(protocol.STATUSES) == enums["statuses"] == list(Task.Status.values)
    assert list(protocol.DRAG_PHASES) == enums["drag_phases"]
    assert list(protocol.EVENT_ACTIONS) == enums["event_actions"] == list(
        OutboxEvent.Action.values)
    assert list(protocol.EVENT_MODELS) == enums["event_models"] == list(OutboxEvent.Model.values)
    assert GOLDEN["protocol"] == protocol.PROTOCOL_VERSION
    limits = GOLDEN["limits"]
    assert limits["max_message_bytes"] == protocol.MAX_MESSAGE_BYTES == Config().max_message_size
    assert limits["max_recipients"] == protocol.MAX_RECIPIENTS
    assert limits["max_data_depth"] == protocol.MAX_DATA_DEPTH
    assert limits["max_relay_chars"] == protocol.MAX_RELAY_CHARS
    assert limits["relay_per_second"] == Config().limits["relay_per_second"]
    assert limits["visible_peers"] == protocol.VISIBLE_PEERS == Config().limits["visible_peers"]
    assert limits["max_peers_page"] == protocol.MAX_PEERS_PAGE == Config().limits["peers_page"]


def test_client_frames_decode_and_encode_again_exactly() -> None:
    end = {"type": "signal", "to": "Zr4o0b8kFhS2aLw9", "data": GOLDEN["end_of_candidates"]}
    for frame in [*GOLDEN["client_frames"], end]:
        message = decode(json.dumps(frame))
        assert message.type == frame["type"]
        assert _canon(message.to_wire()) == _canon(frame)


def _build(frame: Frame) -> Frame:
    """The server's own builder for a server frame, given the example's fields."""
    f = dict(frame)
    kind = f.pop("type")
    if kind == "welcome":
        f.pop("protocol")
        return protocol.welcome_frame(**f)
    if kind == "presence":
        return protocol.presence_frame(f["joined"], f["left"], f["count"])
    if kind == "peers":
        return protocol.peers_frame(f["peers"], f["next"], f["count"])
    if kind in ("relay", "signal"):
        build = protocol.relay_frame if kind == "relay" else protocol.signal_frame
        return build(f["from"], f["data"])
    if kind == "event":
        return protocol.event_frame(**f)
    if kind == "resync":
        return protocol.resync_frame(f["latest"])
    assert kind == "error", kind
    return ProtocolError(ErrorCode(f["code"]), f["message"], f.get("field")).to_wire()


def test_server_frames_are_what_the_builders_make_in_the_documented_order() -> None:
    frames = GOLDEN["server_frames"]
    assert sorted({f["type"] for f in frames}) == sorted(GOLDEN["enums"]["server_types"])
    for frame in frames:
        assert _canon(_build(frame)) == _canon(frame)


def test_drag_updates_validate_and_keep_their_order() -> None:
    drags = [*GOLDEN["drag_updates"], *(f["data"] for f in GOLDEN["server_frames"]
                                        if f["type"] == "relay"),
             *(f["data"] for f in GOLDEN["client_frames"] if f["type"] == "relay")]
    for drag in drags:
        assert _canon(decode_drag(drag).to_wire()) == _canon(drag)


def test_the_welcome_example_is_what_a_node_configured_so_sends() -> None:
    [welcome] = [f for f in GOLDEN["server_frames"] if f["type"] == "welcome"]
    config = Config(ice_servers=("stun:stun.example.org:3478",))
    assert welcome["ice_servers"] == config.ice_servers_for(welcome["user"]["id"])
    assert welcome["limits"] == config.limits


def test_the_turn_example_is_the_credential_coturn_checks() -> None:
    given = GOLDEN["turn"]["given"]
    stun, *turn = GOLDEN["turn"]["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.org:3478"]}
    assert turn == turn_ice_servers(given["urls"], given["secret"], given["user"],
                                    ttl=given["ttl"], now=given["issued"])


def test_every_error_code_has_an_example() -> None:
    codes = [e["error"]["code"] for e in GOLDEN["errors"]]
    assert sorted(set(codes)) == sorted(GOLDEN["enums"]["error_codes"].values())


@pytest.mark.parametrize("example", [e for e in GOLDEN["errors"]
                                     if not e.get("sprint") and not e.get("over_rate")],
                         ids=lambda e: e["error"]["code"])
def test_error_examples_are_what_decode_answers(example: Frame) -> None:
    text = example["send"]
    with pytest.raises(ProtocolError) as info:
        decode(text.encode() if example.get("binary") else text)
    assert _canon(info.value.to_wire()) == _canon(example["error"])


@pytest.mark.parametrize("example", [e for e in GOLDEN["errors"]
                                     if e.get("sprint") or e.get("over_rate")],
                         ids=lambda e: e["error"]["code"])
async def test_error_examples_are_what_a_server_sends(example: Frame, connect: Connect) -> None:
    """The errors only a running server can give: an absent peer, the rate limit."""
    client = await connect(example.get("sprint", 7))
    for _ in range(GOLDEN["limits"]["relay_per_second"] + 1 if example.get("over_rate") else 1):
        await client.send(example["send"])
    assert await client.recv_type("error") == example["error"]


# --- POST /events/ ----------------------------------------------------------------------------


def test_the_ingest_example_is_what_django_sends_and_what_the_server_makes_of_it() -> None:
    request = GOLDEN["ingest"]["request"]
    [sent] = request["events"]
    outgoing = Outgoing.of(OutboxEvent(sprint_id=sent["sprint"], seq=sent["seq"],
                                       action=sent["action"], model=sent["model"],
                                       object_id=sent["id"], data=sent["data"],
                                       actor_id=sent["actor"]["id"],
                                       actor_username=sent["actor"]["username"]),
                           epoch=sent["epoch"], reset=False)
    assert encode_body([outgoing], request["nonce"]) == _canon(request).encode()
    [event] = parse_batch(_canon(request).encode()).events
    [frame] = [f for f in GOLDEN["server_frames"] if f["type"] == "event"]
    assert event.frame == encode(frame).encode()


async def test_the_ingest_answers_are_the_servers() -> None:
    responses = GOLDEN["ingest"]["responses"]
    request = GOLDEN["ingest"]["request"]
    batch = parse_batch(_canon(request).encode())
    broker = MemoryBroker(lambda envelope: None, History())
    assert {"results": await deliver_batch(broker, batch.events, Metrics())} == responses["200"]

    deep: Any = {}
    for _ in range(protocol.MAX_DATA_DEPTH):
        deep = {"x": deep}
    events = [{**request["events"][0], "seq": 43 + i} for i in range(4)]
    events[3]["data"] = deep
    with pytest.raises(BatchError) as info:
        parse_batch(_canon({"nonce": request["nonce"], "events": events}).encode())
    assert info.value.status == 400 and info.value.to_wire() == responses["400"]

    with pytest.raises(SignatureError) as bad:
        verify_signature(b"{}", "1795600000", "v1=00", secret="s", window=300,
                         clock=lambda: 1795600000)
    assert {"error": str(bad.value.problem), "message": bad.value.message} == responses["401"]

    with pytest.raises(BatchError) as big:
        parse_batch(_canon({"nonce": request["nonce"], "events": events * 126}).encode())
    assert big.value.status == 413 and big.value.to_wire() == responses["413"]

    down = RedisBroker("redis://127.0.0.1:1/0", lambda envelope: None, History())
    with pytest.raises(BrokerUnavailable) as unavailable:
        await down.record_event(7, 43, b"{}")
    await down.close()
    assert responses["503"]["error"] == "broker_unavailable"  # signaling/handlers.py
    prefix = responses["503"]["message"].partition("…")[0]
    assert str(unavailable.value).startswith(prefix)


def test_the_ticket_example_has_the_apis_fields() -> None:
    assert list(GOLDEN["ticket"]) == list(TicketSerializer().fields)


# --- docs/protocol.md -------------------------------------------------------------------------


def _doc_examples() -> list[Any]:
    """Every JSON value of the page: in ```json blocks, and in inline code of a table."""
    found: list[Any] = []
    decoder = json.JSONDecoder()
    for block in re.findall(r"```json\n(.*?)```", DOC, re.S):
        text, at = block.strip(), 0
        while at < len(text):
            value, at = decoder.raw_decode(text, at)
            found.append(value)
            while at < len(text) and text[at].isspace():
                at += 1
    prose = re.sub(r"```.*?```", "", DOC, flags=re.S)
    for span in re.findall(r"`(\{[^`\n]*\})`", prose):
        try:
            value = json.loads(span)
        except ValueError:
            continue  # a sketch such as {type: relay, from, data}
        if isinstance(value, dict):
            found.append(value)
    return found


def _golden_examples() -> list[Any]:
    ingest = GOLDEN["ingest"]
    return [GOLDEN["ticket"], *GOLDEN["server_frames"], GOLDEN["turn"]["ice_servers"],
            *GOLDEN["client_frames"], GOLDEN["end_of_candidates"], *GOLDEN["drag_updates"],
            ingest["request"], *ingest["responses"].values(),
            *GOLDEN["event_log"].values(),  # tests/api/test_event_log.py checks these
            *(r["body"] for r in GOLDEN["sse"]["refusals"]),
            # the stream's close message is also shown in the table of event names
            json.loads(SseParser().feed(GOLDEN["sse"]["stream"].encode())[-1].data)]


def test_the_page_shows_the_golden_examples_and_no_others() -> None:
    shown = [_canon(v) for v in _doc_examples()]
    golden = [_canon(v) for v in _golden_examples()]
    errors = {_canon(e["error"]) for e in GOLDEN["errors"]}
    assert [v for v in shown if v not in golden and v not in errors] == []
    assert [v for v in golden if v not in shown] == []


def _table_column(heading: str) -> list[str]:
    """The first column of the table right under the line ``heading`` starts."""
    table = DOC[DOC.index(heading):].split("\n\n")[0]
    rows = re.findall(r"^\| `?([^`|]+?)`? \|", table, re.M)[1:]  # the heading row first
    return [r for r in rows if set(r) != {"-"}]


def test_the_pages_tables_list_the_codes_and_actions() -> None:
    enums = GOLDEN["enums"]
    assert _table_column("| code | cause |") == list(enums["error_codes"].values())
    assert [int(c) for c in _table_column("| close code | meaning |")] == list(
        enums["close_codes"].values())
    assert _table_column("| action | meaning") == enums["event_actions"]
    statuses = ", ".join(f"`{s}`" for s in enums["statuses"])
    assert f"| `status` | target column: {statuses}" in DOC
    models = " or ".join(f"`{m}`" for m in enums["event_models"])
    assert f"`model` is {models}." in DOC


# --- Server-Sent Events (§10) ---------------------------------------------------------------


def test_the_sse_example_is_what_the_server_writes_and_a_client_reads() -> None:
    stream = GOLDEN["sse"]["stream"]
    assert f"```text\n{stream.rstrip()}\n```" in DOC
    messages = SseParser().feed(stream.encode())
    assert [(m.event, m.id) for m in messages] == [
        ("presence", ""), ("event", "43"), ("presence", "43"), ("resync", "43"), ("close", "43")]
    rebuilt = b"".join(
        sse_message(m.event, m.data.encode(), int(m.id) if m.event == "event" else None)
        for m in messages)
    assert rebuilt.decode() in stream.replace(": heartbeat\n\n", "")
    [event] = [f for f in GOLDEN["server_frames"] if f["type"] == "event"]
    sent = json.loads(messages[1].data)
    assert list(sent) == list(event)  # the websocket's event frame, key for key
    assert classify(messages[1].data.encode()) == ("event", 43)


def test_the_sse_url_is_the_tickets_with_stream_appended() -> None:
    ticket = GOLDEN["ticket"]
    assert stream_url(ticket["url"], ticket["token"], 42) == GOLDEN["sse"]["url"]


def test_the_sse_refusals_name_every_error_the_handler_gives() -> None:
    statuses = {r["body"]["error"]: r["status"] for r in GOLDEN["sse"]["refusals"]}
    assert statuses == {"token_missing": 401, "token_invalid": 401, "token_expired": 401,
                        "wrong_sprint": 403, "origin_refused": 403, "bad_since": 400,
                        "connections_per_user": 429, "closing": 503}
    source = (ROOT / "signaling" / "stream.py").read_text() + (
        ROOT / "signaling" / "sse.py").read_text()
    for error in statuses:
        assert f'"{error}"' in source or error == "connections_per_user", error
