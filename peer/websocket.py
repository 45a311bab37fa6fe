"""The websocket to the realtime server: connect with a ticket, send and receive frames, reconnect.

Reconnects with exponential backoff and full jitter (`signaling.backoff`); a handshake the
node sheds with HTTP 503 (storm control) waits at least its ``Retry-After``. The
connect function is injectable so tests can drive faults deterministically; the
default is ``websockets``' asyncio client. This module knows frames only as JSON
objects: what they mean is the client's business (`peer.client`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from signaling.backoff import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    backoff_delay,
    parse_retry_after,
    retry_after_delay,
)
from signaling.protocol import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Close, encode

__all__ = [
    "ConnectFunction",
    "SignalingConnection",
    "SignalingError",
    "State",
    "Transport",
    "with_token",
]

logger = logging.getLogger(__name__)

#: Close codes after which reconnecting with the same ticket cannot help.
AUTH_CLOSES = frozenset({Close.UNAUTHORIZED, Close.FORBIDDEN})
FATAL_CLOSES = frozenset({Close.MESSAGE_TOO_BIG, Close.PROTOCOL_VERSION})


def with_token(url: str, token: str | None) -> str:
    """``url`` with ``?token=…`` set (replacing any token already there; without ``token``
    the URL's own is kept) and the protocol version this client speaks (``protocol=2``,
    docs/protocol.md §2)."""
    parts = urlsplit(url)
    query = [q for q in parts.query.split("&")
             if q and not (token and q.startswith("token=")) and not q.startswith("protocol=")]
    if token:
        query.append(urlencode({"token": token}))
    query.append(f"protocol={PROTOCOL_VERSION}")
    return urlunsplit(parts._replace(query="&".join(query)))


class Transport(Protocol):
    """What this module needs of a websocket (``websockets``' ClientConnection has it)."""

    @property
    def close_code(self) -> int | None: ...

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


ConnectFunction = Callable[[str], Awaitable[Transport]]
FrameHandler = Callable[[dict[str, Any]], Awaitable[None]]
Renewer = Callable[[], Awaitable[tuple[str, str]]]


async def default_connect(url: str) -> Transport:
    """Open a websocket with ``websockets`` (no Origin header, frames up to 64 KiB)."""
    return await ws_connect(url, max_size=MAX_MESSAGE_BYTES, open_timeout=10)


class State(StrEnum):
    """Where the connection is. Changed only through `SignalingConnection._set_state`."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"  # for good: close() was called or the server refused us


class SignalingError(Exception):
    """The server refused the connection in a way reconnecting cannot fix."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code


class SignalingConnection:
    """One logical connection to a sprint that survives websocket drops.

    ``on_frame`` gets every JSON object the server sends, in order. ``on_state`` gets
    (old, new) on every state change. ``renew``, if given, fetches a fresh (url, token)
    when the server rejects the ticket (4001/4003), e.g. after it expired during a long
    outage; without it such a close is final. Backoff: ``base`` 0.5 s, ``cap`` 30 s; the
    attempt counter resets once a connection stayed up ``stable_after`` seconds (10).
    """

    def __init__(self, url: str, token: str | None, on_frame: FrameHandler, *,
                 on_state: Callable[[State, State], None] | None = None,
                 connect: ConnectFunction | None = None, renew: Renewer | None = None,
                 base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP,
                 stable_after: float = 10.0, random: Callable[[], float] | None = None
                 ) -> None:
        self.url = url
        self.token = token
        self.base, self.cap, self.stable_after = base, cap, stable_after
        self._on_frame = on_frame
        self._on_state = on_state
        self._connect = connect or default_connect
        self._renew = renew
        self._random = random
        self._state = State.DISCONNECTED
        self._ws: Transport | None = None
        self._should_connect = True  # what the application wants, apart from the state
        self._wakeup = asyncio.Event()
        self._stable = False  # the last websocket stayed up at least stable_after seconds
        self.connects = 0  # successful handshakes so far (1 = never reconnected)
        #: Seconds the server's last 503 asked us to wait (``Retry-After``), until used.
        self._retry_after: float | None = None
        self.shed = 0  # handshakes the server answered 503 (storm control)

    @property
    def state(self) -> State:
        return self._state

    def _set_state(self, new: State) -> None:
        old, self._state = self._state, new
        if old != new:
            logger.debug("signaling %s: %s -> %s", self.url, old, new)
            if self._on_state is not None:
                self._on_state(old, new)

    async def send(self, frame: dict[str, Any]) -> bool:
        """Send one frame now; False (frame dropped) while not connected."""
        ws = self._ws
        if ws is None or self._state is not State.CONNECTED:
            return False
        try:
            await ws.send(encode(frame))
        except (ConnectionClosed, OSError):
            return False
        return True

    async def close(self) -> None:
        """Stop for good: close the websocket with 1000 and make `run` return."""
        self._should_connect = False
        self._wakeup.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close(Close.NORMAL, "bye")
        self._set_state(State.CLOSED)

    async def run(self) -> None:
        """Connect and keep connecting until `close`; raises `SignalingError` if refused."""
        loop = asyncio.get_running_loop()
        attempt = 0
        try:
            while self._should_connect:
                self._set_state(State.CONNECTING)
                code = await self._session(loop)
                if not self._should_connect:
                    break
                if code in FATAL_CLOSES:
                    raise SignalingError(code, f"server closed the connection with {code}")
                if code in AUTH_CLOSES:
                    if self._renew is None:
                        raise SignalingError(code, f"ticket refused ({code})")
                    self.url, self.token = await self._renew()
                if code == -1:
                    pass  # never connected: keep counting attempts
                elif self._stable:
                    attempt = 0
                self._set_state(State.DISCONNECTED)
                delay = self._delay(attempt)
                attempt += 1
                logger.info("signaling %s: reconnecting in %.2f s (attempt %d)", self.url,
                            delay, attempt)
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)
        finally:
            self._set_state(State.CLOSED)

    def _delay(self, attempt: int) -> float:
        """The wait before the next attempt: the backoff, or at least what a 503 asked for."""
        asked, self._retry_after = self._retry_after, None
        if asked is not None:
            return retry_after_delay(asked, attempt, base=self.base, cap=self.cap,
                                     random=self._random)
        return backoff_delay(attempt, base=self.base, cap=self.cap, random=self._random)

    async def _session(self, loop: asyncio.AbstractEventLoop) -> int | None:
        """One websocket from handshake to close. Returns the close code (-1: no handshake)."""
        self._stable = False
        try:
            ws = await self._connect(with_token(self.url, self.token))
        except InvalidStatus as exc:
            status = exc.response.status_code
            logger.log(logging.INFO if status == 503 else logging.WARNING,
                       "signaling %s: handshake refused with HTTP %d", self.url, status)
            if status in (401, 403):
                raise SignalingError(None, f"handshake refused with HTTP {status}") from exc
            if status == 503:  # storm control: wait at least as long as the node asks
                self.shed += 1
                self._retry_after = parse_retry_after(
                    exc.response.headers.get("Retry-After"))
            return -1
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            logger.info("signaling %s: cannot connect: %s", self.url, exc)
            return -1
        opened = loop.time()
        self._ws = ws
        self.connects += 1
        self._set_state(State.CONNECTED)
        try:
            while True:
                message = await ws.recv()
                if isinstance(message, bytes):
                    continue
                try:
                    frame = json.loads(message)
                except ValueError:
                    logger.warning("signaling %s: ignoring non-JSON frame", self.url)
                    continue
                if isinstance(frame, dict):
                    try:
                        await self._on_frame(frame)
                    except Exception:  # one bad frame or handler bug must not drop the link
                        logger.exception("signaling %s: handler failed on %s frame", self.url,
                                         frame.get("type"))
        except (ConnectionClosed, OSError):
            pass
        finally:
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()
            self._stable = loop.time() - opened >= self.stable_after
        code = ws.close_code
        logger.info("signaling %s: connection closed (%s)", self.url, code)
        return code
