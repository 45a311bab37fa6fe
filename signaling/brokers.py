"""Choosing a broker from a ``--broker`` URL: the memory broker, one Redis or a Redis Cluster."""

from __future__ import annotations

from signaling.broker import Broker, BrokerError, Deliver
from signaling.history import History
from signaling.memory_broker import MemoryBroker
from signaling.metrics import Metrics

__all__ = ["create_broker"]


def create_broker(url: str, deliver: Deliver, history: History, *,
                  prefix: str = "watercooler:", presence_ttl: float = 15.0,
                  metrics: Metrics | None = None, replay_cache_size: int = 100_000) -> Broker:
    """The broker a ``--broker`` URL names: ``memory://`` (default), one Redis
    (``redis[s]://[[user]:password@]host[:port][/db]``) or a Redis Cluster
    (``redis[s]+cluster://[[user]:password@]host[:port][,host[:port]...]``).

    ``prefix`` starts every Redis key and channel; ``presence_ttl`` is how long a node
    that stopped heart-beating keeps its peers listed (Redis only); ``replay_cache_size``
    bounds the memory broker's replay memory (Redis keeps every nonce for its TTL).
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return MemoryBroker(deliver, history, replay_cache_size=replay_cache_size)
    if scheme in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        try:  # redis-py is needed only by the nodes of a cluster
            from signaling.redis_broker import RedisBroker, redact
        except ImportError as exc:
            raise BrokerError(f"--broker {scheme}://: needs redis-py ({exc}); "
                              "pip install -r requirements.txt") from None
        try:
            return RedisBroker(url, deliver, history, prefix=prefix,
                               presence_ttl=presence_ttl, metrics=metrics)
        except ValueError as exc:
            raise BrokerError(f"--broker {redact(url)}: {exc}") from None
    raise BrokerError(f"--broker {url}: unknown scheme {scheme!r}; expected memory://, "
                      "redis[s]:// or redis[s]+cluster://")
