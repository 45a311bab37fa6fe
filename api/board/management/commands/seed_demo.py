"""`manage.py seed_demo`: demo users (demo/demo, ana/ana), with DEBUG on a DEV ONLY admin
(admin/admin), and a demo sprint. Safe to rerun. Says which login opens which page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from api.board.demo import DEMO_ADMIN, DEMO_USERS, demo_seed


class Command(BaseCommand):
    help = ("Create the demo users and a demo sprint with tasks, if missing; with DEBUG on, "
            "also the DEV ONLY superuser admin/admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        seed = demo_seed(admin=settings.DEBUG)
        self.stdout.write(
            f"Demo sprint {seed.sprint.pk} ({seed.sprint.name}, ends {seed.sprint.end}); "
            f"{seed.created_tasks} tasks created, users created: "
            f"{', '.join(seed.created_users) or 'none'}.")
        site = settings.SITE_URL
        logins = " or ".join(f"{u} / {p}" for u, p in DEMO_USERS)
        self.stdout.write(self.style.SUCCESS(
            f"Log in at {site}/ as {logins}: one login on the board also opens the "
            f"browsable API ({site}/api/) and its docs ({site}/api/docs/)."))
        if settings.DEBUG:
            self.stdout.write(self.style.WARNING(
                f"The admin ({site}/admin/) needs a staff user: {' / '.join(DEMO_ADMIN)} "
                "(DEV ONLY, made because DEBUG is on: never on a server others can reach)."))
        else:
            self.stdout.write(
                f"The admin ({site}/admin/) needs a staff user: DEBUG is off, so no demo "
                "admin was made; create one with `manage.py createsuperuser`.")
