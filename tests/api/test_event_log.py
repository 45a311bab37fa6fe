"""`GET /api/sprints/<id>/events/?since=<seq>`: the sprint's committed events, in order,
paginated, kept EVENT_LOG_RETENTION_DAYS; 410 with the oldest seq once they are gone."""

from __future__ import annotations

import datetime
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from api.board import services
from api.board.models import Sprint
from api.realtime.models import OutboxEvent
from api.realtime.streams import prune
from tests.api.conftest import make_task

pytestmark = pytest.mark.django_db


def _log(client: APIClient, sprint: Sprint | int, **query: Any) -> Any:
    pk = sprint.pk if isinstance(sprint, Sprint) else sprint
    return client.get(f"/api/sprints/{pk}/events/", query)


def _seqs(body: dict[str, Any]) -> list[int]:
    return [e["seq"] for e in body["results"]]


@pytest.fixture
def seven(sprint: Sprint, user: Any) -> Sprint:
    """The sprint with seq 1 (its creation) and six task events after it, ana's."""
    for name in "abc":
        task = services.task_create(actor=user, name=name, sprint=sprint)
        services.task_update(task=task, actor=user, expected_version=None,
                             changes={"name": name.upper()})
    return sprint


def test_events_come_in_seq_order_as_the_websocket_frames_plus_when(
        client: APIClient, seven: Sprint, user: Any) -> None:
    response = _log(client, seven, since=0)
    assert response.status_code == 200, response.content
    body = response.json()
    assert _seqs(body) == [1, 2, 3, 4, 5, 6, 7]
    assert (body["count"], body["next"], body["previous"], body["latest"]) == (7, None, None, 7)
    event = body["results"][-1]
    task = client.get(f"/api/tasks/{event['id']}/").json()
    task["links"] = event["data"]["links"]  # made outside a request: SITE_URL's host
    at = event.pop("at")
    assert event == {"type": "event", "sprint": seven.pk, "seq": 7, "action": "updated",
                     "model": "task", "id": task["id"], "data": task,
                     "actor": {"id": user.pk, "username": "ana"}}
    assert abs(datetime.datetime.fromisoformat(at) - timezone.now()) < datetime.timedelta(
        minutes=5)
    assert body["results"][0]["actor"] is None  # the sprint fixture: made by the system


def test_since_reads_what_comes_after_it(client: APIClient, seven: Sprint) -> None:
    assert _seqs(_log(client, seven, since=4).json()) == [5, 6, 7]
    latest = _log(client, seven, since=7).json()
    assert (latest["results"], latest["count"], latest["next"]) == ([], 0, None)


def test_pages_follow_next_to_the_end(client: APIClient, seven: Sprint) -> None:
    page = _log(client, seven, since=1, page_size=2).json()
    seen, counts = _seqs(page), [page["count"]]
    while page["next"]:
        assert "page_size=2" in page["next"]
        page = client.get(page["next"]).json()
        seen += _seqs(page)
        counts.append(page["count"])
    assert seen == [2, 3, 4, 5, 6, 7]
    assert counts == [6, 4, 2]
    assert page["previous"].endswith(f"/api/sprints/{seven.pk}/events/?since=3&page_size=2")


def test_page_size_is_capped_at_100(client: APIClient, sprint: Sprint) -> None:
    for i in range(110):
        make_task(f"t{i}", sprint=sprint)
    page = _log(client, sprint, since=0, page_size=1000).json()
    assert len(page["results"]) == 100 and page["count"] == 111
    assert page["next"].endswith("since=100&page_size=100")


def test_without_since_it_reads_from_the_oldest_event_kept(client: APIClient,
                                                           seven: Sprint) -> None:
    OutboxEvent.objects.filter(sprint_id=seven.pk, seq__lte=3).delete()  # pruned
    assert _seqs(_log(client, seven).json()) == [4, 5, 6, 7]
    OutboxEvent.objects.filter(sprint_id=seven.pk).delete()
    assert _log(client, seven).json()["results"] == []


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", " ", "1e3", "٣",
                                   str(2**63), "9" * 40])
def test_a_bad_since_is_a_400_naming_it(client: APIClient, seven: Sprint, since: str) -> None:
    response = _log(client, seven, since=since)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and list(body["fields"]) == ["since"]
    assert body["message"].startswith("since: Must be a whole number")


def test_pruned_events_answer_410_with_the_oldest_seq_kept(client: APIClient,
                                                           seven: Sprint) -> None:
    OutboxEvent.objects.filter(sprint_id=seven.pk, seq__lte=3).delete()
    assert _seqs(_log(client, seven, since=3).json()) == [4, 5, 6, 7]  # still reaches back
    response = _log(client, seven, since=2)
    assert response.status_code == 410
    body = response.json()
    assert (body["error"], body["oldest"], body["latest"]) == ("gone", 4, 7)
    assert "reload the sprint" in body["message"]
    OutboxEvent.objects.filter(sprint_id=seven.pk).delete()
    response = _log(client, seven, since=5)
    assert response.status_code == 410
    assert (response.json()["oldest"], response.json()["latest"]) == (None, 7)
    assert _log(client, seven, since=7).status_code == 200  # nothing missed: nothing gone


