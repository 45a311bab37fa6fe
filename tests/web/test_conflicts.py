"""Two people on one card in real Chromium: simultaneous drops, the edit dialog's 412, and
the "held by" badge. The server decides; every board ends as the server's state."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import card, column, screenshot
from tests.web.test_board import ghost, start_drag

COLUMNS = ("backlog", "not_started", "in_progress", "testing", "done")


def board_of(page: Page) -> dict[str, list[int]]:
    """The card ids of every column, top to bottom, as this page shows them."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '[data-testid="column"]')].map(c => [c.dataset.status, [...c.querySelectorAll(
        '[data-testid="card"]')].map(e => Number(e.dataset.taskId))]))""")


def server_board(live_server: Any, token: str, sprint: int) -> dict[str, list[int]]:
    """The same, from the REST API: each column sorted by (rank, id)."""
    headers = {"Authorization": f"Token {token}"}
    tasks = httpx.get(f"{live_server.url}/api/tasks/?sprint={sprint}", headers=headers).json()
    backlog = httpx.get(f"{live_server.url}/api/tasks/?backlog=true", headers=headers).json()
    cols: dict[str, list[Any]] = {k: [] for k in COLUMNS}
    for t in tasks["results"]:
        cols[t["status"]].append(t)
    cols["backlog"] = backlog["results"]
    return {k: [t["id"] for t in sorted(v, key=lambda t: (t["rank"], t["id"]))]
            for k, v in cols.items()}


def token_of(live_server: Any, username: str) -> str:
    return httpx.post(f"{live_server.url}/api/token/", json={
        "username": username, "password": f"{username}-pass"}).json()["token"]


def until(condition: Any, timeout: float = 20, what: str = "condition") -> None:
    """Poll from the test thread (the pages run on their own); never a timing assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.1)


def test_two_drop_the_same_card_at_once_the_loser_is_told_and_both_end_as_the_server(
        open_board: Any, demo: dict[str, Any], live_server: Any) -> None:
    ana, ben = open_board("ana"), open_board("ben")
    task = demo["tasks"][0]
    start_drag(ana, task.id, "testing")
    start_drag(ben, task.id, "done")
    # each sees the other holding the card: a ghost where they aim, a badge on the card
    expect(card(ana, task.id).get_by_test_id("held-by")).to_contain_text("ben is moving this")
    expect(card(ben, task.id).get_by_test_id("held-by")).to_contain_text("ana is moving this")
    expect(ghost(ana, task.id)).to_contain_text("ben")

    ana.mouse.up()
    ben.mouse.up()
    notices = {name: page.get_by_test_id("notice") for name, page in (("ana", ana), ("ben", ben))}
    until(lambda: any(n.is_visible() for n in notices.values()), what="a notice")
    told = [name for name, n in notices.items() if n.is_visible()]
    assert len(told) == 1, f"exactly one drop loses: {told}"
    loser = told[0]
    winner = "ben" if loser == "ana" else "ana"
    expect(notices[loser]).to_contain_text(f"{winner} moved this card meanwhile")

    token = token_of(live_server, "ana")
    sprint = demo["sprint"].id
    expected = server_board(live_server, token, sprint)
    assert task.id in expected["testing" if winner == "ana" else "done"]
    for page in (ana, ben):
        until(lambda page=page: board_of(page) == server_board(live_server, token, sprint),
              what="the board equal to the server's")
    assert board_of(ana) == board_of(ben) == expected
    expect(ana.get_by_test_id("held-by")).to_have_count(0)
    expect(ben.get_by_test_id("held-by")).to_have_count(0)

    # The loser's screen with the notice, and the winner holding another card (the badge).
    lost, won = (ana, ben) if loser == "ana" else (ben, ana)
    start_drag(won, demo["tasks"][3].id, "done")
    expect(card(lost, demo["tasks"][3].id).get_by_test_id("held-by")).to_be_visible()
    screenshot(lost, "11-conflict-notice-and-held-by")
    lost.set_viewport_size({"width": 390, "height": 844})
    card(lost, demo["tasks"][3].id).scroll_into_view_if_needed()
    screenshot(lost, "11-conflict-notice-and-held-by-phone")
    won.mouse.up()


def _open_dialog(page: Page, task_id: int) -> None:
    card(page, task_id).locator(".card__name").click()
    expect(page.get_by_test_id("task-dialog")).to_be_visible()


def test_edit_conflict_keeps_the_typed_text_and_applies_it_or_discards_it(
        open_board: Any, demo: dict[str, Any], live_server: Any) -> None:
    ana = open_board("ana")
    task = demo["tasks"][1]
    ben = httpx.Client(base_url=live_server.url,
                       headers={"Authorization": f"Token {token_of(live_server, 'ben')}"})

    _open_dialog(ana, task.id)
    ana.get_by_test_id("task-name").fill("Ana's name")
    ana.get_by_test_id("task-description").fill("A long description ana typed: not to be lost")
    resp = ben.patch(f"/api/tasks/{task.id}/", json={"name": "Ben's name", "status": "in_progress"})
    assert resp.status_code == 200, resp.text
    ana.get_by_test_id("task-save").click()

    conflict = ana.get_by_test_id("conflict")
    expect(conflict).to_be_visible()
    name_row = conflict.locator('[data-testid="conflict-row"][data-field="name"]')
    expect(name_row.get_by_test_id("conflict-mine")).to_have_text("Ana's name")
    expect(name_row.get_by_test_id("conflict-current")).to_have_text("Ben's name")
    status_row = conflict.locator('[data-testid="conflict-row"][data-field="status"]')
    expect(status_row.get_by_test_id("conflict-current")).to_have_text("In Progress")
    expect(status_row.get_by_test_id("conflict-mine")).to_have_text("unchanged")
    expect(ana.get_by_test_id("task-name")).to_have_value("Ana's name")
    expect(ana.get_by_test_id("task-description")).to_have_value(
        "A long description ana typed: not to be lost")
    screenshot(ana, "11-edit-conflict")
    ana.set_viewport_size({"width": 390, "height": 844})
    screenshot(ana, "11-edit-conflict-phone")
    ana.set_viewport_size({"width": 1280, "height": 800})

    ana.get_by_test_id("conflict-apply").click()
    expect(ana.get_by_test_id("task-dialog")).to_have_count(0)
    saved = ben.get(f"/api/tasks/{task.id}/").json()
    assert saved["name"] == "Ana's name"
    assert saved["description"] == "A long description ana typed: not to be lost"
    assert saved["status"] == "in_progress", "ben's change to a field ana left alone stays"
    expect(column(ana, "in_progress").locator(f'[data-task-id="{task.id}"]')).to_contain_text(
        "Ana's name")

    # Discard: the form takes the server's values; nothing is written.
    _open_dialog(ana, task.id)
    ana.get_by_test_id("task-name").fill("Ana again")
    assert ben.patch(f"/api/tasks/{task.id}/", json={"name": "Ben again"}).status_code == 200
    ana.get_by_test_id("task-save").click()
    ana.get_by_test_id("conflict-discard").click()
    expect(ana.get_by_test_id("conflict")).to_be_hidden()
    expect(ana.get_by_test_id("task-name")).to_have_value("Ben again")
    ana.get_by_test_id("task-dialog").get_by_role("button", name="Cancel").click()
    assert ben.get(f"/api/tasks/{task.id}/").json()["name"] == "Ben again"
    ben.close()
