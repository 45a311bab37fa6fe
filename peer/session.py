"""What every ``python -m peer`` command shares: a `Session` that logs in once and makes
connected peers of the sprint from the command line's arguments, and the time `stamp`
each printed line starts with."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

from peer.api import ApiClient
from peer.client import Peer, join

__all__ = ["Session", "stamp"]


@dataclass
class Session:
    """What every command needs: a way to make connected peers of the sprint."""

    args: argparse.Namespace
    api: ApiClient | None = None

    async def client(self) -> ApiClient:
        """The REST client, logged in (once) with --token or --username/--password."""
        if self.api is None:
            self.api = ApiClient(self.args.api, token=self.args.token)
            if not self.args.token:
                await self.api.login(self.args.username, self.args.password)
        return self.api

    async def peer(self) -> Peer:
        options: dict[str, Any] = {"webrtc": not self.args.no_webrtc,
                                   "mesh_limit": self.args.mesh_limit}
        if self.args.ticket:
            base = self.args.realtime or "ws://127.0.0.1:8080"
            url = f"{base.rstrip('/')}/{self.args.sprint}/"
            return await Peer.connect(url, self.args.ticket, **options)
        return await join(await self.client(), self.args.sprint, realtime=self.args.realtime,
                          **options)

    async def aclose(self) -> None:
        if self.api is not None:
            await self.api.aclose()


def stamp() -> str:
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
