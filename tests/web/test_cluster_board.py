"""The browser board against `make cluster`'s shape: nginx in front of two realtime nodes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.deploy.conftest import Running, launch_cluster
from tests.web.conftest import login, screenshot
from tests.web.test_board import ghost, start_drag

pytestmark = pytest.mark.redis

#: A Redis database of this test's own (the deploy suite uses 13), flushed before and after.
REDIS_URL = os.environ.get("CLUSTER_BROWSER_REDIS_URL", "redis://127.0.0.1:6379/12")


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run_dir = tmp_path_factory.mktemp("cluster-browser")
    with launch_cluster(run_dir, REDIS_URL, ws_logged=False) as running:
        yield running


def open_demo_board(browser: Browser, url: str, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(page, url, username, password=username)  # seed_demo's logins: demo/demo, ana/ana
    page.get_by_test_id("sprint-item").first.click()
    page.wait_for_selector('[data-testid="connection"][data-state="live"]')
    return page


def test_two_browsers_on_two_nodes_see_presence_and_ghosts(browser: Browser,
                                                           cluster: Running) -> None:
    demo = open_demo_board(browser, cluster.url, "demo")
    ana = open_demo_board(browser, cluster.url, "ana")
    try:
        assert sorted(cluster.node_connections()) == [1, 1]  # one board on each node
        # Presence crosses nodes through Redis, and so does the WebRTC signaling.
        expect(demo.locator('[data-testid="presence"][data-username="ana"]')).to_be_visible()
        expect(ana.locator('[data-testid="presence"][data-username="demo"]')).to_be_visible()
        for page in (demo, ana):
            page.wait_for_selector('[data-peer-id][data-link="p2p"]', timeout=15000)
        task = int(demo.locator('[data-testid="card"]').first.get_attribute("data-task-id"))
        start_drag(demo, task, "testing")
        expect(ghost(ana, task)).to_contain_text("demo")
        screenshot(ana, "cluster-ghost-across-nodes")
        demo.mouse.up()
    finally:
        demo.context.close()
        ana.context.close()
