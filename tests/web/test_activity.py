"""The activity feed in Chromium: who changed what, live from another window and from the
log on load; clicking an entry points at the card. Desktop panel and phone sheet."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.conftest import card, column, screenshot
from tests.web.test_board import start_drag
from tests.web.test_phone import column_in_view


def entries(page: Page) -> Any:
    return page.get_by_test_id("activity-entry")


def entry(page: Page, text: str) -> Any:
    """The entry that reads `text` (names are set in italics, without quotes)."""
    return entries(page).filter(has_text=text)


def test_a_move_in_another_window_appears_in_the_feed_with_its_author(
        open_board: Any, demo: dict[str, Any]) -> None:
    ana, ben = open_board("ana"), open_board("ben")
    feed = ben.get_by_test_id("activity")
    expect(feed).to_be_visible()  # a panel beside the board on a desktop
    # Loaded from the log: the demo sprint's tasks were made by the system (seed data).
    expect(entry(ben, "System created Task 3 in Testing")).to_have_count(1)
    task = demo["tasks"][0]

    start_drag(ana, task.id, "testing")
    ana.mouse.up()
    moved = entry(ben, f"ana moved {task.name} to Testing")
    expect(moved).to_have_count(1)
    expect(entries(ben).first).to_contain_text("ana moved")  # newest first
    expect(moved.locator("time")).to_have_text("just now")
    expect(entry(ana, f"You moved {task.name} to Testing")).to_have_count(1)

    moved.get_by_role("button").click()
    highlighted = card(ben, task.id)
    expect(highlighted).to_have_class(re.compile(r"\bcard--highlight\b"))
    expect(column(ben, "testing").locator(f'[data-task-id="{task.id}"]')).to_be_visible()
    screenshot(ben, "activity-desktop")
    # The highlight fades.
    expect(ben.locator(".card--highlight")).to_have_count(0, timeout=10000)


def test_the_feed_names_renames_and_deletions_and_can_be_closed(
        open_board: Any, demo: dict[str, Any]) -> None:
    from django.contrib.auth.models import User

    from api.board import services

    ben = open_board("ben")
    cy = User.objects.get(username="cy")
    task, other = demo["tasks"][1], demo["tasks"][2]
    services.task_update(task=task, actor=cy, expected_version=None,
                         changes={"name": "Renamed by cy"})
    services.task_delete(task=other, actor=cy, expected_version=None)
    expect(entry(ben, f"cy renamed {task.name} to Renamed by cy")).to_have_count(1)
    deleted = entry(ben, f"cy deleted {other.name}")
    expect(deleted).to_have_count(1)
    expect(deleted.get_by_role("button")).to_have_count(0)  # no card left to point at

    ben.get_by_test_id("activity-close").click()
    expect(ben.get_by_test_id("activity")).to_be_hidden()
    services.task_update(task=task, actor=cy, expected_version=None, changes={"due": "2030-01-01"})
    expect(ben.get_by_test_id("activity-unseen")).to_have_text("1")
    screenshot(ben, "activity-desktop-closed")  # the board takes the whole width again
    ben.reload()  # closed stays closed in this browser
    ben.wait_for_selector('[data-testid="connection"][data-state="live"]')
    expect(ben.get_by_test_id("activity")).to_be_hidden()
    ben.get_by_test_id("activity-toggle").click()
    expect(entry(ben, "cy set the due date of Renamed by cy to 2030-01-01")).to_have_count(1)


def test_on_a_phone_the_feed_is_a_sheet_and_an_entry_brings_its_column_in(
        open_board: Any, demo: dict[str, Any]) -> None:
    ana = open_board("ana")
    phone = open_board("ben", phone=True)
    expect(phone.get_by_test_id("activity")).to_be_hidden()  # closed until asked for
    screenshot(phone, "activity-phone-closed")
    task = demo["tasks"][0]
    start_drag(ana, task.id, "done")
    ana.mouse.up()
    expect(phone.get_by_test_id("activity-unseen")).to_have_text("1")

    phone.get_by_test_id("activity-toggle").tap()
    sheet = phone.get_by_test_id("activity")
    expect(sheet).to_be_visible()
    moved = entry(phone, f"ana moved {task.name} to Done")
    expect(moved).to_be_visible()
    screenshot(phone, "activity-phone-sheet")
    assert column_in_view(phone) == "backlog"

    moved.get_by_role("button").tap()
    expect(sheet).to_be_hidden()  # the sheet steps aside for the card
    expect(card(phone, task.id)).to_have_class(re.compile(r"\bcard--highlight\b"))
    expect(card(phone, task.id)).to_be_in_viewport()
    expect(phone.locator('[data-column-tab="done"]')).to_have_attribute("aria-current", "true")
    phone.wait_for_function(  # the column has slid in, whole
        "() => { const r = document.querySelector('.column[data-status=done]')"
        ".getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth; }")
    screenshot(phone, "activity-phone-highlight")
