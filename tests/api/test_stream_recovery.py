"""A realtime server whose history went wrong resynchronises from Django's outbox.

Against a real ``watercooler.py``: Django's outbox is the source of truth, so whatever the
server's history holds (a stale event it took for a start, nothing at all, a later seq
than this database ever gave), the sprint's stream goes on and no event is lost in silence.
"""

from __future__ import annotations

import pytest

from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent, SprintSequence
from api.realtime.publisher import deliver_pending
from tests.api.conftest import Watch, frames, quiet
from tests.servers import RealtimeServer, events_body
from tests.signaling.conftest import post_events

pytestmark = pytest.mark.django_db


def test_a_history_poisoned_after_a_restart_is_refilled_from_the_outbox(
        realtime: RealtimeServer, sprint: Sprint, watch: Watch) -> None:
    """The server restarted and then took an old event for the sprint's start (a replay
    it could not recognise): on main the sprint's next event answered ``gap`` forever."""
    for name in "abc":
        Task.objects.create(name=name, sprint=sprint)  # seq 2-4
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
    Task.objects.create(name="d", sprint=sprint)  # seq 5: the server misses 3 and 4
    assert deliver_pending() == 3  # answered gap after 2: 3 and 4 go again, with 5
    assert deliver_pending() == 0
    assert frames(client, 3) == [("event", 3), ("event", 4), ("event", 5)]
    quiet(client)


def test_a_realtime_server_that_restarted_empty_just_takes_the_next_event(
        realtime: RealtimeServer, sprint: Sprint, watch: Watch) -> None:
    Task.objects.create(name="a", sprint=sprint)
    assert deliver_pending() == 0
    realtime.stop()
    realtime.start()
    client = watch(sprint)
    Task.objects.create(name="b", sprint=sprint)
    assert deliver_pending() == 0
    assert frames(client, 1) == [("event", 3)]
    quiet(client)

