"""`manage.py seed_demo` creates the demo users and sprint, and is safe to rerun."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from api.board.models import Sprint, Task

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_users_sprint_and_tasks() -> None:
    output = _seed()
    assert "demo / demo" in output
    assert authenticate(username="demo", password="demo") is not None
    assert authenticate(username="ana", password="ana") is not None
    sprint = Sprint.objects.get()
    assert sprint.end > timezone.localdate()
    statuses = set(Task.objects.filter(sprint=sprint).values_list("status", flat=True))
    assert statuses == {"not_started", "in_progress", "testing", "done"}


def test_seed_demo_is_idempotent() -> None:
    _seed()
    counts = (Sprint.objects.count(), Task.objects.count())
    output = _seed()
    assert (Sprint.objects.count(), Task.objects.count()) == counts
    assert "0 tasks created" in output
    assert authenticate(username="demo", password="demo") is not None


def test_seed_demo_says_which_login_opens_which_page(settings) -> None:
    settings.DEBUG = True
    output = _seed()
    assert "/api/docs/" in output
    assert "admin / admin" in output
    assert "DEV ONLY" in output
    admin = authenticate(username="admin", password="admin")
    assert admin is not None
    assert admin.is_staff
    assert admin.is_superuser
    demo = authenticate(username="demo", password="demo")
    assert demo is not None
    assert not demo.is_staff  # demo is a normal user: board, API, docs, not the admin


def test_seed_demo_makes_no_admin_with_debug_off(settings) -> None:
    settings.DEBUG = False
    output = _seed()
    assert authenticate(username="admin", password="admin") is None
    assert "createsuperuser" in output


def test_seed_demo_never_promotes_an_existing_user(settings, django_user_model) -> None:
    django_user_model.objects.create_user("admin", password="mine")
    settings.DEBUG = True
    _seed()
    existing = django_user_model.objects.get(username="admin")
    assert not existing.is_staff
    assert existing.check_password("mine")


def test_seed_demo_goes_through_the_services() -> None:
    from api.realtime.models import OutboxEvent

    _seed()
    sprint = Sprint.objects.get()
    events = list(OutboxEvent.objects.filter(sprint_id=sprint.pk).order_by("seq"))
    tasks = list(Task.objects.filter(sprint=sprint).order_by("pk"))
    assert [(e.action, e.model) for e in events] == (
        [("created", "sprint")] + [("created", "task")] * len(tasks))
    assert [e.object_id for e in events[1:]] == [t.pk for t in tasks]
    today = timezone.localdate()
    for task in tasks:  # the services' date rules filled the dates in
        assert (task.started is not None) == (task.status != "not_started")
        assert (task.completed == today) == (task.status == "done")
    ranks = [t.rank for t in tasks]
    assert all(ranks) and len(set(zip(ranks, [t.status for t in tasks], strict=True))) == 6
