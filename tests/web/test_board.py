"""The browser board in real Chromium: ghosts over data channels, relay fallback, live updates."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.servers import RealtimeServer
from tests.web.conftest import card, column, screenshot


def _center(box: dict[str, float], dy: float = 0) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2 + dy, box["height"] - 5)


def _box(locator: Any) -> dict[str, float]:
    """The element's box; a board re-rendering under us (a live event) is waited out."""
    for _ in range(50):
        expect(locator).to_be_visible()
        box = locator.bounding_box()
        if box is not None:
            return dict(box)
    raise AssertionError(f"{locator} never settled")


def start_drag(page: Page, task_id: int, status: str) -> None:
    """Press on a card and move the pointer over a column, without dropping."""
    x0, y0 = _center(_box(card(page, task_id)))
    x1, y1 = _center(_box(column(page, status)), dy=40)
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 16):
        page.mouse.move(x0 + (x1 - x0) * i / 15, y0 + (y1 - y0) * i / 15)
        page.wait_for_timeout(16)


def ghost(page: Page, task_id: int) -> Any:
    return page.locator(f'[data-testid="ghost"][data-task-id="{task_id}"]')


def wait_p2p(page: Page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('[data-peer-id][data-link=\"p2p\"]').length >= n",
        arg=count, timeout=15000)


def test_drag_shows_a_ghost_over_the_data_channel_and_the_drop_sticks(
        open_board: Any, demo: dict[str, Any], realtime: RealtimeServer) -> None:
    ana, ben = open_board("ana"), open_board("ben")
    wait_p2p(ana, 1)
    wait_p2p(ben, 1)
    relayed = realtime.metric("watercooler_relayed_total")
    task = demo["tasks"][0]

    start_drag(ana, task.id, "testing")
    expect(ghost(ben, task.id)).to_be_visible()
    expect(ghost(ben, task.id)).to_contain_text("ana")
    screenshot(ben, "1-ghost-over-datachannel")
    assert realtime.metric("watercooler_relayed_total") == relayed  # it went peer to peer

    ana.mouse.up()
    for page in (ana, ben):
        expect(column(page, "testing").locator(f'[data-task-id="{task.id}"]')).to_be_visible()
    expect(ghost(ben, task.id)).to_have_count(0)
    ben.reload()
    expect(column(ben, "testing").locator(f'[data-task-id="{task.id}"]')).to_be_visible()
    screenshot(ben, "1-after-drop-and-reload")


def test_client_without_webrtc_sees_and_sends_ghosts_by_relay(
        open_board: Any, demo: dict[str, Any], realtime: RealtimeServer) -> None:
    ana, cy = open_board("ana"), open_board("cy", webrtc=False)
    ana.wait_for_selector('[data-peer-id][data-link="relay"]')
    task, other = demo["tasks"][1], demo["tasks"][2]

    start_drag(ana, task.id, "done")
    expect(ghost(cy, task.id)).to_contain_text("ana")
    screenshot(cy, "2-ghost-by-relay")
    ana.mouse.up()
    expect(column(cy, "done").locator(f'[data-task-id="{task.id}"]')).to_be_visible()

    start_drag(cy, other.id, "not_started")
    expect(ghost(ana, other.id)).to_contain_text("cy")
    cy.mouse.up()
    assert realtime.metric("watercooler_relayed_total") > 0


def test_change_through_the_rest_api_appears_without_reload(
        open_board: Any, demo: dict[str, Any], live_server: Any) -> None:
    ana, ben = open_board("ana"), open_board("ben")
    task = demo["tasks"][3]
    token = httpx.post(f"{live_server.url}/api/token/",
                       json={"username": "ben", "password": "ben-pass"}).json()["token"]
    resp = httpx.patch(f"{live_server.url}/api/tasks/{task.id}/",
                       json={"status": "done", "name": "Shipped by a script"},
                       headers={"Authorization": f"Token {token}"})
    assert resp.status_code == 200, resp.text
    for page in (ana, ben):
        moved = column(page, "done").locator(f'[data-task-id="{task.id}"]')
        expect(moved).to_contain_text("Shipped by a script")
    screenshot(ana, "3-rest-change-live")


