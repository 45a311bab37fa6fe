"""`manage.py seed_demo`: demo users (demo/demo, ana/ana) and a demo sprint. Safe to rerun."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from api.board.demo import DEMO_USERS, demo_seed


class Command(BaseCommand):
    help = "Create the demo users and a demo sprint with tasks, if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        seed = demo_seed()
        self.stdout.write(
            f"Demo sprint {seed.sprint.pk} ({seed.sprint.name}, ends {seed.sprint.end}); "
            f"{seed.created_tasks} tasks created, users created: "
            f"{', '.join(seed.created_users) or 'none'}.")
        logins = ", ".join(f"{u} / {p}" for u, p in DEMO_USERS)
        self.stdout.write(self.style.SUCCESS(f"Log in at {settings.SITE_URL}/ as {logins}"))
