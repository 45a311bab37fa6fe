"""ASGI entry point for daphne: ``daphne bench.peers.channels_app.asgi:application``."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peers.channels_app.settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from bench.peers.channels_app.consumers import (  # noqa: E402
    EventsConsumer,
    HealthConsumer,
    SprintConsumer,
)

application = ProtocolTypeRouter({
    "http": URLRouter([
        path("healthz", HealthConsumer.as_asgi()),
        re_path(r"^events/?$", EventsConsumer.as_asgi()),
    ]),
    "websocket": URLRouter([
        re_path(r"^(?P<sprint>[0-9]+)/?$", SprintConsumer.as_asgi()),
    ]),
})
