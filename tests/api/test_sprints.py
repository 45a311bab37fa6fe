"""Sprint CRUD over REST, its `seq` field and unique end date."""

from __future__ import annotations

from rest_framework.test import APIClient

from api.board.models import Sprint, Task
from api.realtime.outbox import latest_seq
from tests.api.conftest import days, make_task


def test_create_sprint(client: APIClient) -> None:
    response = client.post("/api/sprints/", {"name": "Launch", "end": str(days(10))},
                           format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    sprint = Sprint.objects.get(pk=body["id"])
    assert (sprint.name, sprint.end) == ("Launch", days(10))
    assert body["seq"] == 1  # its own `created` event


def test_list_and_retrieve_sprints(client: APIClient, sprint: Sprint, other_sprint: Sprint) -> None:
    listed = client.get("/api/sprints/").json()
    assert [s["id"] for s in listed["results"]] == [sprint.pk, other_sprint.pk]
    detail = client.get(f"/api/sprints/{sprint.pk}/").json()
    assert detail["name"] == "Sprint 1"
    assert detail["end"] == str(days(7))


def test_seq_is_the_latest_event_seq(client: APIClient, sprint: Sprint) -> None:
    make_task(name="a", sprint=sprint)
    make_task(name="b", sprint=sprint)
    assert latest_seq(sprint.pk) == 3
    assert client.get(f"/api/sprints/{sprint.pk}/").json()["seq"] == 3
    assert client.get("/api/sprints/").json()["results"][0]["seq"] == 3


def test_seq_is_zero_without_events(client: APIClient, sprint: Sprint) -> None:
    from api.realtime.models import SprintSequence

    SprintSequence.objects.all().delete()
    assert client.get(f"/api/sprints/{sprint.pk}/").json()["seq"] == 0
    assert client.get("/api/sprints/").json()["results"][0]["seq"] == 0


def test_update_sprint(client: APIClient, sprint: Sprint) -> None:
    response = client.patch(f"/api/sprints/{sprint.pk}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    assert response.json()["seq"] == 2
    sprint.refresh_from_db()
    assert sprint.name == "Renamed"


def test_put_back_what_was_fetched(client: APIClient, sprint: Sprint) -> None:
    fetched = client.get(f"/api/sprints/{sprint.pk}/").json()
    fetched["description"] = "Now with a goal"
    response = client.put(f"/api/sprints/{sprint.pk}/", fetched, format="json")
    assert response.status_code == 200, response.json()
    sprint.refresh_from_db()
    assert sprint.description == "Now with a goal"


def test_delete_sprint_moves_its_tasks_to_the_backlog(client: APIClient, task: Task) -> None:
    response = client.delete(f"/api/sprints/{task.sprint_id}/")
    assert response.status_code == 204
    assert not Sprint.objects.exists()
    task.refresh_from_db()
    assert task.sprint is None


def test_end_date_is_unique(client: APIClient, sprint: Sprint) -> None:
    response = client.post("/api/sprints/", {"name": "Twin", "end": str(sprint.end)},
                           format="json")
    assert response.status_code == 400
    assert "end" in response.json()["fields"]
    assert Sprint.objects.count() == 1


def test_missing_sprint_is_404_json(client: APIClient) -> None:
    response = client.get("/api/sprints/999/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
