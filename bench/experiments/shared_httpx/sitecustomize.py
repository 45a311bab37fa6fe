"""Experiment, benchmark only: ``httpx.post`` reuses one ``httpx.Client`` per process.

``api/realtime/publisher.py`` calls ``httpx.post`` per delivery, which builds a new Client
(and its TLS context) every time. Put this directory on ``PYTHONPATH`` of the Django
process and Python imports it at start-up, so the end-to-end workload can show what a
shared client would change without touching the API's code.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

_client: httpx.Client | None = None
_lock = threading.Lock()


def _post(url: str, **kwargs: Any) -> httpx.Response:
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client()
    return _client.post(url, **kwargs)


httpx.post = _post  # type: ignore[assignment]
