"""The services: columns, rebalancing, sprint deletion, versions; ORM writes record nothing."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError

from api.board import ranks, services
from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent
from tests.api.conftest import days, make_sprint, make_task

pytestmark = pytest.mark.django_db


def _names(sprint: Sprint | None, status: str = "not_started") -> list[str]:
    tasks = Task.objects.filter(sprint=sprint)
    if sprint is not None:
        tasks = tasks.filter(status=status)
    return [t.name for t in tasks.order_by("rank", "id")]


def _actions(sprint: Sprint, since: int = 0) -> list[tuple[str, int]]:
    return list(OutboxEvent.objects.filter(sprint_id=sprint.pk, seq__gt=since).order_by("seq")
                .values_list("action", "object_id"))


def test_plain_orm_writes_record_no_event(sprint: Sprint) -> None:
    before = OutboxEvent.objects.count()
    task = Task.objects.create(name="raw", sprint=sprint, rank="a0")
    task.name = "still raw"
    task.save()
    task.delete()
    Sprint.objects.create(name="raw", end=days(40)).delete()
    assert OutboxEvent.objects.count() == before


def test_create_appends_and_a_new_column_is_entered_at_the_bottom(sprint: Sprint) -> None:
    for name in "abc":
        make_task(name, sprint=sprint)
    make_task("t", sprint=sprint, status="testing")
    assert _names(sprint) == ["a", "b", "c"]
    a = Task.objects.get(name="a")
    services.task_update(task=a, actor=None, expected_version=None,
                         changes={"status": "testing"})
    assert _names(sprint, "testing") == ["t", "a"]
    b = Task.objects.get(name="b")
    rank = b.rank
    services.task_update(task=b, actor=None, expected_version=None, changes={"name": "B"})
    assert Task.objects.get(pk=b.pk).rank == rank  # same column: same place


def test_unknown_fields_and_stale_versions_change_nothing(task: Task) -> None:
    with pytest.raises(ValidationError) as refused:
        services.task_update(task=task, actor=None, expected_version=None,
                             changes={"order": 3})
    assert refused.value.message_dict == {"order": ["Unknown field."]}
    with pytest.raises(services.VersionConflict) as conflict:
        services.task_update(task=task, actor=None, expected_version=7,
                             changes={"name": "x"})
    assert conflict.value.current.version == 1
    assert str(conflict.value) == "The task changed since version 7 (now 1)."
    assert Task.objects.get(pk=task.pk).name == "Write tests"


def test_keys_too_long_rebalance_the_column_with_events(
        sprint: Sprint, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    tasks = [make_task(name, sprint=sprint) for name in "abcde"]
    monkeypatch.setattr(ranks, "REBALANCE_LENGTH", 2)  # any key with a fraction is too long
    since = OutboxEvent.objects.filter(sprint_id=sprint.pk).count()
    count = ranks.rebalance_count()
    with caplog.at_level(logging.INFO, logger="api.board.ranks"):
        moved = services.task_move(task=tasks[4], actor=None, expected_version=None,
                                   after=tasks[0])
    assert _names(sprint) == ["a", "e", "b", "c", "d"]
    assert ranks.rebalance_count() == count + 1
    assert f"rank rebalance #{count + 1}: sprint {sprint.pk} column not_started" in caplog.text
    stored = {t.name: t for t in Task.objects.filter(sprint=sprint)}
    assert [stored[n].rank for n in "aebcd"] == ranks.spread(5)
    # The move's event first, then one `updated` per task whose key changed (b, c, d).
    events = _actions(sprint, since)
    assert events == [("updated", t.pk) for t in (tasks[4], tasks[1], tasks[2], tasks[3])]
    assert [stored[n].version for n in "abcde"] == [1, 2, 2, 2, 2]
    assert moved.rank == stored["e"].rank


def test_a_broken_key_is_repaired_by_a_rebalance(sprint: Sprint) -> None:
    tasks = [make_task(name, sprint=sprint) for name in "abc"]
    Task.objects.filter(pk=tasks[1].pk).update(rank="a0~")  # written around the services
    services.task_move(task=tasks[2], actor=None, expected_version=None, after=tasks[0])
    ranked = list(Task.objects.filter(sprint=sprint).order_by("rank"))
    assert [t.name for t in ranked] == ["a", "c", "b"]
    assert [t.rank for t in ranked] == ranks.spread(3)


def test_backlog_rebalance_records_no_event(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = [make_task(name) for name in "abc"]
    monkeypatch.setattr(ranks, "REBALANCE_LENGTH", 2)
    services.task_move(task=tasks[2], actor=None, expected_version=None, after=tasks[0])
    assert _names(None) == ["a", "c", "b"]
    assert not OutboxEvent.objects.filter(model="task").exists()


def test_deleting_a_sprint_moves_its_tasks_to_the_bottom_of_the_backlog(sprint: Sprint) -> None:
    old = make_task("old")
    for name, status in [("done", "done"), ("todo 1", "not_started"), ("todo 2", "not_started"),
                         ("test", "testing")]:
        make_task(name, sprint=sprint, status=status)
    since = OutboxEvent.objects.filter(sprint_id=sprint.pk).count()
    services.sprint_delete(sprint=sprint, actor=None, expected_version=1)
    assert _names(None) == ["old", "todo 1", "todo 2", "test", "done"]
    moved = Task.objects.exclude(pk=old.pk)
    assert {t.version for t in moved} == {2} and old.version == 1
    assert _actions(sprint, since) == [("deleted", sprint.pk)]


def test_sprint_versions(sprint: Sprint) -> None:
    updated = services.sprint_update(sprint=sprint, actor=None, expected_version=1,
                                     changes={"name": "Renamed"})
    assert updated.version == 2
    same = services.sprint_update(sprint=sprint, actor=None, expected_version=2,
                                  changes={"name": "Renamed"})
    assert same.version == 2
    with pytest.raises(services.VersionConflict):
        services.sprint_delete(sprint=sprint, actor=None, expected_version=1)
    assert Sprint.objects.filter(pk=sprint.pk).exists()


def test_moving_into_an_ended_sprint_is_refused(task: Task, ended_sprint: Sprint) -> None:
    with pytest.raises(ValidationError) as refused:
        services.task_move(task=task, actor=None, expected_version=None, sprint=ended_sprint)
    assert set(refused.value.message_dict) == {"sprint"}
    make_sprint("later", days(50))  # unrelated sprints do not matter
    assert Task.objects.get(pk=task.pk).sprint_id == task.sprint_id


def test_services_refuse_a_bad_status_whoever_calls(task: Task) -> None:
    for write in (lambda: services.task_create(actor=None, name="x", status="blocked"),
                  lambda: services.task_update(task=task, actor=None, expected_version=None,
                                               changes={"status": "blocked"}),
                  lambda: services.task_move(task=task, actor=None, expected_version=None,
                                             status="blocked")):
        with pytest.raises(ValidationError) as refused:
            write()
        assert set(refused.value.message_dict) == {"status"}
    assert Task.objects.get().status == "not_started"
