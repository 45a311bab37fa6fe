"""Properties of ``parse_batch`` (``POST /events/`` bodies), with Hypothesis.

Whatever the bytes, the answer is a batch or a ``BatchError`` with a 4xx status, never
another exception (which would be a 500, maybe after part of a batch was recorded); and a
valid batch parses to exactly the events that were sent.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling.ingest import MAX_DATA_DEPTH, MAX_ID, Batch, BatchError, parse_batch

# Bounded: the whole file runs in a few seconds.
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TEXT = st.text(st.characters(codec="utf-8"), max_size=20)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(TEXT, inner, max_size=4), max_leaves=20)
URL_SAFE = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
                   min_size=16, max_size=64)


def parses_or_refuses(body: bytes) -> Batch | None:
    try:
        return parse_batch(body)
    except BatchError as exc:
        assert 400 <= exc.status < 500, exc.status
        assert exc.error in ("malformed", "unknown_sprint", "too_large")
        assert exc.message
        return None


@FAST
@given(st.binary(max_size=300))
def test_any_bytes(body: bytes) -> None:
    parses_or_refuses(body)


@FAST
@given(JSON)
def test_any_json_value_alone_or_as_the_events(value: Any) -> None:
    parses_or_refuses(json.dumps(value).encode())
    for events in (value, [value]):
        parses_or_refuses(json.dumps({"nonce": "n" * 16, "events": events}).encode())


HOSTILE = st.sampled_from([
    "[" * 100_000 + "]" * 100_000,  # nested past the parser's recursion limit
    "[" * 900 + "]" * 900,  # parses, deeper than data may nest
    '{"a":' * 40 + "1" + "}" * 40,
    '"\\ud800"', '"\\udfff x"', '{"\\ud83d": 1}',  # lone surrogates (keys too)
    "1e999", "-1e999", "1" * 5000, "NaN", "Infinity", "-Infinity",  # beyond JSON's numbers
    "9007199254740992", "-1", "0", "true", '"7"', "1.0",  # ids that are not ids
])


@FAST
@given(st.integers(1, 50), st.integers(1, 50), HOSTILE,
       st.sampled_from(["sprint", "seq", "id", "data", "epoch", "reset", "nonce", "action"]))
def test_hostile_json_in_any_field(sprint: int, seq: int, hostile: str, field: str) -> None:
    event = {"sprint": sprint, "seq": seq, "action": "updated", "model": "task", "id": 3,
             "data": {"id": 3}}
    body: dict[str, Any] = {"nonce": "n" * 16, "events": [event]}
    placeholder = "@@HOSTILE@@"
    if field == "nonce":
        body["nonce"] = placeholder
    elif field == "data":
        event["data"] = {"id": 3, "x": placeholder}
    else:
        event[field] = placeholder
    raw = json.dumps(body).replace(f'"{placeholder}"', hostile).encode()
    batch = parses_or_refuses(raw)
    if batch is not None:  # what passed must be deliverable: ids in range, frame encoded
        (parsed,) = batch.events
        assert 1 <= parsed.sprint <= MAX_ID and 1 <= parsed.seq <= MAX_ID
        json.loads(parsed.frame)


@st.composite
def batches(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body: events of a few sprints, each sprint's in increasing seq order."""
    events = []
    for sprint in draw(st.lists(st.integers(1, MAX_ID), min_size=1, max_size=4, unique=True)):
        seqs = sorted(draw(st.sets(st.integers(1, MAX_ID), min_size=1, max_size=4)))
        for seq in seqs:
            event: dict[str, Any] = {
                "sprint": sprint, "seq": seq,
                "action": draw(st.sampled_from(["created", "updated", "deleted", "added",
                                                "removed"])),
                "model": draw(st.sampled_from(["task", "sprint"])),
                "id": draw(st.integers(1, MAX_ID)),
                "data": draw(st.none() | st.dictionaries(TEXT, JSON, max_size=5)),
            }
            if draw(st.booleans()):
                event["epoch"] = draw(URL_SAFE.map(lambda s: s[:8]))
            if draw(st.booleans()):
                event["reset"] = draw(st.booleans())
            events.append(event)
    shuffled = draw(st.permutations(events))
    return {"nonce": draw(URL_SAFE), "events": _keep_seq_order(shuffled)}


def _keep_seq_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Shuffled across sprints, but each sprint's events back in seq order."""
    seqs: dict[int, list[int]] = {}
    for event in events:
        seqs.setdefault(event["sprint"], []).append(event["seq"])
    for values in seqs.values():
        values.sort(reverse=True)
    by_key = {(e["sprint"], e["seq"]): e for e in events}
    return [by_key[(e["sprint"], seqs[e["sprint"]].pop())] for e in events]


@FAST
@given(batches())
def test_a_valid_batch_parses_to_the_same_events(body: dict[str, Any]) -> None:
    batch = parse_batch(json.dumps(body).encode())
    assert batch.nonce == body["nonce"]
    assert len(batch.events) == len(body["events"])
    for parsed, sent in zip(batch.events, body["events"], strict=True):
        assert (parsed.sprint, parsed.seq, parsed.action, parsed.model, parsed.id) == (
            sent["sprint"], sent["seq"], sent["action"], sent["model"], sent["id"])
        assert parsed.data == sent["data"]
        assert (parsed.epoch, parsed.reset) == (sent.get("epoch", ""), sent.get("reset", False))
        assert json.loads(parsed.frame) == {"type": "event", **{
            k: sent[k] for k in ("sprint", "seq", "action", "model", "id", "data")}}


def test_the_depth_limit_is_the_documented_one() -> None:
    deep: dict[str, Any] = {}
    for _ in range(MAX_DATA_DEPTH - 1):
        deep = {"x": deep}
    body = {"nonce": "n" * 16, "events": [{"sprint": 1, "seq": 1, "action": "updated",
                                           "model": "task", "id": 1, "data": deep}]}
    assert parse_batch(json.dumps(body).encode()).events[0].data == deep
    body["events"][0]["data"] = {"x": deep}
    assert parses_or_refuses(json.dumps(body).encode()) is None
