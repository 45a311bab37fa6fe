"""Every setting of the realtime server in one frozen dataclass, with its default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from signaling.protocol import MAX_PEERS_PAGE, VISIBLE_PEERS
from signaling.turn import DEFAULT_TTL, turn_ice_servers

#: Used when neither --secret nor REALTIME_SECRET is given; the server warns loudly.
DEV_SECRET = "dev-realtime-secret-change-me"
DEFAULT_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of one realtime server. Built from the command line by ``signaling.server``."""

    port: int = 8080
    address: str = "127.0.0.1"
    #: Seed walkthrough mode: anonymous connections, any Origin, raw text forwarded.
    debug: bool = False
    #: Shared with Django: verifies tickets (JWT HS256) and ``POST /events/`` (HMAC).
    secret: str = DEV_SECRET
    #: The secret being rotated out: tickets and events signed with it are still accepted.
    previous_secret: str | None = field(default=None, repr=False)
    allowed_origins: tuple[str, ...] = DEFAULT_ORIGINS
    #: ICE server URLs, offered in ``welcome.ice_servers`` as one ``{"urls": [...]}``.
    ice_servers: tuple[str, ...] = ()
    #: TURN URLs (coturn) offered with a per-user credential derived from ``turn_secret``.
    turn_urls: tuple[str, ...] = ()
    #: coturn's ``static-auth-secret``; without it no TURN server is offered.
    turn_secret: str | None = field(default=None, repr=False)
    #: Seconds a TURN credential is valid for.
    turn_ttl: float = DEFAULT_TTL
    broker: str = "memory://"
    #: Redis broker: the start of every key and channel (clusters sharing a Redis differ).
    redis_prefix: str = "watercooler:"
    #: Redis broker: seconds a node that stopped heart-beating keeps its peers listed.
    presence_ttl: float = 15.0
    #: Events kept per sprint for ``resume`` (count and age limits).
    history_size: int = 1000
    history_age: float = 3600.0
    #: Sprints whose history is kept at once (least recently used forgotten first).
    history_sprints: int = 10_000
    #: Relay frames per second per connection (also the burst).
    relay_rate: float = 60.0
    #: Signal frames per second per connection; the burst is twice this.
    signal_rate: float = 60.0
    #: All frames: a connection sustaining this multiple of relay_rate is closed (4008).
    flood_factor: float = 10.0
    #: Drag moves held for coalescing per connection (distinct tasks).
    coalesce_tasks: int = 64
    max_message_size: int = 64 * 1024
    #: ``POST /events/`` timestamps must be within this many seconds of the clock.
    replay_window: float = 300.0
    #: ``POST /events/`` nonces remembered by the memory broker (oldest forgotten first).
    replay_cache_size: int = 100_000
    max_event_body: int = 1024 * 1024
    max_events: int = 500
    ping_interval: float = 20.0
    #: Seconds between the comment lines that keep an idle SSE stream (and its proxies) open.
    sse_heartbeat: float = 15.0
    #: Unsent bytes to one client before it is closed with 4009.
    max_buffer: int = 1024 * 1024
    #: Open websockets per client address (IPv6: per /64) and per user on this node; one
    #: more is closed with 4029. 0: no limit.
    max_connections_per_address: int = 200
    max_connections_per_user: int = 50
    #: Reverse proxies in front of the node that append to X-Forwarded-For (nginx: 1); the
    #: client address is read from that header only when this is above 0.
    num_proxies: int = 0
    #: Storm control (``signaling.join_gate``): joins in progress on this node (handshake
    #: until welcome); one more handshake is answered 503 + ``Retry-After``. 0: no limit.
    max_pending_joins: int = 1000
    #: Of those, how many run their broker registration and welcome at once (0: all).
    join_concurrency: int = 64
    #: The shortest ``Retry-After`` (seconds) of a shed handshake; each is told a value
    #: drawn from [this, twice this].
    join_retry_after: float = 2.0
    #: Seconds an HTTP connection may take to send its request's headers (and, separately,
    #: its body); also how long an idle keep-alive connection is kept.
    http_timeout: float = 10.0
    #: Seconds to wait for sockets to close on shutdown.
    shutdown_grace: float = 2.0
    #: ``text`` (one line per record) or ``json`` (one JSON object per line, with
    #: ``sprint`` and ``peer`` fields on a connection's records).
    log_format: str = "text"
    #: ``uvloop`` (libuv's loop: faster accepts, reads and timers) or ``asyncio`` (the
    #: standard library's); uvloop falls back to asyncio, with a warning, where it is not
    #: installed.
    event_loop: str = "uvloop"

    @property
    def ice_server_list(self) -> list[dict[str, list[str]]]:
        """``welcome.ice_servers``: one RTCIceServer holding every configured URL."""
        return [{"urls": list(self.ice_servers)}] if self.ice_servers else []

    def ice_servers_for(self, user_id: int | str | None) -> list[dict[str, Any]]:
        """``welcome.ice_servers`` for one connection: STUN/TURN URLs, then TURN with a
        fresh time-limited credential (``signaling.turn``)."""
        return [*self.ice_server_list,
                *turn_ice_servers(self.turn_urls, self.turn_secret, user_id, ttl=self.turn_ttl)]

    @property
    def limits(self) -> dict[str, int | float]:
        """``welcome.limits``: what a client should stay under."""
        rate = self.relay_rate
        return {"relay_per_second": int(rate) if float(rate).is_integer() else rate,
                "max_message_bytes": self.max_message_size,
                "visible_peers": VISIBLE_PEERS, "peers_page": MAX_PEERS_PAGE}

    @property
    def signal_burst(self) -> float:
        return 2 * self.signal_rate

    @property
    def flood_rate(self) -> float:
        return self.flood_factor * self.relay_rate
