"""Who may open one more websocket on this node: connections per client address and per user.

A ticket is reusable until it expires and an address can open sockets as fast as it likes,
so without a cap one client could hold every descriptor of a node. ``ConnectionSlots``
counts the open connections of each address and each user and refuses one over its cap;
a connection gives its slots back the moment it closes, so reconnecting never locks a user
out. The address is the socket's peer, or, when the node is told how many reverse proxies
stand in front of it (``--num-proxies``, like Django's ``API_NUM_PROXIES``), the one those
proxies recorded in ``X-Forwarded-For``; a client's own header is never trusted beyond that.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum

__all__ = ["ConnectionSlots", "Refusal", "address_key", "client_address"]

#: IPv6 clients are counted per /64: one subscriber usually holds a whole /64, so counting
#: single addresses would let one client take as many slots as it picks addresses.
_IPV6_PREFIX = 64


class Refusal(StrEnum):
    """Why a connection was refused (``watercooler_dropped_total{reason}``)."""

    ADDRESS = "connections_per_address"
    USER = "connections_per_user"


def client_address(remote_ip: str, forwarded_for: str | None, real_ip: str | None,
                   num_proxies: int) -> str:
    """The client's address: ``remote_ip`` unless ``num_proxies`` proxies stand in front.

    With ``n`` proxies each appending the address it saw to ``X-Forwarded-For``, the client
    is the ``n``-th entry from the right (entries further left came from the client and are
    not trusted), as Django REST framework's ``NUM_PROXIES``. Without that header, a
    proxy's ``X-Real-IP`` is used. Anything that is not an IP address falls back to the
    socket's peer.
    """
    if num_proxies <= 0:
        return remote_ip
    candidate = None
    if forwarded_for:
        entries = [e.strip() for e in forwarded_for.split(",")]
        candidate = entries[-min(num_proxies, len(entries))]
    elif real_ip:
        candidate = real_ip.strip()
    if candidate:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return remote_ip


def address_key(address: str) -> str:
    """What ``address`` is counted under: itself, or its /64 network for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{_IPV6_PREFIX}", strict=False))
    return str(ip)


class ConnectionSlots:
    """Open connections per address and per user, each capped (0: no cap).

    Only connections that hold slots are counted, and every count that reaches zero is
    removed: the maps never hold more keys than the node has connections.
    """

    def __init__(self, *, per_address: int, per_user: int) -> None:
        self.per_address = per_address
        self.per_user = per_user
        self._addresses: dict[str, int] = {}
        self._users: dict[str, int] = {}

    def acquire(self, address: str, user: str | None) -> Refusal | None:
        """Take a slot of ``address`` and of ``user`` (None: anonymous, counted by address
        only); the reason instead if either is full, and then nothing is taken."""
        addr = address_key(address)
        if self.per_address and self._addresses.get(addr, 0) >= self.per_address:
            return Refusal.ADDRESS
        if user is not None and self.per_user and self._users.get(user, 0) >= self.per_user:
            return Refusal.USER
        self._addresses[addr] = self._addresses.get(addr, 0) + 1
        if user is not None:
            self._users[user] = self._users.get(user, 0) + 1
        return None

    def release(self, address: str, user: str | None) -> None:
        """Give back the slots ``acquire`` took for the same arguments."""
        _decrement(self._addresses, address_key(address))
        if user is not None:
            _decrement(self._users, user)


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
