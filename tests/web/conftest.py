"""End-to-end fixtures: Debian's Chromium via Playwright, live Django, real watercooler.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.servers import ROOT, TEST_SECRET, RealtimeServer

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
#: A phone as Chromium emulates it: its screen, touch, and the mobile viewport rules.
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}

# Playwright's sync API runs its own event loop; Django's async-safety check would
# otherwise refuse the ORM calls our fixtures make from the same thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/web/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def realtime_for(live_server: Any, settings: Any, *args: str) -> Iterator[RealtimeServer]:
    """A realtime server (`watercooler.py` with `args`) that accepts the live server's
    origin, with Django pointed at it."""
    origin = live_server.url
    server = RealtimeServer(*args, origins=(origin, origin.replace("localhost", "127.0.0.1")))
    server.start()
    settings.REALTIME_URL = server.http_url
    settings.REALTIME_PUBLIC_URL = f"ws://127.0.0.1:{server.port}"
    settings.REALTIME_SECRET = TEST_SECRET
    settings.REALTIME_RETRY_MAX = 0.5
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def realtime(live_server: Any, settings: Any) -> Iterator[RealtimeServer]:
    with realtime_for(live_server, settings) as server:
        yield server


@pytest.fixture
def demo(live_server: Any, realtime: RealtimeServer, django_user_model: Any) -> dict[str, Any]:
    """Users ana and ben, one open sprint with four tasks, and one finished sprint."""
    from api.board import services

    for name in ("ana", "ben", "cy"):
        django_user_model.objects.create_user(name, password=f"{name}-pass")
    today = dt.date.today()
    sprint = services.sprint_create(actor=None, name="Sprint 1",
                                    end=today + dt.timedelta(days=10))
    finished = services.sprint_create(actor=None, name="Sprint 0",
                                      end=today - dt.timedelta(days=3))
    tasks = [services.task_create(actor=None, name=f"Task {n}", sprint=sprint, status=status)
             for n, status in enumerate(["not_started", "not_started", "in_progress", "testing"])]
    return {"sprint": sprint, "finished": finished, "tasks": tasks}


@pytest.fixture
def open_board(browser: Browser, live_server: Any, demo: dict[str, Any],
               request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """`open_board("ana", webrtc=True, phone=False)` → a logged-in page on the demo
    sprint's board, in a desktop window (1280x800) or a phone (390x844, touch)."""
    contexts: list[BrowserContext] = []
    console_errors: list[str] = []

    def open_(username: str, *, webrtc: bool = True, phone: bool = False) -> Page:
        context = browser.new_context(**(PHONE if phone else {"viewport": {"width": 1280,
                                                                          "height": 800}}))
        if not webrtc:
            context.add_init_script(
                "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;")
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and console_errors.append(
            f"{username}: {m.text}"))
        page.on("pageerror", lambda e: console_errors.append(f"{username}: {e}"))
        login(page, live_server.url, username)
        page.goto(f"{live_server.url}/#/sprints/{demo['sprint'].id}")
        page.wait_for_selector('[data-testid="connection"][data-state="live"]')
        return page

    yield open_
    for context in contexts:
        context.close()
    # Reconnect attempts while a test kills the server are expected, and so is Chromium's
    # own log line for a 4xx the test provokes (the page shows it); anything else is a bug.
    expected = r"WebSocket|ERR_CONNECTION_REFUSED|net::|Failed to load resource: .* status of 4\d\d"
    unexpected = [e for e in console_errors if not re.search(expected, e)]
    assert not unexpected, unexpected


def login(page: Page, base_url: str, username: str, password: str | None = None) -> None:
    page.goto(f"{base_url}/#/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password or f"{username}-pass")
    page.get_by_test_id("login-submit").click()
    page.wait_for_selector('[data-testid="sprint-item"]')


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def card(page: Page, task_id: int) -> Any:
    return page.locator(f'[data-testid="card"][data-task-id="{task_id}"]')


def column(page: Page, status: str) -> Any:
    return page.locator(f'[data-testid="column"][data-status="{status}"]')


class PeerThread:
    """A headless `peer/` client (aiortc) on its own event loop, driven from a sync test.

    Playwright's sync API owns the test thread's loop, so the aiortc peer lives in a
    thread of its own; `call` runs a coroutine there and waits for its result.
    """

    def __init__(self, base_url: str, username: str, sprint: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.received: list[Any] = []
        self.api: Any = None
        self.peer: Any = self.call(self._join(base_url, username, sprint))

    async def _join(self, base_url: str, username: str, sprint: int) -> Any:
        from peer import ApiClient, join

        self.api = ApiClient(base_url)
        await self.api.login(username, f"{username}-pass")
        joined = await join(self.api, sprint)
        joined.drags.on(self.received.append)
        return joined

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def close(self) -> None:
        async def shutdown() -> None:
            await self.peer.close()
            await self.api.aclose()

        with contextlib.suppress(Exception):
            self.call(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def headless_peer(live_server: Any, demo: dict[str, Any]) -> Iterator[Callable[[str], PeerThread]]:
    """`headless_peer("ben")` → an aiortc peer logged in as ben on the demo sprint."""
    made: list[PeerThread] = []

    def make(username: str) -> PeerThread:
        made.append(PeerThread(live_server.url, username, demo["sprint"].id))
        return made[-1]

    yield make
    for peer_thread in made:
        peer_thread.close()
