"""A lean asyncio websocket client and HTTP/1.1 client for the load generator.

Thousands of idle or busy connections per process: the client must cost far less per frame
than the server it measures, so it parses frames with a few slices, never decodes JSON on
the hot path (``seq_of`` finds the sequence number), and masks outgoing frames with one
integer XOR. Text/binary/close/ping/pong only, no extensions offered (so none negotiated).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import struct
from collections.abc import Callable
from typing import Any

__all__ = ["HandshakeRefused", "HttpClient", "WsClient", "masked_frame", "seq_of"]

OnMessage = Callable[["WsClient", bytes], None]


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client-to-server frame (RFC 6455 §5.3: clients mask)."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size <= 0xFFFF:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    key = os.urandom(4)
    repeated = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        size, "big") if size else b""
    return head + key + masked


_SEQ = re.compile(rb'"seq":(\d+)')


def seq_of(payload: bytes) -> int:
    """The first ``"seq":N`` of a compact JSON frame, or -1 (no JSON decoding)."""
    found = _SEQ.search(payload)
    return int(found.group(1)) if found else -1


class HandshakeRefused(ConnectionError):
    """The server answered the upgrade with another status (503 with ``Retry-After``: the
    node's storm control)."""

    def __init__(self, status: int, retry_after: float | None, line: str) -> None:
        super().__init__(line)
        self.status = status
        self.retry_after = retry_after


def _refusal(head: bytes) -> HandshakeRefused:
    lines = head.split(b"\r\n")
    line = lines[0].decode(errors="replace")
    parts = line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    retry_after = None
    for field in lines[1:]:
        name, _, value = field.partition(b":")
        if name.strip().lower() == b"retry-after" and value.strip().isdigit():
            retry_after = float(value.strip())
    return HandshakeRefused(status, retry_after, line)


class WsClient(asyncio.Protocol):
    """One websocket connection; ``on_message(client, payload)`` for each data frame."""

    def __init__(self, on_message: OnMessage | None = None) -> None:
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.frames = 0
        self.tag: Any = None  # the load generator's own per-connection state
        self._buf = bytearray()
        self._upgraded = False

    @classmethod
    async def connect(cls, host: str, port: int, path: str,
                      on_message: OnMessage | None = None, timeout: float = 30.0,
                      local_host: str | None = None) -> WsClient:
        """Open and upgrade; ``HandshakeRefused`` if the server answers otherwise.
        ``local_host`` binds the source address (127.x.y.z: more ephemeral ports)."""
        loop = asyncio.get_running_loop()
        client = cls(on_message)
        await asyncio.wait_for(loop.create_connection(
            lambda: client, host, port,
            local_addr=(local_host, 0) if local_host else None), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        assert client.transport is not None
        client.transport.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        await asyncio.wait_for(asyncio.shield(client.opened), timeout)
        return client

    # asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before upgrade: {exc}"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def data_received(self, data: bytes) -> None:
        # One function on purpose: it runs once per frame on thousands of sockets, and the
        # load generator must stay cheaper per frame than the servers it measures.
        buf = self._buf
        if not buf and self._upgraded and len(data) >= 2:
            # Fast path: exactly one whole short or 16-bit-length frame, the usual case.
            n = data[1] & 0x7F
            head = 4 if n == 126 else 2
            if n == 126:
                n = (data[2] << 8) | data[3] if len(data) >= 4 else -1
            if n >= 0 and n != 127 and len(data) == head + n:
                self._frame(data[0] & 0x0F, data[head:])
                return
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            status = head.split(b"\r\n", 1)[0]
            del buf[:end + 4]
            if b" 101 " not in status + b" ":
                self.opened.set_exception(_refusal(head))
                self.transport.close()  # type: ignore[union-attr]
                return
            self._upgraded = True
            self.opened.set_result(None)
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0 = buf[pos]
            n = buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                head = 10
            if size - pos < head + n:
                break
            payload = bytes(buf[pos + head:pos + head + n])
            pos += head + n
            self._frame(b0 & 0x0F, payload)
        if pos:
            del buf[:pos]

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode in (0x1, 0x2, 0x0):
            self.frames += 1
            if self.on_message is not None:
                self.on_message(self, payload)
        elif opcode == 0x9:
            self.send(payload, 0xA)
        elif opcode == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(masked_frame(payload[:2], 0x8))
                self.transport.close()

    # sending --------------------------------------------------------------------------
    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked_frame(payload, opcode))

    async def close(self, timeout: float = 5.0) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(masked_frame(struct.pack("!H", 1000), 0x8))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            self.transport.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class HttpClient:
    """A keep-alive HTTP/1.1 client for one host (reconnects when the server closes)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            try:
                return await self._exchange(method, path, body, headers or {})
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, method: str, path: str, body: bytes,
                        headers: dict[str, str]) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        fields = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        data = await self._reader.readexactly(length) if length else b""
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._reader = None
