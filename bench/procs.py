"""Processes of a benchmark: servers under test, load generators, and their CPU and memory.

Every process is a child started here, on loopback, on a free port, with a raised
file-descriptor limit, and killed when its ``with`` block ends. Server CPU comes from
``/proc/<pid>/stat`` (utime + stime of every thread) so the load generator, which shares
the machine, never hides the server's own cost.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import free_port

__all__ = ["ROOT", "LoadGen", "Server", "Usage", "free_port", "raise_nofile", "run_loadgens",
           "usage"]

ROOT = Path(__file__).resolve().parent.parent
#: Every server started and not yet stopped: stopped at exit whatever happened.
_RUNNING: set[Server] = set()
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU seconds (user + system, all threads) and resident memory of a process, now."""

    cpu: float
    rss: int
    at: float
    user: float = 0.0
    sys: float = 0.0


def usage(pid: int) -> Usage:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    user, sys_ = int(fields[11]) / _TICK, int(fields[12]) / _TICK  # utime, stime (14, 15)
    rss = int(fields[21]) * _PAGE  # field 24
    return Usage(cpu=user + sys_, rss=rss, at=time.monotonic(), user=user, sys=sys_)


class Server:
    """A server under test: a subprocess listening on 127.0.0.1:``port``, healthy on ``health``."""

    def __init__(self, name: str, argv: Sequence[str], port: int, *, health: str = "/healthz",
                 env: dict[str, str] | None = None, log_dir: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.health = health
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"{name}-{port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def usage(self) -> Usage:
        return usage(self.pid)

    def start(self, timeout: float = 30.0) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        _RUNNING.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-1500:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.health}",
                                            timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not healthy on port {self.port} in {timeout} s")

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return bytes(r.read())

    def stop(self, timeout: float = 10.0) -> None:
        _RUNNING.discard(self)
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

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
