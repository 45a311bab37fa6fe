"""The wallboard in Chromium: a read-only board fed by EventSource only (no websocket, no
WebRTC in the page), live with a change made through the API, presence counted."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import PHONE, login, screenshot

#: The wall's window has neither websockets nor WebRTC: only EventSource can feed it.
NO_WEBSOCKET = ("delete window.WebSocket; delete window.RTCPeerConnection; "
                "delete window.webkitRTCPeerConnection;")


def open_wall(browser: Browser, base_url: str, sprint: int, username: str,
              **context: Any) -> Page:
    page = browser.new_context(**context).new_page()
    page.add_init_script(NO_WEBSOCKET)
    login(page, base_url, username)
    page.goto(f"{base_url}/#/sprints/{sprint}/wall")
    expect(page.get_by_test_id("wall-connection")).to_have_attribute("data-state", "live")
    return page


def wall_card(page: Page, status: str, task_id: int) -> Any:
    return page.get_by_test_id(f"wall-column-{status}").locator(f'[data-task-id="{task_id}"]')


def test_the_wallboard_shows_a_move_made_through_the_api_and_who_is_here(
        browser: Browser, live_server: Any, demo: dict[str, Any], open_board: Any) -> None:
    from django.contrib.auth.models import User

    from api.board import services

    sprint = demo["sprint"].id
    board = open_board("ana")  # a board on a websocket: one person on the board
    board.get_by_test_id("wall-link").click()
    expect(board).to_have_url(re.compile(rf"#/sprints/{sprint}/wall$"))
    board.go_back()
    wall = open_wall(browser, live_server.url, sprint, "ben",
                     viewport={"width": 1920, "height": 1080})
    try:
        expect(wall.get_by_test_id("wall-sprint-name")).to_have_text("Sprint 1")
        expect(wall.get_by_test_id("wall-presence")).to_contain_text("1 person on the board")
        counts = wall.get_by_test_id("wall-count")
        expect(counts).to_have_text(["2", "1", "1", "0"])
        task = demo["tasks"][0]
        ana = User.objects.get(username="ana")
        services.task_move(task=task, actor=ana, expected_version=None, status="done")
        expect(wall_card(wall, "done", task.id)).to_have_text(task.name)
        expect(counts).to_have_text(["1", "1", "1", "1"])
        services.task_update(task=demo["tasks"][2], actor=ana, expected_version=None,
                             changes={"name": "Renamed on the wall", "assigned": ana})
        renamed = wall_card(wall, "in_progress", demo["tasks"][2].id)
        expect(renamed.locator(".wall-card__name")).to_have_text("Renamed on the wall")
        expect(renamed.locator(".wall-card__who")).to_contain_text("ana")
        expect(wall.get_by_test_id("wall-connection")).to_have_attribute("data-state", "live")
        assert wall.evaluate("typeof WebSocket") == "undefined"
        screenshot(wall, "wallboard-1920")
        board.close()
        expect(wall.get_by_test_id("wall-presence")).to_contain_text("Nobody on the board")
    finally:
        wall.context.close()


def test_the_wallboard_on_a_phone(browser: Browser, live_server: Any,
                                  demo: dict[str, Any]) -> None:
    wall = open_wall(browser, live_server.url, demo["sprint"].id, "ben", **PHONE)
    try:
        expect(wall.get_by_test_id("wall-card")).to_have_count(4)
        width = wall.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # one column per row, nothing off the side
        screenshot(wall, "wallboard-phone")
    finally:
        wall.context.close()


def test_the_wallboard_reconnects_by_itself_and_catches_up(
        browser: Browser, live_server: Any, demo: dict[str, Any], realtime: Any) -> None:
    """The realtime server restarts (its history gone) while a change is made: the wall
    reconnects with a fresh ticket and ?since=, and shows the change."""
    from django.contrib.auth.models import User

    from api.board import services

    wall = open_wall(browser, live_server.url, demo["sprint"].id, "ben",
                     viewport={"width": 1280, "height": 800})
    try:
        status = wall.get_by_test_id("wall-connection")
        realtime.stop()
        expect(status).not_to_have_attribute("data-state", "live")
        task = demo["tasks"][1]
        services.task_move(task=task, actor=User.objects.get(username="ana"),
                           expected_version=None, status="testing")
        realtime.start()
        expect(status).to_have_attribute("data-state", "live", timeout=30_000)
        expect(wall_card(wall, "testing", task.id)).to_have_text(task.name, timeout=30_000)
    finally:
        wall.context.close()


def test_an_eventsource_resumes_by_itself_with_last_event_id(
        browser: Browser, live_server: Any, demo: dict[str, Any], realtime: Any) -> None:
    """Chromium's own EventSource, left to reconnect by itself after the server went away,
    sends Last-Event-ID (a cross-origin request) and gets exactly the events it missed."""
    from django.contrib.auth.models import User

    from api.board import services
    from tests.servers import make_token

    sprint, ana = demo["sprint"], User.objects.get(username="ana")
    page = browser.new_context().new_page()
    try:
        page.goto(f"{live_server.url}/#/login")
        url = f"{realtime.http_url}/{sprint.id}/stream?token={make_token(sprint=sprint.id)}"
        page.evaluate("""url => {
            window.got = []; window.opens = 0;
            const source = new EventSource(url);
            source.onopen = () => { window.opens += 1; };
            source.addEventListener("event", (e) => window.got.push(Number(e.lastEventId)));
        }""", url)
        page.wait_for_function("window.opens === 1")
        for name in ("one", "two"):
            services.task_update(task=demo["tasks"][0], actor=ana, expected_version=None,
                                 changes={"name": name})
        page.wait_for_function("window.got.length === 2")
        realtime.stop()
        services.task_update(task=demo["tasks"][0], actor=ana, expected_version=None,
                             changes={"name": "missed"})
        realtime.start()
        page.wait_for_function("window.opens === 2", timeout=30_000)
        services.task_update(task=demo["tasks"][0], actor=ana, expected_version=None,
                             changes={"name": "live"})
        page.wait_for_function("window.got.length >= 4", timeout=30_000)
        got = page.evaluate("window.got")
    finally:
        page.context.close()
    first = got[0]
    assert got == [first, first + 1, first + 2, first + 3]
