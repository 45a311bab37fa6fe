"""peer.sse: the event-stream parser, on the server's own encoding and on hostile bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.sse import SseError, SseEvent, SseParser
from signaling.sse import sse_message

# Event names as the server writes them (one line, no colon at the start); data any text
# (the server writes a data line per line of it; line ends come back as LF).
names = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)),
                min_size=1, max_size=20).filter(lambda s: not s.startswith((":", " ")))
datas = st.text(st.characters(blacklist_characters="\r", blacklist_categories=("Cs",)),
                max_size=200)
messages = st.lists(st.tuples(names, datas, st.one_of(st.none(), st.integers(0, 2**63 - 1))),
                    max_size=10)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    return [*out, data[last:]]


@given(messages, st.lists(st.integers(0, 4000), max_size=12))
def test_what_the_server_writes_parses_back_whatever_the_chunking(
        sent: list[tuple[str, str, int | None]], cuts: list[int]) -> None:
    wire = b"".join(sse_message(n, d.encode(), s) for n, d, s in sent)
    parser = SseParser()
    got = [e for chunk in _split(wire, cuts) for e in parser.feed(chunk)]
    last_id = ""
    expected = []
    for name, data, seq in sent:
        if seq is not None:
            last_id = str(seq)
        expected.append(SseEvent(event=name, data=data, id=last_id))
    assert got == expected


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=8))
def test_any_bytes_parse_the_same_in_one_piece_or_many(data: bytes, cuts: list[int]) -> None:
    whole = SseParser().feed(data)
    parser = SseParser()
    pieces = [e for chunk in _split(data, cuts) for e in parser.feed(chunk)]
    assert pieces == whole


def test_the_standards_examples() -> None:
    parser = SseParser()
    events = parser.feed(b"\xef\xbb\xbf: comment\r\ndata: YHOO\r\ndata: +2\rdata: 10\n\n"
                         b"id: 7\nevent: add\ndata:x\n\nid\ndata\n\nretry: 1500\nretry: x\n\n")
    assert events == [SseEvent("message", "YHOO\n+2\n10", ""), SseEvent("add", "x", "7"),
                      SseEvent("message", "", "")]
    assert parser.retry == 1500


def test_a_line_that_never_ends_is_refused() -> None:
    parser = SseParser(max_line=100)
    parser.feed(b"data: " + b"x" * 90)
    with pytest.raises(SseError):
        parser.feed(b"x" * 20)
