"""Demo data for `make run`: two users, a dev-only admin and a sprint with tasks. Idempotent.

The sprint and its tasks are made through the services, so a running board hears of them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from api.board import services
from api.board.models import Sprint, Task

DEMO_USERS = (("demo", "demo"), ("ana", "ana"))
# DEV ONLY: a superuser with a published password, for the admin (/admin/), which needs
# a staff user. Created only when asked (seed_demo asks when DEBUG is on).
DEMO_ADMIN = ("admin", "admin")
DEMO_SPRINT_NAME = "Demo sprint"
DEMO_TASKS = (
    ("Sketch the board layout", Task.Status.DONE),
    ("Write the REST API", Task.Status.TESTING),
    ("Realtime events", Task.Status.IN_PROGRESS),
    ("Drag and drop between columns", Task.Status.IN_PROGRESS),
    ("Presence avatars", Task.Status.NOT_STARTED),
    ("Write the docs", Task.Status.NOT_STARTED),
)


@dataclass(frozen=True)
class DemoSeed:
    sprint: Sprint
    created_users: list[str]
    created_tasks: int


@transaction.atomic
def demo_seed(*, admin: bool = False) -> DemoSeed:
    """Create what is missing of the demo users, sprint and tasks (and with `admin`, the
    DEV ONLY superuser); change nothing else, not even an existing user's rights."""
    User = get_user_model()
    created_users = []
    users = []
    for username, password in (*DEMO_USERS, *([DEMO_ADMIN] if admin else [])):
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password)
            user.is_staff = user.is_superuser = (username, password) == DEMO_ADMIN
            user.save()
            created_users.append(username)
        if (username, password) != DEMO_ADMIN:
            users.append(user)
    today = timezone.localdate()
    sprint = Sprint.objects.filter(name=DEMO_SPRINT_NAME, end__gte=today).first()
    if sprint is None:
        end = today + datetime.timedelta(days=14)
        while Sprint.objects.filter(end=end).exists():  # `end` is unique
            end += datetime.timedelta(days=1)
        sprint = services.sprint_create(actor=None, name=DEMO_SPRINT_NAME, end=end,
                                        description="Two weeks to ship Watercooler.")
    created_tasks = 0
    for number, (name, status) in enumerate(DEMO_TASKS):
        if Task.objects.filter(sprint=sprint, name=name).exists():
            continue
        # The services' date rules set `started` and `completed` from the status.
        services.task_create(actor=None, sprint=sprint, name=name, status=str(status),
                             assigned=users[number % len(users)])
        created_tasks += 1
    return DemoSeed(sprint=sprint, created_users=created_users, created_tasks=created_tasks)
