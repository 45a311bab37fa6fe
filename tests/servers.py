"""Real servers for tests: a `watercooler.py` subprocess on a free port, tokens and HMAC.

Every suite that needs the realtime server starts it through `RealtimeServer`, so the
server under test is always the real entry point, started the way an operator would
(processes, ports and logs: `tests.processes`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import jwt

from tests.processes import ROOT, ChildProcess, free_port

__all__ = ["DJANGO_ORIGIN", "ROOT", "TEST_SECRET", "RealtimeServer", "events_body", "free_port",
           "make_token", "manage", "next_second", "sign"]

TEST_SECRET = "test-realtime-secret-not-for-production"
DJANGO_ORIGIN = "http://127.0.0.1:8000"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python manage.py <args>`` in a fresh process with ``env`` added: for settings
    that are read once, at start (a bad value must stop Django there)."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})


def make_token(
    *,
    user_id: int = 1,
    username: str = "ana",
    sprint: int = 1,
    secret: str = TEST_SECRET,
    ttl: float = 3600,
    **extra: Any,
) -> str:
    """A realtime ticket as Django issues it (see docs/protocol.md §1)."""
    now = int(time.time())
    claims = {"sub": str(user_id), "username": username, "sprint": sprint,
              "aud": "watercooler", "iat": now, "exp": now + int(ttl), **extra}
    return jwt.encode(claims, secret, algorithm="HS256")


def events_body(events: list[dict[str, Any]], *, nonce: str | None = None) -> bytes:
    """A `POST /events/` body: the events and a fresh nonce (docs/protocol.md §7)."""
    return json.dumps({"nonce": nonce or secrets.token_urlsafe(16), "events": events}).encode()


def next_second() -> None:
    """Sleep into the next whole second of the clock (signatures are stamped in seconds):
    what is signed before the call is then older than anything that starts after it."""
    time.sleep(1.01 - time.time() % 1)


def sign(body: bytes, *, secret: str = TEST_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers for `POST /events/` (docs/protocol.md §7)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Watercooler-Timestamp": ts,
            "X-Watercooler-Signature": f"v1={digest}"}


class RealtimeServer:
    """`python watercooler.py` on a free port, as a subprocess. Use as a context manager."""

    def __init__(self, *args: str, port: int | None = None, debug: bool = False,
                 secret: str = TEST_SECRET, origins: tuple[str, ...] = (DJANGO_ORIGIN,),
                 env: dict[str, str] | None = None, broker: str | None = None) -> None:
        self.port = port or free_port()
        self.secret = secret
        self.args = [sys.executable, str(ROOT / "watercooler.py"), f"--port={self.port}",
                     f"--secret={secret}"]
        self.args += [f"--allowed-origin={o}" for o in origins]
        if debug:
            self.args.append("--debug")
        if broker is not None:
            self.args.append(f"--broker={broker}")
        self.args += list(args)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self._child: ChildProcess | None = None
        self.log_path = ROOT / "test-artifacts" / f"realtime-{self.port}.log"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, sprint: int | str, token: str | None = None) -> str:
        url = f"ws://127.0.0.1:{self.port}/{sprint}/"
        return f"{url}?token={token}&protocol=2" if token else f"{url}?protocol=2"

    def start(self, timeout: float = 15) -> RealtimeServer:
        """Start ``args`` (tests may change them first) and wait until ``/healthz`` answers 200."""
        self._child = ChildProcess("watercooler.py", self.args, log_path=self.log_path,
                                   env=self.env)
        self.proc = self._child.start().proc
        self._child.wait_http(f"{self.http_url}/healthz", timeout=timeout)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        """Stop the server (SIGTERM; SIGKILL simulates a crash). Returns its exit code."""
        return None if self._child is None else self._child.stop(sig, timeout)

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """``GET /healthz``: status and JSON body (503 included)."""
        try:
            with urllib.request.urlopen(f"{self.http_url}/healthz", timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def metrics(self) -> dict[str, float]:
        """`/metrics` parsed into {'name{labels}': value}."""
        with urllib.request.urlopen(f"{self.http_url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def sprint_metric(self, name: str, sprint: int) -> float:
        """One sprint's sample of a per-sprint metric (0 when it has none). Not ``metric``:
        a sprint's series goes when its last connection leaves, so a sum over all sprints
        can drop while another test's peers leave."""
        return self.metrics().get(f'{name}{{sprint="{sprint}"}}', 0.0)

    def metric(self, name: str) -> float:
        """Sum of every sample of a metric (all label sets)."""
        total = 0.0
        for key, value in self.metrics().items():
            if key == name or key.startswith(name + "{"):
                total += value
        return total

    def __enter__(self) -> RealtimeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
