"""An event the realtime server refuses for good: it dies alone, is seen, and is settled.

Against a real ``watercooler.py``: the dead event's sprint waits while every other sprint's
events flow; it is logged at ERROR, counted in Django's /metrics, listed by ``manage.py
outbox``, and ``skip`` (clients resync) or ``retry`` moves its stream on.
"""

from __future__ import annotations

import ipaddress
import logging
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from api.board.models import Sprint
from api.realtime.models import OutboxEvent
from api.realtime.publisher import deliver_pending
from tests.api.conftest import Watch, frames, make_task, quiet
from tests.api.realtime_stub import RealtimeStub
from tests.servers import RealtimeServer

pytestmark = pytest.mark.django_db

DEEP: dict[str, Any] = {"id": 1}
for _ in range(40):
    DEEP = {"nested": DEEP}  # deeper than the server takes (32): refused, 400


def kill_event(sprint: Sprint, seq: int, data: Any = DEEP) -> None:
    """Make the recorded event one the server must refuse (as if a bug had let it in)."""
    OutboxEvent.objects.filter(sprint_id=sprint.pk, seq=seq).update(data=data)


def metrics(**extra: str) -> tuple[int, dict[str, float]]:
    response = Client().get("/metrics", **extra)
    if response.status_code != 200:
        return response.status_code, {}
    values = {}
    for line in response.content.decode().splitlines():
        if line.startswith("watercooler_outbox"):
            name, _, value = line.partition(" ")
            values[name] = float(value)
    return 200, values


def test_a_refused_event_stops_its_own_sprint_only(
        realtime: RealtimeServer, sprint: Sprint, other_sprint: Sprint, watch: Watch,
        caplog: pytest.LogCaptureFixture) -> None:
    """On main, the refused batch was retried forever and no sprint got anything."""
    mine, theirs = watch(sprint), watch(other_sprint)
    make_task(name="poisoned", sprint=sprint)  # seq 2
    kill_event(sprint, 2)
    make_task(name="after it", sprint=sprint)  # seq 3: must wait
    make_task(name="elsewhere", sprint=other_sprint)  # seq 2
    with caplog.at_level(logging.ERROR, logger="api.realtime"):
        assert deliver_pending() == 1
    assert frames(theirs, 2) == [("event", 1), ("event", 2)]
    assert frames(mine, 1) == [("event", 1)]
    quiet(mine)
    dead = OutboxEvent.objects.get(sprint_id=sprint.pk, seq=2)
    assert dead.failed_at is not None and "400 malformed" in dead.failure
    assert "nested deeper than 32" in dead.failure
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"sprint {sprint.pk}: event seq 2 is dead" in record.getMessage()

    # Seen: Django's /metrics (from the database) and `manage.py outbox`.
    assert metrics() == (200, {"watercooler_outbox_pending_events": 1.0,
                               "watercooler_outbox_dead_events": 1.0,
                               "watercooler_outbox_oldest_pending_age_seconds": pytest.approx(
                                   1, abs=10)})
    out = StringIO()
    call_command("outbox", stdout=out)
    listing = out.getvalue()
    assert f"dead: sprint {sprint.pk} seq 2 (task" in listing
    assert f"manage.py outbox skip {sprint.pk} 2" in listing

    # Settled: skipped, the sprint goes on from seq 3 and its clients refetch.
    call_command("outbox", "skip", str(sprint.pk), "2", stdout=StringIO())
    assert frames(mine, 2) == [("resync", 3), ("event", 3)]
    assert metrics()[1]["watercooler_outbox_dead_events"] == 0
    make_task(name="and on", sprint=sprint)
    assert deliver_pending() == 0
    assert frames(mine, 1) == [("event", 4)]
    quiet(theirs)


def test_a_dead_event_retried_after_its_cause_was_fixed_is_delivered(
        realtime: RealtimeServer, sprint: Sprint, watch: Watch) -> None:
    mine = watch(sprint)
    task = make_task(name="poisoned", sprint=sprint)
    good = OutboxEvent.objects.get(sprint_id=sprint.pk, seq=2).data
    kill_event(sprint, 2)
    make_task(name="after it", sprint=sprint)
    assert deliver_pending() == 1
    assert frames(mine, 1) == [("event", 1)]
    kill_event(sprint, 2, good)  # the cause, fixed
    out = StringIO()
    call_command("outbox", "retry", str(sprint.pk), "2", stdout=out)
    assert f"Retrying sprint {sprint.pk} seq 2 (task {task.pk} created)" in out.getvalue()
    assert "nothing pending, nothing dead" in out.getvalue()
    assert frames(mine, 2) == [("event", 2), ("event", 3)]


def test_an_event_too_large_to_send_dies_without_being_sent(
        realtime: RealtimeServer, sprint: Sprint, other_sprint: Sprint, watch: Watch) -> None:
    """Written before the size guard existed (or around it): on main it was sent, refused
    413, and retried forever, and the sprints after it got nothing."""
    theirs = watch(other_sprint)
    make_task(name="huge", sprint=sprint)
    kill_event(sprint, 2, {"id": 1, "description": "x" * (1024 * 1024)})
    make_task(name="elsewhere", sprint=other_sprint)
    assert deliver_pending() == 0
    assert "too large to send" in OutboxEvent.objects.get(sprint_id=sprint.pk, seq=2).failure
    assert frames(theirs, 2) == [("event", 1), ("event", 2)]
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:  # a cron-style check sees it
        call_command("deliver_events", "--once", stdout=StringIO(), stderr=err)
    assert exit_info.value.code == 1 and "0 events still pending, 1 dead" in err.getvalue()


def test_skip_and_retry_only_take_dead_events(sprint: Sprint) -> None:
    with pytest.raises(Exception, match=f"sprint {sprint.pk} has no dead event seq 1"):
        call_command("outbox", "skip", str(sprint.pk), "1", stdout=StringIO())
    with pytest.raises(Exception, match="has no dead event seq 9"):
        call_command("outbox", "retry", str(sprint.pk), "9", stdout=StringIO())


def test_metrics_are_for_the_allowed_addresses_only(settings: Any, sprint: Sprint) -> None:
    assert metrics()[0] == 200
    assert metrics(REMOTE_ADDR="10.1.2.3")[0] == 403
    assert metrics(HTTP_X_FORWARDED_FOR="127.0.0.1")[0] == 403  # came through a proxy
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]
    assert metrics(REMOTE_ADDR="10.1.2.3")[0] == 200
    assert Client().post("/metrics").status_code == 405


def test_a_batch_too_large_for_the_server_is_halved_until_it_fits(
        settings: Any, sprint: Sprint) -> None:
    with RealtimeStub(max_body=100_000) as stub:
        settings.REALTIME_URL = stub.url
        for n in range(3):
            make_task(name=f"t{n}", sprint=sprint, description="d" * 40_000)
        make_task(name="alone too big", sprint=sprint, description="e" * 120_000)
        assert deliver_pending() == 0
    assert [e["seq"] for e in stub.accepted] == [1, 2, 3, 4]
    assert "413" in OutboxEvent.objects.get(sprint_id=sprint.pk, seq=5).failure
