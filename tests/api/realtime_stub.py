"""A stand-in for the realtime server's `POST /events/` (docs/protocol.md §7), for tests.

In this process, so a test can look inside (`history`, `accepted`), yet judging requests
with the real server's own code: the signature check, `parse_batch`, the nonce memory and
`deliver_batch` over a `MemoryBroker` (numbering, gaps, epochs and resets included).
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from signaling.auth import NonceClaim, SignatureError, verify_signature
from signaling.broker import Envelope
from signaling.history import History
from signaling.ingest import BatchError, deliver_batch, parse_batch
from signaling.memory_broker import MemoryBroker
from signaling.metrics import Metrics
from tests.servers import TEST_SECRET, free_port

WINDOW = 300.0


class RealtimeStub:
    """`with RealtimeStub() as stub:` serves on `stub.url` until the block ends."""

    def __init__(self, *, port: int | None = None, secret: str = TEST_SECRET,
                 max_body: int = 1024 * 1024) -> None:
        self.port = port or free_port()
        self.secret = secret
        self.max_body = max_body
        #: Events delivered to clients, as sent (the `event` frames' content).
        self.accepted: list[dict[str, Any]] = []
        #: The `resync` frames clients got (a sprint's history restarted).
        self.resyncs: list[dict[str, Any]] = []
        self.requests = 0
        self.bad_signatures = 0
        self.history = History()
        self.broker = MemoryBroker(self._deliver, self.history)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def knows(self, sprint: int, seq: int, epoch: str) -> None:
        """Pretend the server already has the sprint's events up to `seq` in `epoch`."""
        with self._lock:
            self.history.append(sprint, seq, b"{}", epoch=epoch, reset=True)

    def _deliver(self, envelope: Envelope) -> None:
        frame = json.loads(envelope.frame)
        if envelope.kind == "event":
            self.accepted.append({k: v for k, v in frame.items() if k != "type"})
        elif envelope.kind == "reset":
            self.resyncs.append(frame)

    def receive(self, body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            if len(body) > self.max_body:
                return 413, {"error": "too_large", "message": f"over {self.max_body} bytes"}
            try:
                timestamp = verify_signature(body, headers.get("X-Watercooler-Timestamp"),
                                             headers.get("X-Watercooler-Signature"),
                                             secret=self.secret, window=WINDOW)
                batch = parse_batch(body)
            except SignatureError as exc:
                self.bad_signatures += 1
                return 401, {"error": str(exc.problem), "message": exc.message}
            except BatchError as exc:
                return exc.status, exc.to_wire()
            claim = self.broker.replay.claim(batch.nonce, timestamp, WINDOW * 2)
            if claim is not NonceClaim.FRESH:
                return 401, {"error": "replayed", "message": str(claim)}
            results = asyncio.run(deliver_batch(self.broker, batch.events, Metrics()))
        return 200, {"results": results}

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
