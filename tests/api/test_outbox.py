"""Outbox: one event per write, in the write's transaction, with gap-free per-sprint seqs."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient

from api.board import services
from api.board.models import Sprint, Task
from api.realtime.models import OutboxEvent
from api.realtime.outbox import MAX_EVENT_BYTES, encode_event, latest_seq, record_event
from tests.api.conftest import days, make_sprint, make_task

pytestmark = pytest.mark.django_db


def _update(task: Task, **changes: object) -> Task:
    return services.task_update(task=task, actor=None, expected_version=None, changes=changes)


def _stream(sprint_id: int) -> list[tuple[int, str, str, int]]:
    return list(OutboxEvent.objects.filter(sprint_id=sprint_id).order_by("seq")
                .values_list("seq", "action", "model", "object_id"))


def test_sprint_lifecycle_events() -> None:
    sprint = make_sprint(name="S", end=days(3))
    services.sprint_update(sprint=sprint, actor=None, expected_version=None,
                           changes={"name": "S2"})
    sprint_id = sprint.pk
    services.sprint_delete(sprint=sprint, actor=None, expected_version=None)
    assert _stream(sprint_id) == [(1, "created", "sprint", sprint_id),
                                  (2, "updated", "sprint", sprint_id),
                                  (3, "deleted", "sprint", sprint_id)]
    assert OutboxEvent.objects.get(sprint_id=sprint_id, seq=3).data is None


def test_task_lifecycle_events(sprint: Sprint) -> None:
    task = make_task(name="T", sprint=sprint)
    services.task_update(task=task, actor=None, expected_version=None,
                         changes={"status": "in_progress"})
    task_id = task.pk
    services.task_delete(task=task, actor=None, expected_version=None)
    assert _stream(sprint.pk)[1:] == [(2, "created", "task", task_id),
                                      (3, "updated", "task", task_id),
                                      (4, "deleted", "task", task_id)]


def test_move_between_sprints_is_removed_then_added(sprint: Sprint, other_sprint: Sprint,
                                                    client: APIClient) -> None:
    task = make_task(name="T", sprint=sprint)
    response = client.patch(f"/api/tasks/{task.pk}/", {"sprint": other_sprint.pk}, format="json")
    removed = OutboxEvent.objects.get(sprint_id=sprint.pk, action="removed")
    added = OutboxEvent.objects.get(sprint_id=other_sprint.pk, action="added")
    assert (removed.seq, added.seq) == (3, 2)
    assert removed.data == added.data == response.json()
    assert removed.data["sprint"] == other_sprint.pk


def test_backlog_has_no_stream(sprint: Sprint) -> None:
    task = make_task(name="Someday")
    _update(task, name="Someday, maybe")
    assert not OutboxEvent.objects.filter(model="task").exists()
    _update(task, sprint=sprint)
    _update(task, sprint=None)
    services.task_delete(task=task, actor=None, expected_version=None)
    assert [a for _, a, _, _ in _stream(sprint.pk)] == ["created", "added", "removed"]


def test_rollback_records_nothing_and_burns_no_seq(sprint: Sprint) -> None:
    before = (OutboxEvent.objects.count(), latest_seq(sprint.pk))
    with pytest.raises(RuntimeError), transaction.atomic():
        make_task(name="Doomed", sprint=sprint)
        assert latest_seq(sprint.pk) == before[1] + 1  # visible inside the transaction
        raise RuntimeError("roll back")
    assert not Task.objects.filter(name="Doomed").exists()
    assert (OutboxEvent.objects.count(), latest_seq(sprint.pk)) == before
    task = make_task(name="Next", sprint=sprint)
    assert _stream(sprint.pk)[-1] == (before[1] + 1, "created", "task", task.pk)


def test_failed_event_write_rolls_back_the_change(task: Task) -> None:
    # Occupy the seq the next event would take: recording fails, so must the save.
    OutboxEvent.objects.create(sprint_id=task.sprint_id, seq=latest_seq(task.sprint_id) + 1,
                               action="updated", model="task", object_id=task.pk)
    with pytest.raises(IntegrityError):
        _update(task, name="Renamed")
    task.refresh_from_db()
    assert task.name == "Write tests"


def test_service_calls_outside_requests_record_events_with_site_url(settings) -> None:
    settings.SITE_URL = "https://board.example.org"

    def command_like_job() -> int:  # what a management command does: call the services
        sprint = make_sprint(name="Batch", end=days(5))
        for i in range(3):
            make_task(name=f"job {i}", sprint=sprint)
        return sprint.pk

    sprint_id = command_like_job()
    assert [seq for seq, *_ in _stream(sprint_id)] == [1, 2, 3, 4]
    first_task = OutboxEvent.objects.get(sprint_id=sprint_id, seq=2).data
    assert first_task["links"]["self"].startswith("https://board.example.org/api/tasks/")


def test_event_data_equals_api_representation(client: APIClient, task: Task) -> None:
    response = client.patch(f"/api/tasks/{task.pk}/", {"name": "Renamed", "status": "done"},
                            format="json")
    event = OutboxEvent.objects.filter(sprint_id=task.sprint_id).latest("seq")
    assert (event.action, event.model, event.object_id) == ("updated", "task", task.pk)
    assert response.json() == event.data


def test_sprint_event_data_equals_api_representation(client: APIClient) -> None:
    response = client.post("/api/sprints/", {"name": "New", "end": str(days(30))},
                           format="json")
    body = response.json()
    event = OutboxEvent.objects.get(sprint_id=body["id"])
    assert event.data == body
    assert body["seq"] == event.seq == 1
    patched = client.patch(f"/api/sprints/{body['id']}/", {"name": "Newer"}, format="json")
    assert OutboxEvent.objects.get(sprint_id=body["id"], seq=2).data == patched.json()


def test_api_writes_one_event_each(client: APIClient, sprint: Sprint) -> None:
    created = client.post("/api/tasks/", {"name": "a", "sprint": sprint.pk}, format="json")
    task_id = created.json()["id"]
    client.patch(f"/api/tasks/{task_id}/", {"description": "more"}, format="json")
    client.put(f"/api/tasks/{task_id}/", {"name": "b", "sprint": sprint.pk}, format="json")
    client.delete(f"/api/tasks/{task_id}/")
    assert [a for _, a, _, _ in _stream(sprint.pk)] == ["created", "created", "updated",
                                                        "updated", "deleted"]


def test_refused_write_records_nothing(client: APIClient, task: Task) -> None:
    before = OutboxEvent.objects.count()
    client.patch(f"/api/tasks/{task.pk}/", {"status": "bogus"}, format="json")
    assert OutboxEvent.objects.count() == before


def test_seqs_are_gap_free_per_sprint(sprint: Sprint, other_sprint: Sprint) -> None:
    tasks = [make_task(name=f"t{i}", sprint=(sprint, other_sprint)[i % 2])
             for i in range(6)]
    for task in tasks:
        _update(task, sprint=other_sprint if task.sprint == sprint else sprint)
    for s in (sprint, other_sprint):
        seqs = [seq for seq, *_ in _stream(s.pk)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert latest_seq(s.pk) == len(seqs)


# --- events that could never be delivered are refused where they are recorded -------------


def test_a_change_whose_event_is_too_large_is_refused_and_nothing_is_saved(
        sprint: Sprint) -> None:
    """On main it was recorded, then refused by the realtime server (413) forever."""
    before = (OutboxEvent.objects.count(), latest_seq(sprint.pk), Task.objects.count())
    with pytest.raises(ValidationError) as info:
        make_task(name="Huge", sprint=sprint, description="x" * (MAX_EVENT_BYTES + 1))
    assert list(info.value.detail) == ["description"]
    assert "too large to publish" in str(info.value.detail["description"][0])
    assert (OutboxEvent.objects.count(), latest_seq(sprint.pk), Task.objects.count()) == before


def test_the_api_answers_400_naming_the_field(client: APIClient, task: Task) -> None:
    before = OutboxEvent.objects.count()
    response = client.patch(f"/api/tasks/{task.pk}/", {"description": "é" * 140_000},
                            format="json")  # 280 KB of UTF-8
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and list(body["fields"]) == ["description"]
    assert body["message"].startswith("description: ")
    task.refresh_from_db()
    assert task.description == "" and OutboxEvent.objects.count() == before


def test_an_event_too_large_through_no_one_field_is_refused_as_a_whole(
        sprint: Sprint) -> None:
    fields = {f"field{n}": "y" * 20_000 for n in range(14)}  # 280 KB, 20 KB each
    with pytest.raises(ValidationError) as info:
        record_event(sprint_id=sprint.pk, action="updated", model="sprint",
                     object_id=sprint.pk, serialize=lambda: fields)
    assert list(info.value.detail) == ["non_field_errors"]


def test_an_event_at_the_limit_is_recorded(sprint: Sprint) -> None:
    event = record_event(sprint_id=sprint.pk, action="updated", model="sprint",
                         object_id=sprint.pk, serialize=lambda: {"d": "z" * 200_000})
    assert len(encode_event(event.to_wire())) <= MAX_EVENT_BYTES
    assert OutboxEvent.objects.filter(pk=event.pk).exists()
