"""A crowded sprint in the browser: the avatars that fit, "+N" for the rest, and the full list
behind it, fetched page by page (docs/protocol.md §3, protocol version 2).

30 plain websocket clients join next to the browser: enough for "+N" on a desktop and a
phone, sized for CI.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from websockets.sync.client import ClientConnection, connect

from tests.servers import RealtimeServer, make_token
from tests.web.conftest import screenshot

NAMES = ["amara", "bjorn", "chen", "dara", "eli", "fatima", "gus", "hana", "ivo", "jun",
         "kofi", "lena", "mateo", "nia", "omar", "priya", "quinn", "rosa", "sami", "tomas",
         "uma", "vera", "wes", "xin", "yara", "zane", "ada", "bo", "cleo", "dev"]


@pytest.fixture
def crowd(realtime: RealtimeServer, demo: dict[str, Any]) -> Iterator[list[ClientConnection]]:
    """30 websocket-only peers of the demo sprint (they read nothing; the server's frames to
    them wait in their buffers)."""
    sprint = demo["sprint"].id
    with contextlib.ExitStack() as stack:
        clients = []
        for n, name in enumerate(NAMES, start=100):
            token = make_token(user_id=n, username=name, sprint=sprint, secret=realtime.secret)
            clients.append(stack.enter_context(connect(realtime.ws_url(sprint, token),
                                                       close_timeout=1)))
        yield clients


def _shown(page: Page) -> int:
    return page.get_by_test_id("presence").count()


def _more(page: Page) -> int:
    text = page.get_by_test_id("presence-more").inner_text()
    match = re.fullmatch(r"\+(\d+)", text.strip())
    assert match, text
    return int(match.group(1))


def _wait_for_everyone(page: Page, others: int) -> None:
    page.wait_for_function(
        """n => {
          const more = document.querySelector('[data-testid="presence-more"]');
          const shown = document.querySelectorAll('[data-testid="presence"]').length;
          return more && !more.hidden && shown + Number(more.textContent.slice(1)) === n;
        }""", arg=others, timeout=15000)


def test_a_crowd_shows_what_fits_then_plus_n_and_the_full_list(
        open_board: Any, crowd: list[ClientConnection]) -> None:
    ana = open_board("ana")
    _wait_for_everyone(ana, len(crowd))
    shown, more = _shown(ana), _more(ana)
    assert shown >= 5 and more >= 1 and shown + more == len(crowd)
    chip = ana.locator(".presence").bounding_box()
    assert chip is not None and chip["height"] <= 40  # one row of avatars, nothing wraps
    screenshot(ana, "presence-desktop")

    ana.get_by_test_id("presence-more").click()
    dialog = ana.get_by_test_id("peer-list")
    expect(dialog).to_be_visible()
    items = ana.get_by_test_id("peer-list-item")
    expect(items).to_have_count(len(crowd) + 1)  # everyone, ana included
    expect(dialog.locator(".dialog__title")).to_have_text(f"Everyone here ({len(crowd) + 1})")
    names = items.evaluate_all("items => items.map(i => i.dataset.username)")
    assert sorted(set(names)) == sorted({*NAMES, "ana"})
    screenshot(ana, "presence-desktop-list")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    ben = open_board("ben", phone=True)
    _wait_for_everyone(ben, len(crowd) + 1)  # ana too
    assert 1 <= _shown(ben) < _shown(ana)
    screenshot(ben, "presence-phone")
    ben.get_by_test_id("presence-more").click()
    expect(ben.get_by_test_id("peer-list-item")).to_have_count(len(crowd) + 2)
    screenshot(ben, "presence-phone-list")
