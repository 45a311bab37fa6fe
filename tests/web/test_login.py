"""One login everywhere, in Chromium: the docs open for anyone and say how to authorize;
a board login also opens the browsable API; a logout anywhere ends both."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import login, screenshot


def new_page(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 1280, "height": 800}).new_page()


def test_api_docs_and_schema_open_for_anyone_and_show_how_to_authorize(
        browser: Browser, live_server: Any) -> None:
    page = new_page(browser)
    schema = page.request.get(f"{live_server.url}/api/schema/")  # a download in a tab
    assert schema.status == 200
    assert "openapi:" in schema.text()
    docs = page.goto(f"{live_server.url}/api/docs/")
    assert docs is not None
    assert docs.status == 200
    info = page.locator(".swagger-ui .info")
    expect(info).to_contain_text("every operation needs a login")
    expect(info).to_contain_text("Token <key>")
    expect(info.get_by_role("link", name="log in here")).to_have_attribute(
        "href", "/api/auth/login/?next=/api/docs/")
    page.get_by_role("button", name="Authorize").click()
    dialog = page.locator(".swagger-ui .dialog-ux")
    expect(dialog).to_contain_text("tokenAuth")
    expect(dialog).to_contain_text("Enter Token <key>")
    expect(dialog).to_contain_text("nothing to enter here")
    screenshot(page, "docs-authorize")
    page.context.close()


def test_board_login_opens_the_browsable_api_and_board_logout_ends_both(
        browser: Browser, live_server: Any, demo: dict[str, Any]) -> None:
    page = new_page(browser)
    login(page, live_server.url, "ana")
    page.goto(f"{live_server.url}/api/")
    expect(page.locator(".navbar")).to_contain_text("ana")
    sprints = page.request.get(f"{live_server.url}/api/sprints/")  # the session cookie alone
    assert sprints.status == 200
    screenshot(page, "browsable-api-after-board-login")

    page.goto(f"{live_server.url}/#/sprints")
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    assert page.evaluate("localStorage.getItem('watercooler.token')") is None
    page.goto(f"{live_server.url}/api/")
    expect(page.locator(".navbar")).to_contain_text("Log in")
    expect(page.locator(".navbar")).not_to_contain_text("ana")
    assert page.request.get(f"{live_server.url}/api/sprints/").status == 401
    page.context.close()


def test_logout_in_the_browsable_api_sends_the_board_to_its_login(
        browser: Browser, live_server: Any, demo: dict[str, Any]) -> None:
    board = new_page(browser)
    login(board, live_server.url, "ana")
    other_tab = board.context.new_page()
    other_tab.goto(f"{live_server.url}/api/")
    other_tab.locator(".navbar .dropdown-toggle").click()
    other_tab.get_by_role("link", name="Log out").click()
    expect(other_tab.locator(".navbar")).to_contain_text("Log in")

    board.bring_to_front()
    board.get_by_test_id("sprint-item").first.click()  # the board's next step
    expect(board.get_by_test_id("login-form")).to_be_visible()
    expect(board.get_by_test_id("login-notice")).to_contain_text("logged out")
    screenshot(board, "board-after-logout-elsewhere")
    board.context.close()
