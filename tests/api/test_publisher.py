"""Delivery of outbox events to a real HTTP server checking the HMAC (docs/protocol.md §7)."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from api.board import services
from api.board.models import Sprint, Task
from api.realtime.delivery import retry_delay, stop_delivery_thread
from api.realtime.models import OutboxEvent, SprintSequence
from api.realtime.publisher import DeliveryError, deliver_pending
from api.realtime.streams import prune
from api.realtime.transport import Outgoing, post_batch, sign_body
from tests.api.conftest import days, make_sprint, make_task
from tests.api.realtime_stub import RealtimeStub
from tests.servers import TEST_SECRET, free_port, sign


@pytest.fixture
def stub(settings) -> RealtimeStub:
    with RealtimeStub() as running:
        settings.REALTIME_URL = running.url
        yield running


def _pending() -> int:
    return OutboxEvent.objects.filter(delivered_at__isnull=True).count()


def _wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_signature_matches_the_protocol() -> None:
    body = b'{"events":[]}'
    assert sign_body(body, secret=TEST_SECRET, timestamp=1795600000) == sign(
        body, secret=TEST_SECRET, timestamp=1795600000)


@pytest.mark.django_db
def test_events_arrive_in_order_signed(stub: RealtimeStub, sprint: Sprint,
                                       other_sprint: Sprint) -> None:
    task = make_task(name="T", sprint=sprint)
    services.task_move(task=task, actor=None, expected_version=None, sprint=other_sprint)
    assert deliver_pending() == 0
    assert stub.bad_signatures == 0
    got = [(e["sprint"], e["seq"], e["action"], e["model"]) for e in stub.accepted]
    assert got == [(sprint.pk, 1, "created", "sprint"), (sprint.pk, 2, "created", "task"),
                   (sprint.pk, 3, "removed", "task"),
                   (other_sprint.pk, 1, "created", "sprint"), (other_sprint.pk, 2, "added", "task")]
    assert stub.accepted[2]["id"] == task.pk
    assert stub.accepted[2]["data"] == OutboxEvent.objects.get(sprint_id=sprint.pk, seq=3).data
    assert _pending() == 0
    requests = stub.requests
    assert deliver_pending() == 0
    assert stub.requests == requests  # nothing left to send


def _epoch(sprint: Sprint) -> str:
    return SprintSequence.objects.get(sprint_id=sprint.pk).epoch


@pytest.mark.django_db
def test_duplicates_count_as_delivered(stub: RealtimeStub, sprint: Sprint) -> None:
    make_task(name="T", sprint=sprint)
    stub.knows(sprint.pk, 2, _epoch(sprint))  # the server already has both events
    assert deliver_pending() == 0
    assert stub.accepted == []
    assert _pending() == 0


@pytest.mark.django_db
def test_a_gap_is_filled_from_the_outbox(stub: RealtimeStub, sprint: Sprint) -> None:
    """The server lost seq 2 (say, it restarted and took a replayed seq 1 for its start):
    on main the gap was retried forever and the sprint's stream froze."""
    make_task(name="T", sprint=sprint)  # seq 2
    stub.knows(sprint.pk, 1, _epoch(sprint))
    OutboxEvent.objects.filter(seq__in=(1, 2)).update(delivered_at=timezone.now())
    make_task(name="U", sprint=sprint)  # seq 3: the server sees a gap
    assert deliver_pending() == 2  # 2 sent again with 3, as the gap answer's latest says
    assert deliver_pending() == 0
    assert [e["seq"] for e in stub.accepted] == [2, 3]
    assert stub.resyncs == []


@pytest.mark.django_db
def test_a_gap_the_outbox_cannot_fill_restarts_the_history(stub: RealtimeStub,
                                                           sprint: Sprint) -> None:
    make_task(name="T", sprint=sprint)
    stub.knows(sprint.pk, 1, _epoch(sprint))
    OutboxEvent.objects.filter(seq__in=(1, 2)).delete()  # delivered long ago and pruned
    make_task(name="U", sprint=sprint)  # seq 3
    assert deliver_pending() == 1
    assert deliver_pending() == 0
    assert [e["seq"] for e in stub.accepted] == [3]
    assert stub.resyncs == [{"type": "resync", "latest": 3}]  # clients refetch
    assert not SprintSequence.objects.get(sprint_id=sprint.pk).reset_pending
    make_task(name="V", sprint=sprint)
    assert deliver_pending() == 0
    assert [e["seq"] for e in stub.accepted] == [3, 4]


@pytest.mark.django_db
def test_a_database_restored_from_a_backup_starts_a_new_epoch(stub: RealtimeStub,
                                                              sprint: Sprint) -> None:
    """Seqs go back after a restore: on main the server answered `duplicate` to the new
    events, which were marked delivered and never shown to anyone."""
    for name in "abcd":
        make_task(name=name, sprint=sprint)  # seq 2-5
    assert deliver_pending() == 0
    before = _epoch(sprint)
    # The backup was taken at seq 2: what came after is gone from the database.
    OutboxEvent.objects.filter(sprint_id=sprint.pk, seq__gt=2).delete()
    SprintSequence.objects.filter(sprint_id=sprint.pk).update(last_seq=2)
    Task.objects.filter(name__in="bcd").delete()  # (no events: queryset delete)
    make_task(name="after the restore", sprint=sprint)  # seq 3 again
    assert deliver_pending() == 1  # answered duplicate (the server has 5): a new epoch
    assert _epoch(sprint) != before
    assert deliver_pending() == 0
    assert stub.accepted[-1]["seq"] == 3
    assert stub.accepted[-1]["data"]["name"] == "after the restore"
    assert stub.resyncs == [{"type": "resync", "latest": 3}]
    assert stub.history.latest(sprint.pk) == 3


