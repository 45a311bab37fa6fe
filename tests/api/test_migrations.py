"""Migration board 0002: existing `order`s become ranks, column by column, in (order, id)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("board", "0001_initial")]
AFTER = [("board", "0002_task_rank_version")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate to `targets`; the historical models there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_orders_become_ranks_per_column() -> None:
    old = _migrate(BEFORE)
    Sprint, Task = old.get_model("board", "Sprint"), old.get_model("board", "Task")
    sprint = Sprint.objects.create(name="S", end="2031-01-01")
    rows = [("late", sprint, "done", 5), ("early", sprint, "done", 1),
            ("tie b", sprint, "done", 3), ("tie a", sprint, "done", 3),
            ("alone", sprint, "testing", 0),
            ("backlog 2", None, "done", 2), ("backlog 1", None, "testing", 1)]
    ids = {name: Task.objects.create(name=name, sprint=s, status=st, order=o).pk
           for name, s, st, o in rows}
    try:
        new = _migrate(AFTER)
        Task = new.get_model("board", "Task")

        def column(sprint_id: int | None, status: str | None = None) -> list[tuple[str, str]]:
            tasks = Task.objects.filter(sprint_id=sprint_id)
            if status:
                tasks = tasks.filter(status=status)
            return list(tasks.order_by("rank").values_list("name", "rank"))

        # Ties of `order` keep id order (tie b was made first).
        assert column(sprint.pk, "done") == [("early", "a0"), ("tie b", "a1"),
                                             ("tie a", "a2"), ("late", "a3")]
        assert column(sprint.pk, "testing") == [("alone", "a0")]
        assert column(None) == [("backlog 1", "a0"), ("backlog 2", "a1")]
        assert set(Task.objects.values_list("version", flat=True)) == {1}
        assert ids["tie b"] < ids["tie a"]
    finally:
        call_command("migrate", verbosity=0)
