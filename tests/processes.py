"""Child processes on loopback: a free port, start with output to a log file, wait until ready,
stop (a signal, then SIGKILL), and CPU and memory read from ``/proc``.

One module for the three places that start servers: the test suites (`tests/servers.py`,
`tests/redis_util.py`), the benchmarks (`bench/procs.py`) and `make cluster`
(`docker/cluster.py`, which runs it as a script). Standard library only, and nothing of the
test suites, so each of them can import it without pulling in the others' dependencies.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "ChildProcess", "ProcessError", "Usage", "free_port", "http_ready",
           "port_is_free", "raise_nofile", "usage"]

ROOT = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


class ProcessError(RuntimeError):
    """A child exited before it was ready, or was not ready in time; the message says which
    and ends with the tail of its log."""


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound now (a listener left in TIME_WAIT counts as free)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit; the new soft limit.

    Also usable as a child's ``preexec_fn``: servers and load generators holding thousands
    of sockets need more than the usual soft limit of 1024."""
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
    """``/proc/<pid>/stat``: the process's own CPU (not its children's) and RSS."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    user, sys_ = int(fields[11]) / _TICK, int(fields[12]) / _TICK  # utime, stime (14, 15)
    rss = int(fields[21]) * _PAGE  # field 24
    return Usage(cpu=user + sys_, rss=rss, at=time.monotonic(), user=user, sys=sys_)


def http_ready(url: str, *, below: int = 400) -> Callable[[], bool]:
    """A readiness check: ``GET url`` answers with a status under ``below``."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError as exc:
            return exc.code < below
        except OSError:
            return False

    return check


class ChildProcess:
    """One child process, its standard output and error in ``log_path``.

    ``stop_signal`` [SIGTERM] is what `stop` sends first; SIGKILL follows after its
    timeout. ``preexec`` runs in the child before exec (e.g. `raise_nofile`);
    ``new_session`` puts the child in a session of its own, out of reach of the terminal's
    Ctrl-C. ``append`` keeps an earlier log of the same name (a restarted server).
    """

    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path,
                 env: Mapping[str, str] | None = None, cwd: Path = ROOT,
                 stop_signal: int = signal.SIGTERM, preexec: Callable[[], object] | None = None,
                 new_session: bool = False, append: bool = True) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.preexec = preexec
        self.new_session = new_session
        self.append = append
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ProcessError(f"{self.name} is not started")
        return self.proc.pid

    def start(self) -> ChildProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab" if self.append else "wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=self.preexec,
                                         start_new_session=self.new_session)
        return self

    def exited(self) -> int | None:
        """The exit code, or None while it runs (or before it started)."""
        return None if self.proc is None else self.proc.poll()

    def wait_ready(self, ready: Callable[[], bool], *, timeout: float, what: str = "ready",
                   interval: float = 0.05) -> None:
        """Until ``ready()``; `ProcessError` (the child stopped) if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited() is not None:
                raise ProcessError(f"{self.name} exited {self.exited()} before it was {what}: "
                                   f"{self.log_tail()}")
            if ready():
                return
            time.sleep(interval)
        self.stop()
        raise ProcessError(f"{self.name} was not {what} within {timeout:g} s: {self.log_tail()}")

    def wait_http(self, url: str, *, timeout: float, below: int = 400) -> None:
        """Until ``GET url`` answers under ``below`` (a health check, a login page)."""
        self.wait_ready(http_ready(url, below=below), timeout=timeout, what=f"answering {url}")

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def usage(self) -> Usage:
        return usage(self.pid)

    def stop(self, sig: int | None = None, timeout: float = 10.0) -> int | None:
        """Send ``sig`` (default ``stop_signal``), SIGKILL after ``timeout`` s; the exit code
        (None if it never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal if sig is None else sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
