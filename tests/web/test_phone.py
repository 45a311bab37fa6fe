"""The board on a phone (390x844, touch) in Chromium: one column in view with tabs, swipes
that scroll, press-and-hold drags across columns that a desktop window sees as ghosts.

Touches go through CDP (`Input.dispatchTouchEvent`): Playwright taps, but cannot drag a
finger. Chromium turns them into the pointer events a real phone sends.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.web.conftest import card, column, screenshot
from tests.web.test_board import ghost

LONG_NAME = "Sprint 1: the one where the board finally fits in a pocket"


class Finger:
    """One finger on a page of a touch context."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.at = (0.0, 0.0)

    def _touch(self, kind: str, points: list[dict[str, float]]) -> None:
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def down(self, x: float, y: float) -> None:
        self._touch("touchStart", [{"x": x, "y": y}])
        self.at = (x, y)

    def move_to(self, x: float, y: float, steps: int = 12) -> None:
        x0, y0 = self.at
        for i in range(1, steps + 1):
            self._touch("touchMove", [{"x": x0 + (x - x0) * i / steps,
                                       "y": y0 + (y - y0) * i / steps}])
            self.page.wait_for_timeout(16)
        self.at = (x, y)

    def up(self) -> None:
        self._touch("touchEnd", [])


def center(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def tab(page: Page, status: str) -> Any:
    return page.locator(f'[data-testid="column-tab"][data-column-tab="{status}"]')


def column_in_view(page: Page) -> str:
    current = page.locator('[data-testid="column-tab"][aria-current="true"]')
    expect(current).to_have_count(1)
    return str(current.get_attribute("data-column-tab"))


def show_column(page: Page, status: str) -> None:
    """Tap a tab; the column slides in (and fills the width, as the only one in view)."""
    tab(page, status).tap()
    expect(tab(page, status)).to_have_attribute("aria-current", "true")
    page.wait_for_function(
        "s => Math.abs(document.querySelector(`.column[data-status=${s}]`)"
        ".getBoundingClientRect().left - 16) < 2", arg=status)


def test_phone_layout_one_column_tabs_swipe_and_a_sheet_for_editing(
        open_board: Any, demo: dict[str, Any]) -> None:
    from api.board import services

    services.sprint_update(sprint=demo["sprint"], actor=None, expected_version=None,
                           changes={"name": LONG_NAME})
    for n in range(10):  # a column longer than the screen
        services.task_create(actor=None, name=f"More work {n}", sprint=demo["sprint"])
    phone = open_board("ana", phone=True)
    tabs = phone.get_by_test_id("column-tab")
    expect(tabs).to_have_count(5)
    expect(tabs.nth(1)).to_contain_text("Not Started")
    expect(tabs.nth(1).locator(".column-tab__count")).to_have_text("12")
    assert column_in_view(phone) == "backlog"
    # one column fills the screen; the next only peeks in at the edge
    backlog, not_started = column(phone, "backlog").bounding_box(), \
        column(phone, "not_started").bounding_box()
    assert backlog is not None and not_started is not None
    assert backlog["x"] >= 0 and backlog["x"] + backlog["width"] <= 390
    assert backlog["width"] > 300
    assert not_started["x"] > 360
    # the long sprint name is cut short on one line, not wrapped
    title = phone.get_by_test_id("sprint-name")
    assert title.evaluate("el => el.scrollWidth > el.clientWidth")
    title_box = title.bounding_box()
    assert title_box is not None and title_box["height"] < 34
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways page

    show_column(phone, "not_started")
    screenshot(phone, "phone-1-board")

    # swipes starting on a card scroll: up, the column's list; left, to the next column.
    # Nothing is dragged.
    task = demo["tasks"][0]
    x, y = center(card(phone, task.id))
    finger = Finger(phone)
    finger.down(x, y + 300)
    finger.move_to(x, y, steps=8)
    finger.up()
    cards = column(phone, "not_started").locator(".column__cards")
    phone.wait_for_function("el => el.scrollTop > 100", arg=cards.element_handle())
    expect(phone.locator(".card--preview")).to_have_count(0)
    cards.evaluate("el => { el.scrollTop = 0; }")
    finger.down(x, y)
    finger.move_to(x - 250, y + 4, steps=8)
    finger.up()
    expect(tab(phone, "in_progress")).to_have_attribute("aria-current", "true")
    expect(phone.locator(".card--preview")).to_have_count(0)
    task.refresh_from_db()
    assert task.status == "not_started"

    # a tap opens the task in a sheet as wide as the screen, with its buttons in reach
    show_column(phone, "in_progress")
    doing = demo["tasks"][2]
    card(phone, doing.id).tap()
    dialog = phone.get_by_test_id("task-dialog")
    expect(dialog).to_be_visible()
    sheet = dialog.bounding_box()
    assert sheet is not None
    assert sheet["width"] == 390 and abs(sheet["y"] + sheet["height"] - 844) < 2
    expect(phone.get_by_test_id("task-save")).to_be_in_viewport()
    started, due = (phone.get_by_test_id(f"task-{f}").bounding_box() for f in ("started", "due"))
    assert started is not None and due is not None and due["y"] > started["y"]  # stacked
    screenshot(phone, "phone-2-edit-sheet")
    phone.get_by_role("button", name="Cancel").tap()
    expect(dialog).to_have_count(0)


def test_touch_drag_across_columns_shows_the_ghost_on_a_desktop(
        open_board: Any, demo: dict[str, Any]) -> None:
    desktop = open_board("ben")
    phone = open_board("ana", phone=True)
    expect(desktop.get_by_test_id("presence")).to_have_count(1)
    show_column(phone, "not_started")
    task = demo["tasks"][0]

    finger = Finger(phone)
    x, y = center(card(phone, task.id))
    finger.down(x, y)
    expect(card(phone, task.id)).to_have_class("card card--armed")  # held long enough
    finger.move_to(x + 10, y + 30, steps=4)
    expect(ghost(desktop, task.id)).to_be_visible()  # the ghost starts moving at once
    # held at the right edge, the next column slides in
    finger.move_to(385, y + 40)
    phone.wait_for_function("() => document.querySelector("
                            "'[data-column-tab][aria-current=true]').dataset.columnTab"
                            " !== 'not_started'")
    finger.move_to(195, y + 60)
    target = column_in_view(phone)
    assert target in ("in_progress", "testing", "done")
    expect(column(desktop, target).locator(
        f'[data-testid="ghost"][data-task-id="{task.id}"]')).to_contain_text("ana")
    screenshot(phone, "phone-3-touch-drag")
    screenshot(desktop, "phone-3-ghost-on-desktop")

    finger.up()
    for page in (phone, desktop):
        expect(column(page, target).locator(f'[data-task-id="{task.id}"]')).to_be_visible()
    expect(ghost(desktop, task.id)).to_have_count(0)
    task.refresh_from_db()
    assert task.status == target
    screenshot(phone, "phone-4-after-drop")
