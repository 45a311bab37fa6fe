"""`manage.py deliver_events [--once]`: deliver outbox events to the realtime server."""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from api.realtime import streams
from api.realtime.delivery import DeliveryWorker


class Command(BaseCommand):
    help = ("Deliver pending outbox events to REALTIME_URL, forever (polling every "
            "--poll seconds when idle), or once with --once.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true",
                            help="Drain the outbox once and exit (status 1 if events remain "
                                 "pending or dead).")
        parser.add_argument("--poll", type=float, default=1.0,
                            help="Seconds between idle checks for new events (default 1).")

    def handle(self, *args: Any, once: bool, poll: float, **options: Any) -> None:
        worker = DeliveryWorker(idle_poll=poll)
        if not once:
            self.stdout.write(f"Delivering outbox events (idle poll {poll}s); Ctrl-C to stop.")
            with contextlib.suppress(KeyboardInterrupt):
                worker.run()
            return
        result = worker.run_pass()
        backlog = streams.backlog()
        if result is None or backlog.pending or backlog.dead:
            failed = " (delivery failed: see the log)" if result is None else ""
            self.stderr.write(f"{backlog.pending} events still pending, {backlog.dead} dead"
                              f"{failed}; `manage.py outbox` shows them by sprint")
            raise SystemExit(1)
        self.stdout.write("Outbox drained.")