def test_a_since_beyond_the_latest_seq_is_another_timeline_410(client: APIClient,
                                                               seven: Sprint) -> None:
    """The client holds seqs this database never gave (it was restored from a backup):
    only a reload makes its board right."""
    response = _log(client, seven, since=8)
    assert response.status_code == 410
    assert (response.json()["oldest"], response.json()["latest"]) == (1, 7)


def test_a_hole_in_the_log_ends_the_page_before_it_then_answers_410(
        client: APIClient, seven: Sprint) -> None:
    OutboxEvent.objects.filter(sprint_id=seven.pk, seq=5).delete()
    page = _log(client, seven, since=0).json()
    assert _seqs(page) == [1, 2, 3, 4] and page["next"] is not None
    assert client.get(page["next"]).status_code == 410


def test_the_log_keeps_events_for_its_retention_then_prunes_them(
        client: APIClient, seven: Sprint, settings: Any) -> None:
    settings.OUTBOX_RETENTION_DAYS, settings.EVENT_LOG_RETENTION_DAYS = 7, 30
    now = timezone.now()
    OutboxEvent.objects.update(delivered_at=now - datetime.timedelta(days=20),
                               created_at=now - datetime.timedelta(days=20))
    assert prune() == 0  # long delivered, but the log keeps them 30 days
    assert _seqs(_log(client, seven, since=0).json()) == [1, 2, 3, 4, 5, 6, 7]
    OutboxEvent.objects.filter(seq__lte=2).update(created_at=now - datetime.timedelta(days=31))
    assert prune() == 2
    assert _log(client, seven, since=0).status_code == 410
    assert _seqs(_log(client, seven, since=2).json()) == [3, 4, 5, 6, 7]


def test_a_deleted_sprints_log_still_tells_of_its_deletion(client: APIClient, seven: Sprint,
                                                           user: Any) -> None:
    assert client.delete(f"/api/sprints/{seven.pk}/").status_code == 204
    (deleted,) = _log(client, seven, since=7).json()["results"]
    assert (deleted["action"], deleted["model"], deleted["data"]) == ("deleted", "sprint", None)
    assert deleted["actor"] == {"id": user.pk, "username": "ana"}


def test_permissions_are_the_sprints(anonymous: APIClient, client: APIClient,
                                     seven: Sprint) -> None:
    assert _log(anonymous, seven, since=0).status_code == 401
    assert _log(anonymous, seven, since=0).json()["error"] == "not_authenticated"
    assert _log(client, 999_999, since=0).status_code == 404
    assert _log(client, 2**63, since=0).status_code == 404


def test_the_sprint_links_to_its_log(client: APIClient, seven: Sprint) -> None:
    url = client.get(f"/api/sprints/{seven.pk}/").json()["links"]["events"]
    assert _seqs(client.get(url, {"since": 5}).json()) == [6, 7]


def test_the_schema_documents_the_log() -> None:
    out = StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=out)
    operation = json.loads(out.getvalue())["paths"]["/api/sprints/{id}/events/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"since", "page_size"}
    assert {"200", "410"} <= set(operation["responses"])


def test_the_documented_examples_are_what_the_api_answers(client: APIClient, seven: Sprint,
                                                          user: Any) -> None:
    """docs/protocol.md §6 shows docs/protocol/examples.json's `event_log`: the same keys,
    in the same order, as the API's answers; its event is the §3 `event` frame plus `at`."""
    golden = json.loads((Path(__file__).resolve().parents[2] / "docs/protocol/examples.json")
                        .read_text())
    page, gone = golden["event_log"]["page"], golden["event_log"]["gone"]
    answer = _log(client, seven, since=4, page_size=2).json()
    assert list(answer) == list(page)
    assert list(answer["results"][0]) == list(page["results"][0])
    [frame] = [f for f in golden["server_frames"] if f["type"] == "event"]
    assert {k: v for k, v in page["results"][0].items() if k != "at"} == frame
    assert datetime.datetime.fromisoformat(page["results"][0]["at"]).tzinfo is not None
    OutboxEvent.objects.filter(sprint_id=seven.pk, seq__lte=3).delete()
    refused = _log(client, seven, since=1).json()
    assert list(refused) == list(gone)
    assert refused["message"] == "The log no longer holds the events after 1 (it holds seq 4 " \
                                 "to 7): reload the sprint."
    assert gone["message"].endswith("reload the sprint.")
