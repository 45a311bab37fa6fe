"""Settings of the Channels comparison app: no database, one channel layer from the env.

``CHANNELS_LAYER=memory://`` (default) is ``InMemoryChannelLayer`` (one node);
``redis://host:port/db`` is channels_redis' ``RedisChannelLayer`` (several nodes).
Both keep the library's default capacity and expiry: that is what a team gets.
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
BENCH_SECRET = os.environ.get("BENCH_SECRET", "bench-realtime-secret-not-for-production")

_layer = os.environ.get("CHANNELS_LAYER", "memory://")
if _layer.startswith("redis://"):
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                  "CONFIG": {"hosts": [_layer]}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
