"""The delivery loop: drain the outbox, back off while the realtime server fails, prune old rows.

Each web process runs one `DeliveryWorker` in a daemon thread, started lazily by the
first commit that records an event (`wake_delivery`, called from `on_commit`), so an API
request never waits for the realtime server. `manage.py deliver_events` runs the same
loop in the foreground. Several processes may deliver the same event; the realtime
server drops duplicates by seq and each process marks them delivered.

Two kinds of waiting: when the realtime server cannot be reached (or refuses every
request), the whole loop backs off; a sprint in trouble of its own backs off alone, in
the `Publisher`, and the loop wakes when the first such sprint may be tried again.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connections

from api.realtime import streams
from api.realtime.publisher import DeliveryError, PassResult, Publisher, retry_delay

__all__ = ["DeliveryWorker", "retry_delay", "stop_delivery_thread", "wake_delivery"]

log = logging.getLogger(__name__)

#: Prune delivered events at most this often (seconds).
PRUNE_INTERVAL = 600.0


class DeliveryWorker:
    """Delivers until nothing is pending, then sleeps until woken (or `idle_poll` passes)."""

    def __init__(self, *, idle_poll: float | None = None) -> None:
        self.idle_poll = idle_poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0
        self._failing = False
        self.publisher = Publisher()

    def wake(self) -> None:
        """Ask for a delivery pass soon, starting the daemon thread if needed."""
        self.start()
        self._wake.set()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # A fresh stop flag per thread: a thread being stopped stays stopped.
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self.run, args=(self._stop,),
                                                name="outbox-delivery", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop the thread after its current pass (tests; graceful shutdown)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def run(self, stop: threading.Event | None = None) -> None:
        """Loop until stopped: a pass, then wait for a wake-up, the retry delay or idle_poll."""
        stop = stop or self._stop
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            result = self.run_pass()
            # Hold no connection while idle (and let test databases be dropped).
            connections.close_all()
            failures = 0 if result is not None else failures + 1
            self._wake.wait(self._delay(result, failures))

    def _delay(self, result: PassResult | None, failures: int) -> float | None:
        if result is None:
            return retry_delay(failures)
        if result.retry_in is None:
            return self.idle_poll
        return min(result.retry_in, self.idle_poll or result.retry_in)

    def run_pass(self) -> PassResult | None:
        """One delivery pass; None if it failed as a whole (the server is unreachable...)."""
        try:
            result = self.publisher.run_pass()
            if self._failing:
                log.info("sprints (all pending): delivery recovered")
                self._failing = False
            if time.monotonic() - self._last_prune > PRUNE_INTERVAL:
                self._last_prune = time.monotonic()
                streams.prune()
            return result
        except DeliveryError as exc:
            # Warn once per outage; retries while it lasts are logged at debug level.
            log.log(logging.DEBUG if self._failing else logging.WARNING,
                    "delivery failed, will retry with backoff: %s", exc)
            self._failing = True
            return None
        except Exception:
            log.exception("sprints (all pending): delivery pass crashed, will retry")
            return None


_process_worker = DeliveryWorker()


def wake_delivery() -> None:
    """Called after a commit that recorded events. No-op if REALTIME_DELIVERY_THREAD is off."""
    if settings.REALTIME_DELIVERY_THREAD:
        _process_worker.wake()


def stop_delivery_thread(timeout: float = 10) -> None:
    """Stop this process's delivery thread; the next `wake_delivery()` starts a new one."""
    _process_worker.stop(timeout)
