"""A Server-Sent Events parser that does no I/O: bytes in, events out (the HTML standard's
"event stream interpretation", as ``EventSource`` does it).

Feed it the response body in chunks of any size (``SseParser.feed``); it returns the events
completed so far. Lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF at
the start of the next are one line end); a leading BOM is dropped; bytes that are not UTF-8
become U+FFFD; comment lines (``:``) are skipped; ``id`` without a NUL sets the last event
id, which every later event carries; ``retry`` with only digits sets the reconnection
delay. A line longer than ``max_line`` characters raises ``SseError`` instead of growing
memory (a server that never ends a line).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

__all__ = ["SseError", "SseEvent", "SseParser", "stream_url"]


class SseError(Exception):
    """The stream breaks a bound of the parser (a line too long)."""


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event: its type (``message`` if it named none), data, last event id."""

    event: str
    data: str
    id: str


class SseParser:
    """Incremental parser of one event stream (``text/event-stream``)."""

    def __init__(self, *, max_line: int = 1 << 20) -> None:
        self.max_line = max_line
        #: The last event id seen (``Last-Event-ID`` of a reconnect).
        self.last_event_id = ""
        #: The reconnection delay the server asked for, in milliseconds (None: none).
        self.retry: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._started = False
        self._skip_lf = False
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events that ``chunk`` completes, in order."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text:
            self._skip_lf = False
            text = text.removeprefix("\n")
        events: list[SseEvent] = []
        buffer = self._pending + text
        start = 0
        size = len(buffer)
        while True:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line = buffer[start:end]
            if buffer[end] == "\r":
                if end + 1 < size:
                    start = end + 2 if buffer[end + 1] == "\n" else end + 1
                else:  # the LF of a CRLF may come with the next chunk
                    start = end + 1
                    self._skip_lf = True
            else:
                start = end + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._pending = buffer[start:]
        if len(self._pending) > self.max_line:
            raise SseError(f"a line longer than {self.max_line} characters")
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent(event=event or "message", data="\n".join(data), id=self.last_event_id)


def stream_url(ticket_url: str, token: str, since: int | None = None) -> str:
    """The sprint's SSE stream (docs/protocol.md §10) from a ticket's websocket ``url``:
    ``ws[s]://host/<sprint>/`` becomes ``http[s]://host/<sprint>/stream?token=…&since=…``."""
    parts = urlsplit(ticket_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    query = {"token": token} if since is None else {"token": token, "since": str(since)}
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/stream",
                       urlencode(query), ""))
