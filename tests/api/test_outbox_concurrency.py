"""Concurrent writers of one sprint get seqs 1..n with no gap and no duplicate (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from api.board import services
from api.realtime.models import OutboxEvent
from tests.api.conftest import days, make_sprint, make_task

WRITERS = 6
UPDATES_EACH = 5

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="SQLite serialises all writers; row locks only matter on PostgreSQL"),
]


@pytest.mark.django_db(transaction=True)
def test_concurrent_task_updates_get_gap_free_seqs() -> None:
    sprint = make_sprint(name="Busy", end=days(5))
    tasks = [make_task(name=f"task {i}", sprint=sprint) for i in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(task_id: int) -> None:
        try:
            start.wait()
            for n in range(UPDATES_EACH):
                services.task_update(task=task_id, actor=None, expected_version=None,
                                     changes={"name": f"update {n + 1}"})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(t.pk,)) for t in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    seqs = list(OutboxEvent.objects.filter(sprint_id=sprint.pk).order_by("seq")
                .values_list("seq", flat=True))
    total = 1 + WRITERS + WRITERS * UPDATES_EACH  # sprint created, tasks created, updates
    assert seqs == list(range(1, total + 1))