def test_boards_reconnect_after_realtime_restart_and_catch_up(
        open_board: Any, demo: dict[str, Any], live_server: Any,
        realtime: RealtimeServer) -> None:
    ana = open_board("ana")
    realtime.stop()
    expect(ana.get_by_test_id("connection")).to_have_attribute(
        "data-state", "reconnecting", timeout=10000)
    screenshot(ana, "5-reconnecting")

    task = demo["tasks"][0]
    token = httpx.post(f"{live_server.url}/api/token/",
                       json={"username": "ben", "password": "ben-pass"}).json()["token"]
    resp = httpx.patch(f"{live_server.url}/api/tasks/{task.id}/",
                       json={"name": "Changed while offline"},
                       headers={"Authorization": f"Token {token}"})
    assert resp.status_code == 200

    restarted = RealtimeServer(port=realtime.port, origins=realtime_origins(live_server))
    restarted.start()
    try:
        expect(ana.get_by_test_id("connection")).to_have_attribute(
            "data-state", "live", timeout=40000)
        expect(card(ana, task.id)).to_contain_text("Changed while offline", timeout=20000)
        screenshot(ana, "5-recovered")
    finally:
        restarted.stop()


def realtime_origins(live_server: Any) -> tuple[str, ...]:
    return (live_server.url, live_server.url.replace("localhost", "127.0.0.1"))


def test_validation_error_on_drop_is_shown_and_the_card_returns(
        open_board: Any, demo: dict[str, Any]) -> None:
    import datetime as dt

    task = demo["tasks"][2]  # in progress
    task.started = dt.date.today() + dt.timedelta(days=5)
    task.save()
    ana = open_board("ana")
    start_drag(ana, task.id, "done")  # completed today would be before it started: refused
    ana.mouse.up()
    expect(ana.get_by_test_id("error")).to_contain_text("completed date")
    expect(column(ana, "in_progress").locator(f'[data-task-id="{task.id}"]')).to_be_visible()
    expect(column(ana, "done").locator(f'[data-task-id="{task.id}"]')).to_have_count(0)
    screenshot(ana, "6-validation-error")


def test_headless_aiortc_peer_and_browser_see_each_others_drags_peer_to_peer(
        open_board: Any, demo: dict[str, Any], realtime: RealtimeServer,
        headless_peer: Any) -> None:
    ana = open_board("ana")
    ben = headless_peer("ben")  # the aiortc peer of `peer/`
    wait_p2p(ana, 1)
    ben.call(_until(lambda: bool(ben.peer.channel_peers())))
    relayed = realtime.metric("watercooler_relayed_total")
    theirs, mine = demo["tasks"][0], demo["tasks"][1]

    async def drag_slowly() -> None:
        await ben.peer.send_drag(theirs.id, "start", status="not_started", x=0.1, y=0.2)
        for step in range(1, 31):
            await ben.peer.send_drag(theirs.id, "move", status="done", index=0,
                                     x=0.1 + step * 0.025, y=0.3)
            await asyncio.sleep(1 / 60)

    ben.call(drag_slowly())
    expect(ghost(ana, theirs.id)).to_be_visible()
    expect(ghost(ana, theirs.id)).to_contain_text("ben")
    screenshot(ana, "4-aiortc-ghost-in-browser")
    ben.call(ben.peer.send_drag(theirs.id, "end", status="done"))
    expect(ghost(ana, theirs.id)).to_have_count(0)

    start_drag(ana, mine.id, "testing")
    ben.call(_until(lambda: any(r.drag.task == mine.id for r in ben.received)))
    from_ana = [r for r in ben.received if r.drag.task == mine.id]
    assert {r.via for r in from_ana} == {"datachannel"}
    assert from_ana[0].user["username"] == "ana"
    assert any(r.drag.status == "testing" for r in from_ana)
    ana.mouse.up()
    assert realtime.metric("watercooler_relayed_total") == relayed  # both ways peer to peer


async def _until(condition: Any, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)
