"""The Django REST API as the peer needs it: log in, get a realtime ticket, load a sprint.

Async, on httpx. Lists are paginated (``{count, next, previous, results}``); this
client follows ``next`` until the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

__all__ = ["ApiClient", "ApiError", "Snapshot", "Ticket", "override_realtime"]


class ApiError(Exception):
    """The API answered with an error status (``status``) or something unexpected."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Ticket:
    """``POST /api/sprints/<id>/realtime/``: where to connect and with what token."""

    url: str
    token: str
    expires: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A sprint and its tasks as REST showed them; ``seq`` is the sprint's event seq then."""

    sprint: dict[str, Any]
    tasks: list[dict[str, Any]]

    @property
    def seq(self) -> int:
        value = self.sprint.get("seq")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


def override_realtime(url: str, base: str | None) -> str:
    """The ticket's websocket ``url`` with scheme and host taken from ``base`` (if given)."""
    if not base:
        return url
    ticket, override = urlsplit(url), urlsplit(base)
    return urlunsplit(ticket._replace(scheme=override.scheme, netloc=override.netloc))


class ApiClient:
    """REST client for one API base URL (default ``http://127.0.0.1:8000``).

    Pass ``token`` if you have one, or call `login`. ``transport`` is handed to httpx
    (tests can use ``httpx.MockTransport``).
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, token: str | None = None,
                 timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                       transport=transport)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def login(self, username: str, password: str) -> str:
        """``POST /api/token/``; remembers and returns the API token."""
        body = await self._request("POST", "/api/token/",
                                   json={"username": username, "password": password})
        token = body.get("token")
        if not isinstance(token, str):
            raise ApiError(None, "login answer has no token")
        self.token = token
        return token

    async def ticket(self, sprint: int) -> Ticket:
        """A realtime ticket for ``sprint`` (needs a token)."""
        body = await self._request("POST", f"/api/sprints/{sprint}/realtime/")
        try:
            return Ticket(url=body["url"], token=body["token"], expires=body.get("expires"))
        except KeyError as exc:
            raise ApiError(None, f"ticket answer lacks {exc}") from None

    async def sprint(self, sprint: int) -> dict[str, Any]:
        return await self._request("GET", f"/api/sprints/{sprint}/")

    async def tasks(self, sprint: int) -> list[dict[str, Any]]:
        """Every task of ``sprint``, following the pagination's ``next`` links."""
        tasks: list[dict[str, Any]] = []
        url: str | None = "/api/tasks/"
        params: dict[str, Any] | None = {"sprint": sprint}
        while url:
            page = await self._request("GET", url, params=params)
            tasks.extend(page.get("results", []))
            url, params = page.get("next"), None  # ``next`` carries the query already
        return tasks

    async def snapshot(self, sprint: int) -> Snapshot:
        """The sprint first (its ``seq``), then its tasks: the order protocol §6 asks for."""
        return Snapshot(sprint=await self.sprint(sprint), tasks=await self.tasks(sprint))

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        try:
            resp = await self._http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(None, f"{method} {url}: {exc}") from exc
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, f"{method} {url}: HTTP {resp.status_code} "
                                             f"{resp.text[:200]}")
        try:
            body = resp.json()
        except ValueError:
            raise ApiError(resp.status_code, f"{method} {url}: not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(resp.status_code, f"{method} {url}: not a JSON object")
        return body
