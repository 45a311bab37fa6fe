"""`manage.py outbox [skip|retry|new-epoch]`: inspect the event outbox, handle dead events.

    manage.py outbox                      pending and dead events per sprint, each dead one
    manage.py outbox skip SPRINT SEQ      give up on a dead event: the sprint goes on, its
                                          clients resync (they refetch the change)
    manage.py outbox retry SPRINT SEQ     send a dead event again (the cause was fixed)
    manage.py outbox new-epoch [SPRINT…]  after restoring a backup: every sprint's (or
                                          these) next event restarts its history on the
                                          realtime server and its clients resync
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Min, Q
from django.utils import timezone

from api.realtime import streams
from api.realtime.models import OutboxEvent
from api.realtime.publisher import Publisher
from api.realtime.transport import DeliveryError


class Command(BaseCommand):
    help = ("Show pending and dead outbox events per sprint; skip or retry a dead event; "
            "start new stream epochs after restoring a database backup.")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action")
        for name, what in (("skip", "Give up on a dead event; its sprint's clients resync."),
                           ("retry", "Make a dead event pending again.")):
            sub = actions.add_parser(name, help=what)
            sub.add_argument("sprint", type=int)
            sub.add_argument("seq", type=int)
        epoch = actions.add_parser("new-epoch", help="After restoring a backup: restart "
                                   "every sprint's (or these sprints') realtime history.")
        epoch.add_argument("sprints", type=int, nargs="*")

    def handle(self, *args: Any, action: str | None = None, **options: Any) -> None:
        if action in ("skip", "retry"):
            self._settle(action, options["sprint"], options["seq"])
        elif action == "new-epoch":
            count = streams.new_epochs(options["sprints"] or None)
            self.stdout.write(f"{count} sprint streams start a new epoch with their next "
                              "event (their clients resync).")
            self._deliver()
        else:
            self._show()

    def _settle(self, action: str, sprint: int, seq: int) -> None:
        try:
            event = (streams.skip if action == "skip" else streams.retry)(sprint, seq)
        except OutboxEvent.DoesNotExist:
            raise CommandError(f"sprint {sprint} has no dead event seq {seq} "
                               "(`manage.py outbox` lists them)") from None
        self.stdout.write(f"{'Skipped' if action == 'skip' else 'Retrying'} {_describe(event)}.")
        self._deliver()

    def _deliver(self) -> None:
        """One delivery pass now, so the stream moves on without waiting for a write."""
        try:
            Publisher().run_pass()
        except DeliveryError as exc:
            self.stderr.write(f"Not delivered now ({exc}); the delivery thread or "
                              "`manage.py deliver_events` will.")
            return
        self._show()

    def _show(self) -> None:
        rows = (OutboxEvent.objects.values("sprint_id")
                .annotate(pending=Count("pk", filter=streams.PENDING),
                          dead=Count("pk", filter=streams.DEAD),
                          oldest=Min("created_at", filter=streams.PENDING))
                .filter(Q(pending__gt=0) | Q(dead__gt=0)).order_by("sprint_id"))
        if not rows:
            self.stdout.write("Outbox: nothing pending, nothing dead.")
            return
        now = timezone.now()
        self.stdout.write(f"{'sprint':>8} {'pending':>8} {'dead':>5}  oldest pending")
        for row in rows:
            age = f"{(now - row['oldest']).total_seconds():.0f} s ago" if row["oldest"] else "-"
            self.stdout.write(f"{row['sprint_id']:>8} {row['pending']:>8} {row['dead']:>5}  "
                              f"{age}")
        for event in OutboxEvent.objects.filter(streams.DEAD).order_by("sprint_id", "seq"):
            failed = f"{event.failed_at:%Y-%m-%d %H:%M:%S}" if event.failed_at else "?"
            where = f"{event.sprint_id} {event.seq}"
            self.stdout.write(f"dead: {_describe(event)}, failed {failed}: {event.failure}\n"
                              f"      manage.py outbox skip {where}  |  "
                              f"manage.py outbox retry {where}")


def _describe(event: OutboxEvent) -> str:
    return (f"sprint {event.sprint_id} seq {event.seq} ({event.model} {event.object_id} "
            f"{event.action})")
