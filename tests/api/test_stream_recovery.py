"""A realtime server whose history went wrong resynchronises from Django's outbox.

Against a real ``watercooler.py``: Django's outbox is the source of truth, so whatever the
server's history holds (a stale event it took for a start, nothing at all, a later seq
than this database ever gave), the sprint's stream goes on and no event is lost in silence.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from api.board.models import Sprint
from api.realtime.models import OutboxEvent, SprintSequence
from api.realtime.publisher import deliver_pending
from tests.api.conftest import Watch, frames, make_task, quiet
from tests.servers import RealtimeServer, events_body
from tests.signaling.conftest import post_events

pytestmark = pytest.mark.django_db


def test_a_history_poisoned_after_a_restart_is_refilled_from_the_outbox(
        realtime: RealtimeServer, sprint: Sprint, watch: Watch) -> None:
    """The server restarted and then took an old event for the sprint's start (a replay
    it could not recognise): on main the sprint's next event answered ``gap`` forever."""
    for name in "abc":
        make_task(name=name, sprint=sprint)  # seq 2-4
    assert deliver_pending() == 0
    realtime.stop()
    realtime.start()
    client = watch(sprint)
    stale = OutboxEvent.objects.get(sprint_id=sprint.pk, seq=2)
    epoch = SprintSequence.objects.get(sprint_id=sprint.pk).epoch
    body = events_body([{**stale.to_wire(), "epoch": epoch}])
    status, answer = post_events(realtime, body=body)  # freshly signed: no replay to refuse
    assert (status, answer["results"][0]["status"]) == (200, "accepted"), answer
    assert frames(client, 1) == [("event", 2)]
    make_task(name="d", sprint=sprint)  # seq 5: the server misses 3 and 4
    assert deliver_pending() == 3  # answered gap after 2: 3 and 4 go again, with 5
    assert deliver_pending() == 0
    assert frames(client, 3) == [("event", 3), ("event", 4), ("event", 5)]
    quiet(client)


def test_a_realtime_server_that_restarted_empty_just_takes_the_next_event(
        realtime: RealtimeServer, sprint: Sprint, watch: Watch) -> None:
    make_task(name="a", sprint=sprint)
    assert deliver_pending() == 0
    realtime.stop()
    realtime.start()
    client = watch(sprint)
    make_task(name="b", sprint=sprint)
    assert deliver_pending() == 0
    assert frames(client, 1) == [("event", 3)]
    quiet(client)



def test_after_restoring_a_backup_new_epoch_makes_every_client_refetch(
        realtime: RealtimeServer, sprint: Sprint, watch: Watch) -> None:
    """The database went back to seq 2 while the realtime server forgot everything (it
    restarted): nothing can tell a client holding seq 5 that seq 3 is new, unless the
    sprint's stream restarts. ``manage.py outbox new-epoch`` makes it so."""
    for name in "abcd":
        make_task(name=name, sprint=sprint)  # seq 2-5
    assert deliver_pending() == 0
    realtime.stop()
    realtime.start()
    OutboxEvent.objects.filter(sprint_id=sprint.pk, seq__gt=2).delete()  # the restore
    SprintSequence.objects.filter(sprint_id=sprint.pk).update(last_seq=2)
    before = SprintSequence.objects.get(sprint_id=sprint.pk).epoch
    out = StringIO()
    call_command("outbox", "new-epoch", stdout=out)
    assert "1 sprint streams start a new epoch" in out.getvalue()
    assert SprintSequence.objects.get(sprint_id=sprint.pk).epoch != before
    client = watch(sprint)
    make_task(name="after the restore", sprint=sprint)  # seq 3 again
    assert deliver_pending() == 0
    assert frames(client, 2) == [("resync", 3), ("event", 3)]
    make_task(name="and on", sprint=sprint)
    assert deliver_pending() == 0
    assert frames(client, 1) == [("event", 4)]
