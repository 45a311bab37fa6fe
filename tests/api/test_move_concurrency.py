"""4 writers x 50 random moves in one sprint at once, through the real HTTP API (PostgreSQL).

The columns end as a strict total order with every card once; every effective move made
exactly one event, rebalances made the only others; and a board rebuilt from the outbox
alone equals what REST shows.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.db import connection, connections
from rest_framework.authtoken.models import Token

from api.board import ranks
from api.board.models import Task
from api.realtime.models import OutboxEvent
from tests.api.conftest import days, make_sprint, make_task

WRITERS = 4
MOVES_EACH = 50
CARDS = 20
STATUSES = [s for s, _ in Task.Status.choices]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="SQLite serialises all writers; row locks only matter on PostgreSQL"),
]


def _writer(base_url: str, token: str, sprint_id: int, seed: int,
            moves: list[tuple[int, httpx.Response]], start: threading.Barrier) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Token {token}"}
    try:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            start.wait()
            for _ in range(MOVES_EACH):
                task_id = rng.choice(list(Task.objects.filter(sprint_id=sprint_id)
                                          .values_list("pk", flat=True)))
                status = rng.choice(STATUSES)
                column = list(Task.objects.filter(sprint_id=sprint_id, status=status)
                              .exclude(pk=task_id).values_list("pk", flat=True))
                after = rng.choice([None, *column])
                body = {"status": status, "after": after}
                moves.append((task_id, http.post(f"/api/tasks/{task_id}/move/", json=body)))
    finally:
        connections.close_all()


def _rebuild(sprint_id: int) -> dict[int, dict[str, Any]]:
    """The sprint's tasks from its events alone, applied in seq order."""
    board: dict[int, dict[str, Any]] = {}
    for event in OutboxEvent.objects.filter(sprint_id=sprint_id, model="task").order_by("seq"):
        if event.action in ("created", "updated", "added"):
            board[event.object_id] = event.data
        else:
            board.pop(event.object_id, None)
    return board


@pytest.mark.django_db(transaction=True)
def test_random_concurrent_moves_keep_one_order_and_one_event_each(
        live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every key with a fraction (a move between two cards) rebalances its column, so the
    # run exercises rebalancing under concurrency (tens of them) besides plain moves.
    monkeypatch.setattr(ranks, "REBALANCE_LENGTH", 2)
    sprint = make_sprint("Busy", days(5))
    for n in range(CARDS):
        make_task(f"card {n}", sprint=sprint, status=STATUSES[n % len(STATUSES)])
    users = [User.objects.create_user(f"writer{n}", password="pw") for n in range(WRITERS)]
    tokens = [Token.objects.create(user=u).key for u in users]
    first_seq = OutboxEvent.objects.filter(sprint_id=sprint.pk).count()
    rebalances = ranks.rebalance_count()

    start = threading.Barrier(WRITERS)
    results: list[list[tuple[int, httpx.Response]]] = [[] for _ in range(WRITERS)]
    threads = [threading.Thread(target=_writer, args=(live_server.url, tokens[n], sprint.pk,
                                                      n, results[n], start))
               for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    moves = [m for writer in results for m in writer]
    assert len(moves) == WRITERS * MOVES_EACH
    codes = Counter(response.status_code for _, response in moves)
    assert set(codes) <= {200, 400}, codes
    for _, response in moves:  # a 400 is a stale `after` (it moved meanwhile), nothing else
        if response.status_code == 400:
            assert set(response.json()["fields"]) == {"after"}, response.json()

    tasks = list(Task.objects.filter(sprint=sprint))
    assert len(tasks) == CARDS
    for status in STATUSES:
        keys = [t.rank for t in tasks if t.status == status]
        assert len(set(keys)) == len(keys), f"tie in {status}: {sorted(keys)}"

    new_events = list(OutboxEvent.objects.filter(sprint_id=sprint.pk, seq__gt=first_seq)
                      .order_by("seq"))
    assert [e.seq for e in new_events] == list(range(first_seq + 1, first_seq + 1 +
                                                     len(new_events)))
    assert all(e.action == "updated" for e in new_events)
    # Every (task, version) appears in exactly one event; an effective move is one of them.
    stamped = Counter((e.object_id, e.data["version"]) for e in new_events)
    assert max(stamped.values()) == 1
    effective = {(task_id, r.json()["version"]) for task_id, r in moves
                 if r.status_code == 200}
    effective = {(t, v) for t, v in effective if v > 1}  # version 1: a move that changed nothing
    assert effective <= set(stamped)
    by_rebalance = len(stamped) - len(effective)
    assert (by_rebalance > 0) == (ranks.rebalance_count() > rebalances)
    for task in tasks:  # no version skipped, none stamped twice
        versions = sorted(v for t, v in stamped if t == task.pk)
        assert versions == list(range(task.version - len(versions) + 1, task.version + 1))

    rebuilt = _rebuild(sprint.pk)
    with httpx.Client(base_url=live_server.url, timeout=30,
                      headers={"Authorization": f"Token {tokens[0]}"}) as http:
        rest = http.get("/api/tasks/", params={"sprint": sprint.pk, "page_size": 100}).json()
    assert rebuilt == {t["id"]: t for t in rest["results"]}
