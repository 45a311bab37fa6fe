"""The seed chapter's walkthrough, as printed, in two real Chromium tabs against --debug."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.servers import RealtimeServer

SNIPPET = """port => new Promise(resolve => {
    window.received = [];
    const socket = new WebSocket('ws://localhost:' + port + '/123');
    socket.onmessage = event => {
        window.received.push(event.data);
        if (event.data === 'ping') socket.send('pong');
    };
    socket.onopen = () => { window.socket = socket; resolve(); };
})"""


@pytest.fixture
def debug_server() -> Iterator[RealtimeServer]:
    with RealtimeServer(debug=True) as server:
        yield server


def test_seed_snippet_ping_pong_in_two_tabs(browser: Browser,
                                            debug_server: RealtimeServer) -> None:
    context = browser.new_context()
    try:
        first, second = context.new_page(), context.new_page()
        for page in (first, second):
            page.goto(f"http://localhost:{debug_server.port}/")  # the debug index page
            page.evaluate(SNIPPET, debug_server.port)
        first.wait_for_function("window.received.some(m => m.includes('\"joined\":[{'))")
        first.evaluate("window.socket.send('ping')")
        second.wait_for_function("window.received.includes('ping')")
        first.wait_for_function("window.received.includes('pong')")
    finally:
        context.close()
