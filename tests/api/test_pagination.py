"""Every list is paginated: {count, next, previous, results}; page_size is capped at 100."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.board.models import Task
from api.board.ranks import spread


@pytest.fixture
def many_tasks(db) -> None:
    # Straight into the table (no events needed): the backlog, ranks in creation order.
    Task.objects.bulk_create(Task(name=f"task {i}", rank=rank)
                             for i, rank in enumerate(spread(120)))


@pytest.mark.parametrize("path", ["/api/sprints/", "/api/tasks/", "/api/users/"])
def test_list_shape(client: APIClient, path: str) -> None:
    body = client.get(path).json()
    assert set(body) == {"count", "next", "previous", "results"}


def test_default_page_size_is_50(client: APIClient, many_tasks: None) -> None:
    body = client.get("/api/tasks/").json()
    assert (body["count"], len(body["results"]), body["previous"]) == (120, 50, None)
    assert body["next"] == "http://testserver/api/tasks/?page=2"


def test_page_size_param(client: APIClient, many_tasks: None) -> None:
    body = client.get("/api/tasks/?page_size=10&page=2").json()
    assert [t["name"] for t in body["results"]] == [f"task {i}" for i in range(10, 20)]
    assert body["previous"].startswith("http://testserver/api/tasks/?")


def test_huge_page_size_is_capped_at_100(client: APIClient, many_tasks: None) -> None:
    response = client.get("/api/tasks/?page_size=1000000000000")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 100


@pytest.mark.parametrize("value", ["-3", "0", "lots", "1.5", "٣"])  # ٣: Arabic-Indic 3
def test_a_nonsense_page_size_is_400_naming_it(client: APIClient, many_tasks: None,
                                               value: str) -> None:
    response = client.get("/api/tasks/", {"page_size": value})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["page_size"]


def test_page_out_of_range_is_404(client: APIClient, many_tasks: None) -> None:
    response = client.get("/api/tasks/?page=99")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
