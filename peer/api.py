"""The Django REST API as the peer needs it: log in, get a realtime ticket, load a sprint,
read its event log, move a task.

Async, on httpx. Lists are paginated (``{count, next, previous, results}``); this
client follows ``next`` until the end. Writes may name the version they were made on
(``If-Match``); a stale one raises `Conflict`, which carries the task as it is now.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpx

__all__ = ["KEEP", "ApiClient", "ApiError", "Conflict", "Keep", "LogGone", "Snapshot",
           "Ticket", "override_realtime"]


class Keep(enum.Enum):
    """The type of `KEEP`: a move argument left out (``None`` means something: the
    backlog for ``sprint``, the top for ``after``)."""

    KEEP = "keep"


#: Leave this part of a task as it is (a `ApiClient.move` argument not sent).
KEEP: Final = Keep.KEEP


class ApiError(Exception):
    """The API answered with an error status (``status``) or something unexpected.

    ``code`` is the API's machine code (``invalid``, ``not_found``, ``conflict``…) and
    ``fields`` its field errors (a 400 names the fields it refused), when the body had them.
    """

    def __init__(self, status: int | None, message: str, *, code: str | None = None,
                 fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.fields = fields or {}


class Conflict(ApiError):
    """412: the task (or sprint) changed since the version the write named; nothing was
    written. ``current`` is its representation now, the one to retry from."""

    def __init__(self, message: str, current: dict[str, Any]) -> None:
        super().__init__(412, message, code="conflict")
        self.current = current


class LogGone(ApiError):
    """410: the event log no longer holds every event after the ``since`` asked for
    (pruned, or the sprint's stream was renumbered): reload the sprint instead.
    ``oldest`` is the oldest seq it holds (None: none), ``latest`` the sprint's latest."""

    def __init__(self, message: str, *, oldest: int | None, latest: int | None) -> None:
        super().__init__(410, message, code="gone")
        self.oldest = oldest
        self.latest = latest


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

    async def event_log(self, sprint: int, since: int | None = None, *,
                        page_size: int = 100) -> AsyncIterator[dict[str, Any]]:
        """The sprint's events with seq > ``since`` (None: from the oldest kept), in order,
        page after page to the latest: each is the websocket ``event`` frame plus ``at``.

        Raises `LogGone` when the log no longer reaches back to ``since + 1``.
        """
        url: str | None = f"/api/sprints/{sprint}/events/"
        params: dict[str, Any] | None = {"page_size": page_size}
        if since is not None:
            params = {**(params or {}), "since": since}
        while url:
            page = await self._request("GET", url, params=params)
            for event in page.get("results", []):
                yield event
            url, params = page.get("next"), None  # ``next`` carries the query already

    async def task(self, task: int) -> dict[str, Any]:
        return await self._request("GET", f"/api/tasks/{task}/")

    async def move(self, task: int | Mapping[str, Any], *, status: str | Keep = KEEP,
                   sprint: int | Keep | None = KEEP, after: int | Keep | None = KEEP,
                   if_match: int | None = None) -> dict[str, Any]:
        """``POST /api/tasks/<id>/move/``: the task lands directly below task ``after`` of
        column ``status`` of ``sprint`` and the server answers with it (its new ``rank``,
        ``version`` and dates). ``sprint=None`` is the backlog, ``after=None`` the top;
        `KEEP` (the default) leaves that part as it is (``after`` kept: the same place if
        the column is unchanged, else the bottom). ``task`` is an id or a task dict.

        ``if_match``: the version this move was decided on; if the task has changed since,
        nothing moves and `Conflict` is raised with the task as it is now. Without it the
        move applies to whatever the task is by then. A refused move (a bad ``after``, a
        move the date rules forbid) raises `ApiError` 400 whose ``fields`` name the field.
        """
        task_id = int(task["id"]) if isinstance(task, Mapping) else task
        body: dict[str, Any] = {}
        for key, value in (("status", status), ("sprint", sprint), ("after", after)):
            if value is not KEEP:
                body[key] = value
        headers = {} if if_match is None else {"If-Match": f'"{if_match}"'}
        return await self._request("POST", f"/api/tasks/{task_id}/move/", json=body,
                                   headers=headers)

    async def _request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                       **kwargs: Any) -> dict[str, Any]:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            resp = await self._http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(None, f"{method} {url}: {exc}") from exc
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            raise _error(method, url, resp, body)
        if not isinstance(body, dict):
            raise ApiError(resp.status_code, f"{method} {url}: not a JSON object")
        return body


def _error(method: str, url: str, resp: httpx.Response, body: Any) -> ApiError:
    """The API's error body (``{error, message, fields?, current?}``) as an exception."""
    status = resp.status_code
    if not isinstance(body, dict):
        return ApiError(status, f"{method} {url}: HTTP {status} {resp.text[:200]}")
    message = body.get("message") or body.get("detail") or resp.text[:200]
    text = f"{method} {url}: HTTP {status} {message}"
    if status == 412 and isinstance(body.get("current"), dict):
        return Conflict(text, body["current"])
    if status == 410 and body.get("error") == "gone":
        return LogGone(text, oldest=_int_or_none(body.get("oldest")),
                       latest=_int_or_none(body.get("latest")))
    fields = body.get("fields")
    if not isinstance(fields, dict):  # DRF's plain shape: {field: [messages]}
        fields = {k: v for k, v in body.items() if isinstance(v, list)}
    return ApiError(status, text, code=body.get("error") if isinstance(body.get("error"), str)
                    else None,
                    fields={str(k): [str(m) for m in v] if isinstance(v, list) else [str(v)]
                            for k, v in fields.items()})


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
