"""Processes of a benchmark: servers under test, load generators, and their CPU and memory.

Every process is a child started here, on loopback, on a free port, with a raised
file-descriptor limit, and killed when its ``with`` block ends (the process plumbing is
`tests.processes`, shared with the test suites and `make cluster`). Server CPU comes from
``/proc/<pid>/stat`` (utime + stime of every thread) so the load generator, which shares
the machine, never hides the server's own cost.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.processes import ROOT, ChildProcess, Usage, free_port, raise_nofile, usage

__all__ = ["ROOT", "LoadGen", "Server", "Usage", "free_port", "raise_nofile", "run_loadgens",
           "usage"]

#: Every server started and not yet stopped: stopped at exit whatever happened.
_RUNNING: set[Server] = set()


class Server(ChildProcess):
    """A server under test: a subprocess listening on 127.0.0.1:``port``, healthy on ``health``."""

    def __init__(self, name: str, argv: Sequence[str], port: int, *, health: str = "/healthz",
                 env: dict[str, str] | None = None, log_dir: Path | None = None) -> None:
        super().__init__(name, argv, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                         log_path=(log_dir or Path(tempfile.gettempdir())) / f"{name}-{port}.log",
                         preexec=raise_nofile, append=False)
        self.port = port
        self.health = health

    def start(self, timeout: float = 30.0) -> Server:
        super().start()
        _RUNNING.add(self)
        self.wait_http(f"http://127.0.0.1:{self.port}{self.health}", timeout=timeout)
        return self

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return bytes(r.read())

    def stop(self, sig: int | None = None, timeout: float = 10.0) -> int | None:
        _RUNNING.discard(self)
        return super().stop(sig, timeout)

    def __enter__(self) -> Server:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop(timeout=3)


class LoadGen:
    """``python -m bench.loadgen <mode> <spec>``: a load generator in its own process.

    It talks in lines: ``MARK <name>`` (waits for ``OK`` on stdin: the coordinator samples
    the servers there), ``RESULT <json>`` at the end. Anything else is its log.
    """

    def __init__(self, mode: str, spec: dict[str, Any]) -> None:
        self.mode = mode
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.result: dict[str, Any] | None = None
        self._pending = b""
        self.log: list[str] = []

    def start(self) -> LoadGen:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", self.mode, json.dumps(self.spec)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            preexec_fn=raise_nofile)
        return self

    def next_line(self, deadline: float) -> str | None:
        """The next protocol line (MARK/RESULT), or None at EOF; log lines are kept."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            if b"\n" in self._pending:
                line, _, self._pending = self._pending.partition(b"\n")
                text = line.decode(errors="replace")
                if text.startswith(("MARK ", "RESULT ")):
                    return text
                self.log.append(text)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"load generator {self.mode} timed out; log: {self.log[-5:]}")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self._pending += chunk

    def ok(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"OK\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_loadgens(gens: Sequence[LoadGen], on_mark: Callable[[str], None],
                 timeout: float) -> list[dict[str, Any]]:
    """Run load generators in lockstep: at each MARK (all of them), call ``on_mark``."""
    deadline = time.monotonic() + timeout
    for gen in gens:
        gen.start()
    try:
        while True:
            lines = [gen.next_line(deadline) for gen in gens]
            if any(line is None for line in lines):
                raise RuntimeError(f"a load generator exited early: {gens[0].log[-10:]}")
            kinds = {line.split(" ", 1)[0] for line in lines if line}
            if kinds == {"RESULT"}:
                return [json.loads(line.split(" ", 1)[1]) for line in lines if line]
            marks = {line for line in lines if line}
            if len(marks) != 1:
                raise RuntimeError(f"load generators out of step: {marks}")
            on_mark(lines[0].split(" ", 1)[1])  # type: ignore[union-attr]
            for gen in gens:
                gen.ok()
    finally:
        for gen in gens:
            if gen.proc is not None:
                try:
                    gen.proc.wait(5)
                except subprocess.TimeoutExpired:
                    gen.kill()