@pytest.mark.django_db
def test_server_down_raises_and_keeps_events(settings, sprint: Sprint) -> None:
    settings.REALTIME_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(DeliveryError, match=f"sprints {sprint.pk}"):
        deliver_pending()
    assert _pending() == 1


@pytest.mark.django_db
def test_bad_secret_is_refused_and_kept(stub: RealtimeStub, settings, sprint: Sprint) -> None:
    settings.REALTIME_SECRET = "another-secret-of-sufficient-length-xx"
    with pytest.raises(DeliveryError, match="401"):
        deliver_pending()
    assert stub.bad_signatures == 1
    assert _pending() == 1


@pytest.mark.django_db
def test_the_same_events_sent_twice_in_one_second_are_no_replay(stub: RealtimeStub,
                                                                sprint: Sprint) -> None:
    """Two delivery paths (the thread, `deliver_events`) may send the same pending events
    in the same second: on main both signed the same bytes and the second was refused as
    a replay (401). Each attempt has a nonce of its own now."""
    make_task(name="T", sprint=sprint)
    outgoing = [Outgoing.of(e, epoch=_epoch(sprint), reset=False)
                for e in OutboxEvent.objects.order_by("seq")]
    first, second = post_batch(outgoing), post_batch(outgoing)
    assert [r["status"] for r in first] == ["accepted", "accepted"]
    assert [r["status"] for r in second] == ["duplicate", "duplicate"]
    assert [e["seq"] for e in stub.accepted] == [1, 2]


@pytest.mark.django_db
def test_log_lines_name_the_sprint(stub: RealtimeStub, sprint: Sprint,
                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="api.realtime"):
        deliver_pending()
    assert caplog.messages == [f"sprint {sprint.pk}: 1 events accepted (seq 1-1)"]


@pytest.mark.django_db
def test_deliver_events_once(stub: RealtimeStub, settings, sprint: Sprint) -> None:
    out = StringIO()
    call_command("deliver_events", "--once", stdout=out)
    assert "drained" in out.getvalue()
    assert [e["seq"] for e in stub.accepted] == [1]
    make_task(name="T", sprint=sprint)
    settings.REALTIME_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SystemExit) as exit_info:
        call_command("deliver_events", "--once", stdout=out, stderr=StringIO())
    assert exit_info.value.code == 1


@pytest.mark.django_db
def test_prune_keeps_recent_and_undelivered(sprint: Sprint) -> None:
    for name in "TUV":
        make_task(name=name, sprint=sprint)
    old = timezone.now() - datetime.timedelta(days=8)
    # Past the event log's retention too (tests/api/test_event_log.py: what it keeps).
    OutboxEvent.objects.update(created_at=timezone.now() - datetime.timedelta(days=31))
    OutboxEvent.objects.filter(seq=1).update(delivered_at=old)
    OutboxEvent.objects.filter(seq=2).update(delivered_at=timezone.now())
    OutboxEvent.objects.filter(seq=3).update(failed_at=old, skipped_at=old)  # skipped
    OutboxEvent.objects.filter(seq=4).update(failed_at=old)  # dead: kept until settled
    assert prune() == 2
    assert sorted(OutboxEvent.objects.values_list("seq", flat=True)) == [2, 4]


def test_retry_backoff_is_full_jitter_under_a_doubling_cap(settings) -> None:
    settings.REALTIME_RETRY_MAX = 5
    top = lambda: 1.0  # noqa: E731 - the top of each window
    assert [retry_delay(n, top) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert retry_delay(30, top) == 5
    assert retry_delay(3, lambda: 0.5) == 0.2
    assert all(0 <= retry_delay(4) <= 0.8 for _ in range(100))


@pytest.mark.django_db(transaction=True)
def test_write_succeeds_while_server_down_then_events_flow(settings) -> None:
    port = free_port()
    settings.REALTIME_URL = f"http://127.0.0.1:{port}"
    settings.REALTIME_DELIVERY_THREAD = True
    settings.REALTIME_RETRY_MAX = 0.3
    try:
        from django.contrib.auth.models import User

        client = APIClient()
        client.force_authenticate(User.objects.create_user("ana"))
        sprint = make_sprint(name="S", end=days(3))
        began = time.monotonic()
        response = client.post("/api/tasks/", {"name": "Offline", "sprint": sprint.pk},
                               format="json")
        assert response.status_code == 201
        assert time.monotonic() - began < 1.5  # never waits on the realtime server
        time.sleep(0.3)  # the delivery thread is failing and backing off meanwhile
        assert _pending() == 2
        with RealtimeStub(port=port) as stub:
            _wait_for(lambda: len(stub.accepted) == 2)
            assert [e["seq"] for e in stub.accepted] == [1, 2]
            assert stub.accepted[1]["data"] == response.json()
            _wait_for(lambda: _pending() == 0)
            # Later commits wake the thread again.
            client.patch(f"/api/tasks/{response.json()['id']}/", {"name": "Back online"},
                         format="json")
            _wait_for(lambda: len(stub.accepted) == 3)
            assert stub.accepted[2]["action"] == "updated"
    finally:
        stop_delivery_thread()
