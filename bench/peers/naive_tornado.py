"""The book's first realtime server, as the floor: ``for s in subscribers: s.write_message(m)``.

No tokens, no validation, no presence, no history, no backpressure: a websocket joins its
sprint's set; a text frame goes as-is to the sprint's other subscribers; ``POST /events/``
(the same body Django signs, signature not checked) writes each event frame to every
subscriber with ``write_message``, which frames it once per connection.

    python -m bench.peers.naive_tornado --port 8090

With ``--floor`` it is instead the syscall floor, not a server anyone should run: the
event frame is framed once and handed to each socket with one raw ``send`` and nothing
else (no buffering: a short write would corrupt the stream; loopback never has one here).
What a Python server cannot go below on this machine: one ``send`` per delivered frame.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import defaultdict
from typing import Any

import tornado.web
import tornado.websocket
from tornado.options import define, options, parse_command_line

from signaling.framing import text_frame

define("port", default=8090, type=int, help="port to listen on (127.0.0.1)")
define("floor", default=False, type=bool, help="raw send of a prebuilt frame (the floor)")

subscriptions: dict[str, set[SprintSocket]] = defaultdict(set)


class SprintSocket(tornado.websocket.WebSocketHandler):
    def open(self, sprint: str) -> None:  # type: ignore[override]
        self.sprint = sprint
        subscriptions[sprint].add(self)

    def on_message(self, message: str | bytes) -> None:
        for subscriber in subscriptions[self.sprint]:
            if subscriber is not self:
                subscriber.write_message(message)

    def on_close(self) -> None:
        subscriptions[self.sprint].discard(self)


class EventsHandler(tornado.web.RequestHandler):
    def check_xsrf_cookie(self) -> None:
        pass

    def post(self) -> None:
        results: list[dict[str, Any]] = []
        for e in json.loads(self.request.body)["events"]:
            message = json.dumps(
                {"type": "event", "sprint": e["sprint"], "seq": e["seq"], "action": e["action"],
                 "model": e["model"], "id": e["id"], "data": e["data"]},
                separators=(",", ":"), ensure_ascii=False)
            if options.floor:
                wire = text_frame(message.encode())
                for subscriber in subscriptions[str(e["sprint"])]:
                    subscriber.ws_connection.stream.socket.send(wire)  # type: ignore[union-attr]
            else:
                for subscriber in subscriptions[str(e["sprint"])]:
                    subscriber.write_message(message)
            results.append({"sprint": e["sprint"], "seq": e["seq"], "status": "accepted"})
        self.finish({"results": results})


class HealthHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish({"status": "ok"})


async def main() -> None:
    parse_command_line()
    app = tornado.web.Application([
        (r"/healthz", HealthHandler),
        (r"/events/?", EventsHandler),
        (r"/([0-9]+)/?", SprintSocket),
    ])
    app.listen(options.port, "127.0.0.1")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
