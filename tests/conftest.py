"""Suite-wide hooks."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser suite last (after pytest-django's own reordering).

    Playwright's sync API leaves an event loop running in the main thread for the rest of
    the session, which the asyncio suites cannot share; `make test` also runs it apart.
    """
    items.sort(key=lambda item: "tests/web/" in str(item.path))
