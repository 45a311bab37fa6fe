"""A browser offline past the realtime server's history catches up from the REST event
log, without reloading the sprint; past the log's retention it reloads (410).

The realtime server keeps 3 events per sprint; the page's websocket is cut and held off by
Playwright's websocket routing while 9 changes are made.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from tests.servers import RealtimeServer
from tests.web.conftest import card, login, realtime_for, screenshot


@pytest.fixture
def realtime(live_server: Any, settings: Any) -> Iterator[RealtimeServer]:
    """The usual realtime server of the browser suite, keeping only 3 events per sprint."""
    with realtime_for(live_server, settings, "--history-size=3") as server:
        yield server


class Cable:
    """The page's websockets, through Playwright: `cut()` closes them and refuses new ones
    until `mend()`. Every HTTP request the page makes is noted."""

    def __init__(self, page: Page) -> None:
        self.up = True
        self.routes: list[WebSocketRoute] = []
        self.requests: list[str] = []
        page.on("request", lambda r: self.requests.append(f"{r.method} {r.url}"))
        page.route_web_socket(re.compile(r"^ws://127\.0\.0\.1:\d+/\d+/"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        if not self.up:
            ws.close(code=4009, reason="cut")  # "reconnect and resume" (protocol §5)
            return
        ws.connect_to_server()
        self.routes.append(ws)

    def cut(self) -> None:
        self.up = False
        for ws in self.routes:
            ws.close(code=4009, reason="cut")
        self.routes.clear()

    def mend(self) -> None:
        self.up = True


@pytest.fixture
def board_page(browser: Browser, live_server: Any, demo: dict[str, Any]
               ) -> Iterator[tuple[Page, Cable]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    cable = Cable(page)
    login(page, live_server.url, "ana")
    page.goto(f"{live_server.url}/#/sprints/{demo['sprint'].id}")
    page.wait_for_selector('[data-testid="connection"][data-state="live"]')
    yield page, cable
    context.close()


def _renames_while_cut(page: Page, cable: Cable, live_server: Any, demo: dict[str, Any],
                       n: int) -> dict[int, str]:
    """Cut the page off, rename tasks `n` times as ben and wait until the realtime server
    has every event (more than its history holds); the names the tasks end with."""
    from api.realtime.models import OutboxEvent

    cable.cut()
    expect(page.get_by_test_id("connection")).not_to_have_attribute("data-state", "live")
    token = httpx.post(f"{live_server.url}/api/token/",
                       json={"username": "ben", "password": "ben-pass"}).json()["token"]
    names: dict[int, str] = {}
    for i in range(n):
        task = demo["tasks"][i % len(demo["tasks"])]
        names[task.id] = f"Offline rename {i}"
        response = httpx.patch(f"{live_server.url}/api/tasks/{task.id}/",
                               json={"name": names[task.id]},
                               headers={"Authorization": f"Token {token}"})
        assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    while OutboxEvent.objects.filter(delivered_at__isnull=True).exists():
        assert time.monotonic() < deadline, "the events were never delivered"
        time.sleep(0.05)
    return names


def _reloads(requests: list[str], sprint: int) -> list[str]:
    """Requests of a full reload: the sprint itself, or its task list."""
    return [r for r in requests if "/api/tasks/?sprint=" in r
            or r.split("?")[0].endswith(f"/api/sprints/{sprint}/")]


def test_a_browser_offline_past_the_servers_history_catches_up_from_the_log(
        board_page: tuple[Page, Cable], live_server: Any, demo: dict[str, Any]) -> None:
    page, cable = board_page
    sprint = demo["sprint"].id
    names = _renames_while_cut(page, cable, live_server, demo, n=9)
    before = len(cable.requests)
    cable.mend()
    for task_id, name in names.items():
        expect(card(page, task_id)).to_contain_text(name, timeout=30000)
    after = cable.requests[before:]
    assert [r for r in after if "/events/?since=" in r], after  # the log was read
    assert _reloads(after, sprint) == [], after  # and nothing else was reloaded
    # The feed tells what happened meanwhile, with who did it.
    expect(page.get_by_test_id("activity-entry").filter(
        has_text="ben renamed Offline rename 4 to Offline rename 8")).to_have_count(1)
    screenshot(page, "log-recovery-caught-up")


def test_past_the_logs_retention_the_browser_reloads(
        board_page: tuple[Page, Cable], live_server: Any, demo: dict[str, Any]) -> None:
    from django.utils import timezone

    from api.realtime.models import OutboxEvent
    from api.realtime.streams import prune

    page, cable = board_page
    sprint = demo["sprint"].id
    names = _renames_while_cut(page, cable, live_server, demo, n=9)
    long_ago = timezone.now() - datetime.timedelta(days=40)
    OutboxEvent.objects.filter(sprint_id=sprint).update(created_at=long_ago,
                                                        delivered_at=long_ago)
    assert prune() > 0
    before = len(cable.requests)
    cable.mend()
    for task_id, name in names.items():
        expect(card(page, task_id)).to_contain_text(name, timeout=30000)
    after = cable.requests[before:]
    assert [r for r in after if "/events/?since=" in r], after  # the log first: 410
    assert [r for r in after if "/api/tasks/?sprint=" in r], after  # then the reload
