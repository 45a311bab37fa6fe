"""Deploy checks (`manage.py check --deploy`): refuse to look production-ready on dev secrets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

DEV_REALTIME_SECRET = "dev-realtime-secret-change-me"


@register(Tags.security, deploy=True)
def realtime_secret_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when REALTIME_SECRET is the development default or shorter than 32 bytes."""
    secret = settings.REALTIME_SECRET
    if secret == DEV_REALTIME_SECRET or len(secret.encode()) < 32:
        return [Warning("REALTIME_SECRET is the development default or under 32 bytes.",
                        hint="Set REALTIME_SECRET to a long random value shared with the "
                        "realtime server.", id="realtime.W001")]
    return []
