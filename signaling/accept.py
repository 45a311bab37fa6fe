"""Accepting connections without spinning when the process runs out of file descriptors.

Tornado's accept handler lets ``accept()``'s ``EMFILE`` ("Too many open files") escape to
the event loop, which logs it with a traceback and, the listening socket still being
readable, calls the handler again at once: a full core and tens of thousands of log lines
a second for as long as the node is at its limit. ``Acceptor`` takes the listening socket
off the loop instead, for a short interval that doubles while the condition lasts, counts
each pause (``watercooler_accept_paused_total``) and logs once per ``LOG_EVERY`` seconds.
Pending connections wait in the kernel's backlog meanwhile and are accepted as soon as
descriptors free up. ``raise_open_files_limit`` lifts the soft descriptor limit to the hard
one at start, so the limit an operator set is the one that counts.
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import tornado.httpserver
from tornado.ioloop import IOLoop

if TYPE_CHECKING:
    from signaling.metrics import Metrics

__all__ = ["Acceptor", "BackoffHTTPServer", "raise_open_files_limit"]

log = logging.getLogger(__name__)

#: Connections accepted per wake-up before other callbacks run (Tornado's backlog figure).
ACCEPT_BATCH = 128
#: The first pause after accept() fails for want of resources, and the longest.
PAUSE_MIN = 0.05
PAUSE_MAX = 2.0
#: At most one log line per this many seconds while accepting keeps failing.
LOG_EVERY = 10.0
#: Linux caps a process's descriptors at fs.nr_open (this by default) whatever the hard
#: limit says; an unlimited hard limit is raised to this.
_NR_OPEN = 1_048_576


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit where allowed; (soft, hard) after.

    Each websocket holds a descriptor, and the soft limit is often 1024 where the hard one
    allows far more.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _NR_OPEN if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("open files limit: could not raise %d to %d: %s", soft, target, exc)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


class Acceptor:
    """Accepts connections on one listening socket and hands each to ``callback``."""

    def __init__(self, sock: socket.socket, callback: Callable[[socket.socket, Any], None],
                 metrics: Metrics | None = None) -> None:
        self.sock = sock
        self.callback = callback
        self.metrics = metrics
        self.paused = False
        self._loop = IOLoop.current()
        self._delay = PAUSE_MIN
        self._timer: object | None = None
        self._stopped = False
        self._logged_at = -LOG_EVERY
        self._unlogged = 0
        self._loop.add_handler(sock, self._accept, IOLoop.READ)

    def _accept(self, fd: Any, events: int) -> None:
        for _ in range(ACCEPT_BATCH):
            if self._stopped or self.paused:
                return
            try:
                connection, address = self.sock.accept()
            except BlockingIOError:  # every pending connection taken
                return
            except ConnectionAbortedError:  # it went away while queued
                continue
            except OSError as exc:
                # EMFILE/ENFILE (descriptors), ENOBUFS/ENOMEM (kernel memory), or anything
                # else accept() can fail with: retrying at once fails the same way.
                self._pause(exc)
                return
            self._delay = PAUSE_MIN
            self.callback(connection, address)

    def _pause(self, exc: OSError) -> None:
        self.paused = True
        self._loop.remove_handler(self.sock)
        delay = self._delay
        self._delay = min(PAUSE_MAX, self._delay * 2)
        self._timer = self._loop.call_later(delay, self._resume)
        if self.metrics is not None:
            self.metrics.accept_paused.inc()
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:
            soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
            reason = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            log.warning("accepting paused %d time(s) in the last %.0f s: %s (%s; open files "
                        "limit %d); retrying in %.2f s", self._unlogged, LOG_EVERY,
                        exc.strerror or exc, reason, soft, delay)
            self._logged_at = now
            self._unlogged = 0

    def _resume(self) -> None:
        self._timer = None
        if self._stopped:
            return
        self.paused = False
        self._loop.add_handler(self.sock, self._accept, IOLoop.READ)
        self._accept(self.sock, IOLoop.READ)  # what queued up meanwhile, without waiting

    def stop(self) -> None:
        """Stop accepting (the server is stopping); the caller closes the socket."""
        if self._stopped:
            return
        self._stopped = True
        if self._timer is not None:
            self._loop.remove_timeout(self._timer)
            self._timer = None
        elif not self.paused:
            self._loop.remove_handler(self.sock)


class BackoffHTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's ``HTTPServer`` with ``Acceptor`` in place of its accept handler."""

    def initialize(self, *args: Any, metrics: Metrics | None = None,  # type: ignore[override]
                   **kwargs: Any) -> None:
        self.metrics = metrics
        self.acceptors: list[Acceptor] = []
        super().initialize(*args, **kwargs)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        for sock in sockets:
            acceptor = Acceptor(sock, self._handle_connection, self.metrics)
            self.acceptors.append(acceptor)
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = acceptor.stop

