"""A tiny stand-in for the realtime server's `POST /events/` (docs/protocol.md §7), for tests.

It checks the HMAC signature like the real server, numbers events per sprint the same
way (accepted / duplicate / gap) and remembers what it accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import TEST_SECRET, free_port


class RealtimeStub:
    """`with RealtimeStub() as stub:` serves on `stub.url` until the block ends."""

    def __init__(self, *, port: int | None = None, secret: str = TEST_SECRET) -> None:
        self.port = port or free_port()
        self.secret = secret
        self.accepted: list[dict[str, Any]] = []
        self.requests = 0
        self.bad_signatures = 0
        self.last_seq: dict[int, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def receive(self, body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        ts = headers.get("X-Watercooler-Timestamp", "")
        expected = hmac.new(self.secret.encode(), ts.encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        with self._lock:
            self.requests += 1
            if not hmac.compare_digest(headers.get("X-Watercooler-Signature", ""),
                                       f"v1={expected}"):
                self.bad_signatures += 1
                return 401, {"error": "bad_signature", "message": "signature mismatch"}
            results = [self._number(event) for event in json.loads(body)["events"]]
        return 200, {"results": results}

    def _number(self, event: dict[str, Any]) -> dict[str, Any]:
        sprint, seq = event["sprint"], event["seq"]
        last = self.last_seq.get(sprint)
        if last is not None and seq <= last:
            status = "duplicate"
        elif last is not None and seq > last + 1:
            status = "gap"
        else:
            status = "accepted"
            self.last_seq[sprint] = seq
            self.accepted.append(event)
        return {"sprint": sprint, "seq": seq, "status": status}

    def __enter__(self) -> RealtimeStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, reply = stub.receive(body, self.headers)
                payload = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
